// The stack as one ordered table of steps (in the spirit of np's task list).
// Deploy runs each step's ensure in this order (each may use what an earlier
// one made), teardown runs the removes in reverse, and the dry run is the same
// walk with nothing sent. A step that does not apply to the configuration
// says why (enabled returns the reason); deploy then runs its remove instead,
// so turning a feature off retires what an earlier deploy made.
import type { Config } from "../config/schema.ts";
import type { CdnSettings } from "../function/cdn/cdn-env.ts";
import { CDN_STEPS } from "./cdn-stack.ts";
import type { DeployContext, StepReport } from "./context.ts";
import { buildFunctionZip, type FunctionZip } from "./function-zip.ts";
import { cognitoPool } from "./resources/api-authorizer.ts";
import { ensureApiGatewayAccount, removeApiGatewayAccount } from "./resources/api-gateway-account.ts";
import { findDistribution } from "./resources/cdn-distribution.ts";
import { currentCdnSettings } from "./resources/cdn-function-settings.ts";
import { ensureBucketNotification, removeBucketNotification } from "./resources/bucket-notification.ts";
import { ensureFunctionBoundary, removeFunctionBoundary } from "./resources/function-boundary.ts";
import { ensureImagesBucket, removeImagesBucket } from "./resources/images-bucket.ts";
import { ensureAuditKey, ensureKmsKey, removeAuditKey, removeKmsKey } from "./resources/kms-key.ts";
import { ensureLambdaFunction, removeLambdaFunction } from "./resources/lambda-function.ts";
import { ensureAuthorizerPermission, ensureLambdaPermission, removeAuthorizerPermission } from "./resources/lambda-permission.ts";
import { ensureLambdaRole, ensureLambdaRolePolicy, removeLambdaRole } from "./resources/lambda-role.ts";
import { ensureLogGroups, removeLogGroups } from "./resources/log-groups.ts";
import { ensureRestApi, removeRestApi } from "./resources/rest-api.ts";
import { ensureSigningSecret } from "./resources/signing-secret.ts";
import { ensureTrail, removeTrail } from "./resources/trail.ts";
import { ensureTrailBucket, removeTrailBucket } from "./resources/trail-bucket.ts";
import { ensureUsagePlan, removeUsagePlan } from "./resources/usage-plan.ts";
import { ensureWebAcl, removeWebAcl } from "./resources/web-acl.ts";

/** What the steps made so far, for the steps after them and the deploy's outputs. */
export interface Built {
  boundaryArn: string;
  roleArn: string;
  imagesKeyArn: string;
  auditKeyArn: string;
  imagesBucket: string;
  accessLogGroupArn: string;
  zip: FunctionZip;
  ciphertext: string;
  functionArn: string;
  restApiId: string;
  endpointUrl: string;
  stageArn: string;
  apiKeyId: string;
  /** cdn.domain: the ISSUED us-east-1 certificate for the distribution's viewer certificate. */
  cdnCertificateArn?: string;
  /** cdn.rateLimitPerIp: the CLOUDFRONT web ACL the distribution names in its WebACLId. */
  cdnWebAclArn?: string;
  /** The CDN (cdn.enabled): what its rows made, for the rows after them and the outputs. */
  cdnKeyGroupId?: string;
  cdnPublicKeyId?: string;
  cdnOacId?: string;
  cdnCachePolicyId?: string;
  cdnEdgeFunctionArn?: string;
  cdnDistributionId?: string;
  cdnDomain?: string;
  cdnDistributionArn?: string;
  /** The distribution the key, bucket and role policies were written for in this run. */
  cdnGrantedArn?: string;
  cdnSettings?: CdnSettings;
}

export interface RunOptions {
  /** A prebuilt function zip (tests); by default it is built from function/. */
  zip?: FunctionZip;
  rotateSigningSecret?: boolean;
  /** Teardown: also delete images and request logs. */
  deleteData?: boolean;
  /** Teardown: also delete the audit logs and schedule the audit key's deletion. */
  deleteAuditLogs?: boolean;
}

/** What teardown has removed so far, by step title (a key waits for its bucket). */
export type Removed = Record<string, StepReport>;

export interface StackStep {
  title: string;
  /** true, or the reason this step does not apply to the configuration. */
  enabled?(config: Config): true | string;
  ensure(ctx: DeployContext, built: Partial<Built>, options: RunOptions): Promise<StepReport>;
  /** Absent: the step's resource goes with another one (named in a comment). */
  remove?(ctx: DeployContext, options: RunOptions, removed: Removed): Promise<StepReport>;
}

const need = <K extends keyof Built>(built: Partial<Built>, key: K): Built[K] => {
  const value = built[key];
  if (value === undefined) throw new Error(`stack step order: ${key} is used before the step that makes it`);
  return value as Built[K];
};

/** A bucket kept by teardown still holds data encrypted with its key: the key stays too. */
const kept = (removed: Removed, title: string) => removed[title]?.action === "kept";

export const STACK: readonly StackStep[] = [
  {
    title: "permissions boundary",
    ensure: async (ctx, built) => {
      const r = await ensureFunctionBoundary(ctx);
      built.boundaryArn = r.outputs.boundaryArn;
      return r;
    },
    remove: (ctx) => removeFunctionBoundary(ctx),
  },
  {
    // Before the keys: the images key's policy names it, and KMS refuses a principal that does not exist.
    title: "function role",
    ensure: async (ctx, built) => {
      const r = await ensureLambdaRole(ctx, { boundaryArn: need(built, "boundaryArn") });
      built.roleArn = r.outputs.roleArn;
      return r;
    },
    remove: (ctx) => removeLambdaRole(ctx),
  },
  {
    title: "images key",
    ensure: async (ctx, built) => {
      // An existing distribution is named in the key, bucket and role policies (CloudFront reads resized/; the function purges).
      if (ctx.config.cdn.enabled) built.cdnGrantedArn = (await findDistribution(ctx))?.arn;
      const r = await ensureKmsKey(ctx, { roleArn: need(built, "roleArn"), cdnDistributionArn: built.cdnGrantedArn });
      built.imagesKeyArn = r.outputs.keyArn;
      return r;
    },
    remove: (ctx, _options, removed) => removeKmsKey(ctx, { dataRemains: kept(removed, "images bucket") }),
  },
  {
    title: "audit key",
    ensure: async (ctx, built) => {
      const r = await ensureAuditKey(ctx);
      built.auditKeyArn = r.outputs.keyArn;
      return r;
    },
    // Only with --delete-audit-logs, by an identity allowed to (the deployer policy never lets the deploying identity schedule it).
    remove: (ctx, options, removed) => removeAuditKey(ctx, { dataRemains: kept(removed, "trail bucket"), requested: options.deleteAuditLogs ?? false }),
  },
  {
    title: "trail bucket",
    ensure: (ctx, built) => ensureTrailBucket(ctx, { keyArn: need(built, "auditKeyArn") }),
    remove: (ctx, options) => removeTrailBucket(ctx, { deleteData: options.deleteAuditLogs ?? false }),
  },
  {
    title: "images bucket",
    ensure: async (ctx, built) => {
      const r = await ensureImagesBucket(ctx, { keyArn: need(built, "imagesKeyArn"), cdnDistributionArn: built.cdnGrantedArn });
      built.imagesBucket = r.outputs.bucketName;
      return r;
    },
    remove: (ctx, options) => removeImagesBucket(ctx, { deleteData: options.deleteData ?? false }),
  },
  {
    title: "log groups",
    ensure: async (ctx, built) => {
      const r = await ensureLogGroups(ctx);
      built.accessLogGroupArn = r.outputs.accessLogGroupArn;
      return r;
    },
    remove: (ctx, options) => removeLogGroups(ctx, { deleteData: options.deleteData ?? false }),
  },
  {
    // Its inline policy names the key and bucket made above; it goes with the role.
    title: "function role policy",
    ensure: (ctx, built) => ensureLambdaRolePolicy(ctx, { keyArn: need(built, "imagesKeyArn"), cdnDistributionArn: built.cdnGrantedArn }),
  },
  {
    // Made (or kept) just before the function that carries it: KMS encrypts,
    // and only the function's environment ever holds the result, so it goes with the function.
    title: "URL-signing secret",
    ensure: async (ctx, built, options) => {
      const r = await ensureSigningSecret(ctx, { keyArn: need(built, "imagesKeyArn"), rotate: options.rotateSigningSecret ?? false });
      built.ciphertext = r.outputs.ciphertext;
      return r;
    },
  },
  {
    title: "function",
    ensure: async (ctx, built, options) => {
      const zip = options.zip ?? (await buildFunctionZip({ architecture: ctx.config.lambda.architecture, progress: ctx.progress }));
      built.zip = zip;
      const cdn = await currentCdnSettings(ctx);
      const r = await ensureLambdaFunction(ctx, { roleArn: need(built, "roleArn"), keyArn: need(built, "imagesKeyArn"), zip, signingSecretCiphertext: need(built, "ciphertext"), ...(cdn ? { cdn } : {}) });
      built.functionArn = r.functionArn;
      return r;
    },
    remove: (ctx) => removeLambdaFunction(ctx),
  },
  {
    title: "S3 trigger",
    enabled: (config) => config.resizeOnUpload || "resizeOnUpload is false",
    ensure: (ctx, built) => ensureBucketNotification(ctx, { functionArn: need(built, "functionArn") }),
    remove: (ctx) => removeBucketNotification(ctx),
  },
  {
    title: "API Gateway logs role",
    ensure: (ctx) => ensureApiGatewayAccount(ctx),
    remove: (ctx) => removeApiGatewayAccount(ctx),
  },
  {
    title: "REST API",
    ensure: async (ctx, built) => {
      const r = await ensureRestApi(ctx, { functionArn: need(built, "functionArn"), accessLogGroupArn: need(built, "accessLogGroupArn") });
      Object.assign(built, { restApiId: r.restApiId, endpointUrl: r.endpointUrl, stageArn: r.stageArn });
      return r;
    },
    // Deleting the API removes its methods, stage and deployments.
    remove: (ctx) => removeRestApi(ctx),
  },
  ...CDN_STEPS,
  {
    // After the API (it protects its stage); teardown removes it before the API, as WAF asks.
    title: "per-IP rate limit",
    enabled: (config) => config.api.rateLimitPerIp !== undefined || "api.rateLimitPerIp is not set",
    ensure: (ctx, built) => ensureWebAcl(ctx, { stageArn: need(built, "stageArn") }),
    remove: (ctx) => removeWebAcl(ctx),
  },
  {
    // The function's resource policy goes with the function.
    title: "invoke permission",
    ensure: (ctx, built) => ensureLambdaPermission(ctx, { functionArn: need(built, "functionArn"), restApiId: need(built, "restApiId") }),
  },
  {
    // A Cognito issuer's authorizer is API Gateway's own: nothing invokes the function for it.
    title: "authorizer permission",
    enabled: (config) => (config.auth !== "jwt" ? `only with auth jwt, not ${config.auth}` : cognitoPool(config.jwt?.issuer) !== undefined ? "a Cognito issuer's authorizer is API Gateway's own" : true),
    ensure: (ctx, built) => ensureAuthorizerPermission(ctx, { restApiId: need(built, "restApiId") }),
    remove: (ctx) => removeAuthorizerPermission(ctx),
  },
  {
    // In "iam" mode no method asks for an API key, and a usage plan meters only
    // requests that carry one: both would be dead weight (and a key that looks
    // like a credential). The stage's own throttle still limits every caller.
    title: "usage plan",
    enabled: (config) => config.auth === "apiKey" || `not used with auth ${config.auth}`,
    ensure: async (ctx, built) => {
      const r = await ensureUsagePlan(ctx, { restApiId: need(built, "restApiId") });
      built.apiKeyId = r.apiKeyId;
      return r;
    },
    remove: (ctx) => removeUsagePlan(ctx),
  },
  {
    title: "trail",
    ensure: (ctx, built) => ensureTrail(ctx, { keyArn: need(built, "auditKeyArn") }),
    remove: (ctx) => removeTrail(ctx),
  },
];
