// A stand-in for the Lambda Node.js runtime (aws-lambda-nodejs-runtime-interface-client),
// started with the function's task root as cwd. Like the real one it loads
// $_HANDLER from $LAMBDA_TASK_ROOT before its first request, then loops on the
// Runtime API at $AWS_LAMBDA_RUNTIME_API: GET the next event, call the handler
// with it and a context, POST the result or the error back.
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
// Plain JavaScript, as the real runtime is: it runs under the Node 22 binary
// for the zip's CPU (maybe emulated), without tsx.
/* global fetch */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const API = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
// The parent reads the architecture and Node version the function really ran on from here.
const USER_AGENT = `aws-lambda-nodejs/${process.version} (${process.platform}; ${process.arch})`;

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = `Runtime.${type}`;
  }
}

/**
 * "module.path.to.fn", resolved as UserFunction.js does. Only the .mjs file is
 * tried: the zip's bundle is index.mjs, and the real runtime would import it
 * (the .js and .cjs it tries first do not exist).
 */
async function loadHandler(taskRoot, handlerString) {
  const match = /^([^.]*)\.(.*)$/.exec(handlerString ?? "");
  if (match === null) throw new RuntimeError("MalformedHandlerName", "Bad handler");
  const [, moduleName, path] = match;
  const file = join(taskRoot, `${moduleName}.mjs`);
  if (!existsSync(file)) throw new RuntimeError("ImportModuleError", `Error: Cannot find module '${moduleName}'`);
  const userApp = await import(pathToFileURL(file).href);
  const handler = path.split(".").reduce((nested, key) => nested?.[key], userApp);
  if (!handler) throw new RuntimeError("HandlerNotFound", `${handlerString} is undefined or not exported`);
  if (typeof handler !== "function") throw new RuntimeError("HandlerNotFound", `${handlerString} is not a function`);
  return handler;
}

function errorBody(e) {
  return { errorType: e?.name ?? "Error", errorMessage: e?.message ?? String(e), trace: String(e?.stack ?? "").split("\n") };
}

async function post(path, body) {
  const res = await fetch(`${API}${path}`, { method: "POST", headers: { "Content-Type": "application/json", "User-Agent": USER_AGENT }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
}

/** The context the real runtime builds (InvokeContext.js), from its environment and the invocation's headers. */
function contextOf(headers) {
  const deadline = Number(headers.get("lambda-runtime-deadline-ms"));
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: headers.get("lambda-runtime-invoked-function-arn"),
    awsRequestId: headers.get("lambda-runtime-aws-request-id"),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

let handler;
try {
  handler = await loadHandler(process.env.LAMBDA_TASK_ROOT, process.env._HANDLER);
} catch (e) {
  console.error(e);
  await post("/init/error", errorBody(e));
  process.exit(1);
}

for (;;) {
  const next = await fetch(`${API}/invocation/next`, { headers: { "User-Agent": USER_AGENT } });
  const event = await next.json();
  const context = contextOf(next.headers);
  const trace = next.headers.get("lambda-runtime-trace-id");
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  try {
    const result = await handler(event, context);
    await post(`/invocation/${context.awsRequestId}/response`, result);
  } catch (e) {
    console.error(e);
    await post(`/invocation/${context.awsRequestId}/error`, errorBody(e));
  }
}
