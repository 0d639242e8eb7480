// Every ARN the deploy names, built from the account, region and partition of
// the caller (STS) and the stack's names. Deterministic, so a policy can name a
// resource (the trail, the role) before it exists, and resource modules never
// import each other for an ARN.
import type { DeployContext } from "./context.ts";

export type ArnScope = Pick<DeployContext, "partition" | "region" | "account">;
export type NamedScope = ArnScope & Pick<DeployContext, "names">;

export const arn = (ctx: ArnScope, service: string, resource: string, opts: { global?: boolean; noAccount?: boolean } = {}) =>
  `arn:${ctx.partition}:${service}:${opts.global ? "" : ctx.region}:${opts.noAccount ? "" : ctx.account}:${resource}`;

/** S3 bucket ARNs carry neither region nor account. */
export const bucketArn = (ctx: Pick<DeployContext, "partition">, bucket: string) => `arn:${ctx.partition}:s3:::${bucket}`;

export const trailArn = (ctx: NamedScope) => arn(ctx, "cloudtrail", `trail/${ctx.names.trail}`);

export const functionRoleArn = (ctx: Pick<DeployContext, "partition" | "account" | "names">) => `arn:${ctx.partition}:iam::${ctx.account}:role/${ctx.names.roleName}`;

export const boundaryPolicyArn = (ctx: Pick<DeployContext, "partition" | "account" | "names">) => `arn:${ctx.partition}:iam::${ctx.account}:policy/${ctx.names.boundaryPolicy}`;

export const functionArn = (ctx: NamedScope) => arn(ctx, "lambda", `function:${ctx.names.functionName}`);

/** The log group's ARN without the ":*" DescribeLogGroups appends: what tagging APIs and other resources take. */
export const logGroupArn = (ctx: ArnScope, name: string) => arn(ctx, "logs", `log-group:${name}`);

/** The account's root principal: "every identity of this account that IAM allows", in key policies. */
export const accountRoot = (ctx: Pick<DeployContext, "partition" | "account">) => `arn:${ctx.partition}:iam::${ctx.account}:root`;

/**
 * The DNS suffix of a partition's service endpoints: kms:ViaService names an
 * endpoint ("s3.cn-north-1.amazonaws.com.cn" in China), so it differs by
 * partition. https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
 */
export const dnsSuffix = (partition: string) => (partition === "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com");

/** kms:ViaService's value when `service` calls KMS for a principal in this region. */
export const viaService = (ctx: Pick<DeployContext, "partition" | "region">, service: string) => `${service}.${ctx.region}.${dnsSuffix(ctx.partition)}`;

/**
 * A service principal: "SERVICE.amazonaws.com" in every partition, China
 * included (unlike endpoints). The one place it is spelled, so no policy
 * writes the suffix by hand.
 */
export const servicePrincipal = (service: string) => `${service}.amazonaws.com`;

/** The customer-managed policy that bounds the function's role (deploy creates it; the deployer can never change it). */
export const functionBoundaryName = (ctx: Pick<DeployContext, "names">) => `${ctx.names.stack}-fn-boundary`;
export const functionBoundaryArn = (ctx: Pick<DeployContext, "partition" | "account" | "names">) =>
  `arn:${ctx.partition}:iam::${ctx.account}:policy/${functionBoundaryName(ctx)}`;

/** The audit key's alias: CloudTrail's log files and the trail bucket, nothing else. */
export const auditKeyAlias = (ctx: Pick<DeployContext, "names">) => `alias/${ctx.names.stack}-audit`;
