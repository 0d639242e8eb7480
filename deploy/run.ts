// The deploy as a plan of steps in dependency order. Each step is one resource
// module's ensure; a run that stopped half-way is finished by the next one,
// because every ensure finds what exists before it creates anything.
import type { Config } from "../config/schema.ts";
import type { AuthMode } from "../function/routes.ts";
import type { AwsClients } from "./aws-clients.ts";
import type { Clock } from "./toolkit/propagation.ts";
import { contextFor, type DeployContext, type StepReport } from "./context.ts";
import { buildFunctionZip, type FunctionZip } from "./function-zip.ts";
import { ensureApiGatewayAccount } from "./resources/api-gateway-account.ts";
import { ensureBucketNotification } from "./resources/bucket-notification.ts";
import { ensureImagesBucket } from "./resources/images-bucket.ts";
import { ensureKmsKey } from "./resources/kms-key.ts";
import { ensureLambdaFunction } from "./resources/lambda-function.ts";
import { ensureLambdaPermission } from "./resources/lambda-permission.ts";
import type { PolicyDocument } from "./policies/document.ts";
import { ensureLambdaRole, ensureLambdaRolePolicy } from "./resources/lambda-role.ts";
import { ensureLogGroups } from "./resources/log-groups.ts";
import { clientPolicy, ensureRestApi } from "./resources/rest-api.ts";
import { ensureSigningSecret } from "./resources/signing-secret.ts";
import { ensureTrail } from "./resources/trail.ts";
import { ensureTrailBucket } from "./resources/trail-bucket.ts";
import { apiKeyValueCommand, ensureUsagePlan, removeUsagePlan } from "./resources/usage-plan.ts";

export interface DeployOptions {
  config: Config;
  clients: AwsClients;
  dryRun?: boolean;
  progress?: (message: string) => void;
  /** Called as each resource is done, for line-by-line output. */
  onStep?: (report: StepReport) => void;
  /** A prebuilt function zip (tests); by default the zip is built from function/. */
  zip?: FunctionZip;
  /** Replace the URL-signing secret: every signed URL handed out so far stops working. */
  rotateSigningSecret?: boolean;
  /** Time for propagation retries; tests pass one that does not wait. */
  clock?: Clock;
}

export interface DeployOutputs {
  endpointUrl: string;
  /** How private routes are guarded (config.auth). */
  auth: AuthMode;
  /** "apiKey" mode only: the key's id and the command that prints its value (never the value). */
  apiKeyId?: string;
  readApiKeyValue?: string;
  /** "iam" mode only: the least-privilege policy for callers (execute-api:Invoke on exactly the private routes). */
  clientPolicy?: PolicyDocument;
  imagesBucket: string;
  trailBucket: string;
  functionName: string;
  keyArn: string;
  trailName: string;
  region: string;
  stage: string;
}

export interface DeployResult {
  resources: StepReport[];
  outputs: DeployOutputs;
}

function report<T extends StepReport>(onStep: DeployOptions["onStep"], reports: StepReport[], result: T): T {
  const { resource, name, action, detail } = result;
  const plain: StepReport = { resource, name, action, ...(detail ? { detail } : {}) };
  reports.push(plain);
  onStep?.(plain);
  return result;
}

/**
 * In "iam" mode no method asks for an API key, and a usage plan meters only
 * requests that carry one: both would be dead weight (and a key that looks
 * like a credential), so they are removed. The stage's own throttle still
 * limits every caller.
 */
async function retireUsagePlan(ctx: DeployContext): Promise<StepReport> {
  const removed = await removeUsagePlan(ctx);
  return removed.action === "absent" ? removed : { ...removed, detail: `${removed.detail ?? ""} (not used with auth iam)`.trim() };
}

export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const ctx = await contextFor(options);
  const reports: StepReport[] = [];
  const done = <T extends StepReport>(r: T) => report(options.onStep, reports, r);

  // The role comes first: the key policy names it, and KMS refuses a policy
  // whose principal does not exist. Its permissions come after the key and
  // buckets they name.
  const role = done(await ensureLambdaRole(ctx)).outputs;
  const key = done(await ensureKmsKey(ctx, { roleArn: role.roleArn })).outputs;
  done(await ensureTrailBucket(ctx, { keyArn: key.keyArn }));
  const images = done(await ensureImagesBucket(ctx, { keyArn: key.keyArn })).outputs;
  const logs = done(await ensureLogGroups(ctx)).outputs;
  done(await ensureLambdaRolePolicy(ctx, { keyArn: key.keyArn }));

  const zip =
    options.zip ??
    (await buildFunctionZip({ architecture: ctx.config.lambda.architecture, progress: ctx.progress }));
  // The secret is made (or kept) just before the function that carries it:
  // KMS encrypts, and only the function's environment ever holds the result.
  const secret = done(await ensureSigningSecret(ctx, { keyArn: key.keyArn, rotate: options.rotateSigningSecret ?? false })).outputs;
  const fn = done(await ensureLambdaFunction(ctx, { roleArn: role.roleArn, keyArn: key.keyArn, zip, signingSecretCiphertext: secret.ciphertext }));
  // Optional parts are listed when on, or when turning them off removed
  // something: a stack that never used them sees no line for them.
  const trigger = await ensureBucketNotification(ctx, { functionArn: fn.functionArn });
  if (ctx.config.resizeOnUpload || trigger.action !== "unchanged") done(trigger);
  done(await ensureApiGatewayAccount(ctx));
  const api = done(await ensureRestApi(ctx, { functionArn: fn.functionArn, accessLogGroupArn: logs.accessLogGroupArn }));
  done(await ensureLambdaPermission(ctx, { functionArn: fn.functionArn, restApiId: api.restApiId }));
  const plan = ctx.config.auth === "apiKey" ? done(await ensureUsagePlan(ctx, { restApiId: api.restApiId })) : undefined;
  if (plan === undefined) {
    const retired = await retireUsagePlan(ctx);
    if (retired.action !== "absent") done(retired);
  }
  done(await ensureTrail(ctx, { keyArn: key.keyArn }));

  return {
    resources: reports,
    outputs: {
      endpointUrl: api.endpointUrl,
      auth: ctx.config.auth,
      ...(plan
        ? { apiKeyId: plan.apiKeyId, readApiKeyValue: `${apiKeyValueCommand(plan.apiKeyId)} --region ${ctx.region}` }
        : { clientPolicy: clientPolicy(ctx, api.restApiId) }),
      imagesBucket: images.bucketName,
      trailBucket: ctx.names.trailBucket,
      functionName: ctx.names.functionName,
      keyArn: key.keyArn,
      trailName: ctx.names.trail,
      region: ctx.region,
      stage: ctx.names.stage,
    },
  };
}
