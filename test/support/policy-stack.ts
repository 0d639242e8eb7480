// Every policy of one stack, as the scenarios evaluate them: built from the
// pure documents (deploy/policies, deploy/deployer-policy*.json) for a given
// partition, or read back from moto after a real deploy (policy-moto.ts).
import { readFileSync } from "node:fs";
import { accountRoot, arn, bucketArn, functionArn, functionBoundaryArn, functionRoleArn, servicePrincipal, trailArn, type NamedScope } from "../../deploy/arns.ts";
import { resourceNames } from "../../deploy/names.ts";
import { bucketPolicy, trailBucketStatements } from "../../deploy/policies/bucket-policies.ts";
import type { PolicyDocument } from "../../deploy/policies/document.ts";
import { functionBoundaryPolicy, lambdaRolePolicy } from "../../deploy/policies/function-role.ts";
import { auditKeyPolicy, imagesKeyPolicy } from "../../deploy/policies/key-policy.ts";
import { invokeSourceArn } from "../../deploy/resources/lambda-permission.ts";

/** The documents a scenario may use; the mutation test removes statements from the first five kinds. */
export interface StackDocuments {
  imagesKey: PolicyDocument;
  auditKey: PolicyDocument;
  imagesBucket: PolicyDocument;
  trailBucket: PolicyDocument;
  /** The deployer's managed policies (deploy/deployer-policy.json, deployer-policy-services.json and deployer-policy-cdn.json). */
  deployer: PolicyDocument[];
  role: PolicyDocument;
  boundary: PolicyDocument;
  /** The function's resource policy (who may invoke it). */
  invoke: PolicyDocument;
}

export interface StackPolicies {
  ctx: NamedScope;
  imagesKeyArn: string;
  auditKeyArn: string;
  restApiId: string;
  docs: StackDocuments;
}

export const DEPLOYER_POLICY_FILES = ["deploy/deployer-policy.json", "deploy/deployer-policy-services.json", "deploy/deployer-policy-cdn.json"] as const;
const ROOT = new URL("../..", import.meta.url).pathname;

/** A deployer policy file with its placeholders filled, as README tells a user to. */
export function renderDeployerPolicy(file: string, ctx: Pick<NamedScope, "partition" | "account" | "names">): PolicyDocument {
  const text = readFileSync(`${ROOT}${file}`, "utf8").replaceAll("PARTITION", ctx.partition).replaceAll("ACCOUNT_ID", ctx.account).replaceAll("STACK", ctx.names.stack);
  return JSON.parse(text) as PolicyDocument;
}

export const deployerPolicies = (ctx: Pick<NamedScope, "partition" | "account" | "names">) => DEPLOYER_POLICY_FILES.map((f) => renderDeployerPolicy(f, ctx));

export function scopeOf(stack: string, opts: { partition?: string; region?: string; account?: string } = {}): NamedScope {
  const account = opts.account ?? "111122223333";
  const region = opts.region ?? "eu-west-1";
  return { partition: opts.partition ?? "aws", region, account, names: resourceNames(stack, account, region) };
}

/** The function's resource policy as Lambda writes it for deploy's two AddPermission calls. */
export function invokePolicy(ctx: NamedScope, restApiId: string): PolicyDocument {
  const fn = functionArn(ctx);
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "imgapi-apigateway-invoke", Effect: "Allow", Principal: { Service: servicePrincipal("apigateway") }, Action: "lambda:InvokeFunction", Resource: fn, Condition: { ArnLike: { "AWS:SourceArn": invokeSourceArn(ctx, restApiId) } } },
      {
        Sid: "imgapi-s3-invoke",
        Effect: "Allow",
        Principal: { Service: servicePrincipal("s3") },
        Action: "lambda:InvokeFunction",
        Resource: fn,
        Condition: { StringEquals: { "AWS:SourceAccount": ctx.account }, ArnLike: { "AWS:SourceArn": bucketArn(ctx, ctx.names.imagesBucket) } },
      },
    ],
  };
}

/** The key policy KMS gives a key made without one: the account's IAM policies decide everything. The worst case for "another key". */
export function defaultKeyPolicy(ctx: Pick<NamedScope, "partition" | "account">): PolicyDocument {
  return { Version: "2012-10-17", Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: accountRoot(ctx) }, Action: "kms:*", Resource: "*" }] };
}

export function documentPolicies(ctx: NamedScope): StackPolicies {
  const imagesKeyArn = arn(ctx, "kms", "key/0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f");
  const auditKeyArn = arn(ctx, "kms", "key/7c1d2e3f-4a5b-4c6d-9e8f-1a2b3c4d5e6f");
  const restApiId = "a1b2c3d4e5";
  const roleArn = functionRoleArn(ctx);
  return {
    ctx,
    imagesKeyArn,
    auditKeyArn,
    restApiId,
    docs: {
      imagesKey: imagesKeyPolicy(ctx, { roleArn }),
      auditKey: auditKeyPolicy(ctx),
      imagesBucket: bucketPolicy(ctx, { bucket: ctx.names.imagesBucket }),
      trailBucket: bucketPolicy(ctx, { bucket: ctx.names.trailBucket, extraStatements: trailBucketStatements(ctx) }),
      deployer: deployerPolicies(ctx),
      role: lambdaRolePolicy(ctx, { keyArn: imagesKeyArn }),
      boundary: functionBoundaryPolicy(ctx),
      invoke: invokePolicy(ctx, restApiId),
    },
  };
}

/** ARNs and principals the scenarios name, all derived from the stack's scope. */
export function refs(p: StackPolicies) {
  const { ctx } = p;
  return {
    account: ctx.account,
    root: accountRoot(ctx),
    trail: trailArn(ctx),
    imagesBucket: bucketArn(ctx, ctx.names.imagesBucket),
    trailBucket: bucketArn(ctx, ctx.names.trailBucket),
    role: functionRoleArn(ctx),
    /** The function's requests: the role's session, named after the function. */
    session: `arn:${ctx.partition}:sts::${ctx.account}:assumed-role/${ctx.names.roleName}/${ctx.names.functionName}`,
    fn: functionArn(ctx),
    boundary: functionBoundaryArn(ctx),
    deployer: `arn:${ctx.partition}:iam::${ctx.account}:user/deployer`,
    auditor: `arn:${ctx.partition}:iam::${ctx.account}:role/auditor`,
  };
}
