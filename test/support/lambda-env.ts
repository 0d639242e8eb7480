// The environment Lambda gives a Node.js 22 function: its "defined runtime
// environment variables", as they look in a real nodejs22.x environment.
// https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
// _HANDLER, LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR and AWS_LAMBDA_RUNTIME_API
// are added by lambda-runtime-api.ts, which knows them.
import { dirname } from "node:path";

export interface FunctionSpec {
  functionName: string;
  region: string;
  memoryMb: number;
  /** Where the runtime's node lives: PATH names it, as /var/lang/bin in Lambda. */
  nodeBinary: string;
  taskRoot: string;
  /** The execution role's credentials. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
}

export function lambdaEnvironment(spec: FunctionSpec): Record<string, string> {
  const { functionName, region, credentials } = spec;
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[$LATEST]0123456789abcdef0123456789abcdef`,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
    LANG: "en_US.UTF-8",
    TZ: ":UTC",
    PATH: `${dirname(spec.nodeBinary)}:/usr/local/bin:/usr/bin/:/bin:/opt/bin`,
    // Lambda's value also lists /lib64 and /usr/lib64, Amazon Linux's own
    // libraries; here they would be this machine's, which Lambda does not have.
    LD_LIBRARY_PATH: `${spec.taskRoot}:${spec.taskRoot}/lib:/opt/lib`,
    // No NODE_PATH (Lambda's reaches the copy of the AWS SDK in
    // /var/runtime/node_modules, for require() only): the zip carries all it imports.
  };
}
