// The project key's policy: who may administer the key and who may use it, and
// for what. Pure, for the deploy, the policy-engine tests and the audit.
import { SIGNING_SECRET_CONTEXT } from "../../config/runtime-env.ts";
import { trailArn, type NamedScope } from "../arns.ts";
import type { PolicyDocument } from "./document.ts";

/**
 * The URL-signing secret's encryption context as a condition: the key may be
 * used directly (not through a service) only for a ciphertext bound to it.
 */
export const signingSecretCondition = (): Record<string, Record<string, string>> => ({
  StringEquals: Object.fromEntries(Object.entries(SIGNING_SECRET_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
});

// Key administration, not use: the account can manage the key (and so never
// lock itself out) but cannot encrypt or decrypt with it through IAM alone.
const ADMIN_ACTIONS = [
  "kms:Create*",
  "kms:Describe*",
  "kms:Enable*",
  "kms:List*",
  "kms:Put*",
  "kms:Update*",
  "kms:Revoke*",
  "kms:Disable*",
  "kms:Get*",
  "kms:Delete*",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:RotateKeyOnDemand",
];

/**
 * The key policy: administration for the account, use for CloudTrail (this
 * trail) and the Lambda role (through S3 and Lambda), and the URL-signing
 * secret: the deploying account encrypts it, the role decrypts it, both
 * directly and only with its encryption context.
 */
export function kmsKeyPolicy(ctx: NamedScope, deps: { roleArn: string }): PolicyDocument {
  const cloudtrail = { Service: "cloudtrail.amazonaws.com" };
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AccountAdministersKey",
        Effect: "Allow",
        Principal: { AWS: `arn:${ctx.partition}:iam::${ctx.account}:root` },
        Action: ADMIN_ACTIONS,
        Resource: "*",
      },
      {
        Sid: "CloudTrailEncryptsLogs",
        Effect: "Allow",
        Principal: cloudtrail,
        Action: "kms:GenerateDataKey*",
        Resource: "*",
        Condition: {
          StringLike: { "kms:EncryptionContext:aws:cloudtrail:arn": `arn:${ctx.partition}:cloudtrail:*:${ctx.account}:trail/*` },
          StringEquals: { "aws:SourceArn": trailArn(ctx) },
        },
      },
      // CloudTrail checks the key when the trail is created or updated.
      { Sid: "CloudTrailDescribesKey", Effect: "Allow", Principal: cloudtrail, Action: "kms:DescribeKey", Resource: "*" },
      {
        Sid: "FunctionUsesKeyThroughS3",
        Effect: "Allow",
        Principal: { AWS: deps.roleArn },
        Action: ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": `s3.${ctx.region}.amazonaws.com` } },
      },
      {
        // Lambda encrypts the function's environment with this key on behalf of
        // whoever creates or updates the function, and decrypts it to show it
        // back: the deploying identity needs that use, through Lambda only.
        Sid: "DeployerManagesFunctionEnvironment",
        Effect: "Allow",
        Principal: { AWS: `arn:${ctx.partition}:iam::${ctx.account}:root` },
        Action: ["kms:Encrypt", "kms:Decrypt", "kms:CreateGrant"],
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": `lambda.${ctx.region}.amazonaws.com` } },
      },
      {
        Sid: "FunctionDecryptsEnvironment",
        Effect: "Allow",
        Principal: { AWS: deps.roleArn },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": `lambda.${ctx.region}.amazonaws.com` } },
      },
      {
        // Deploy makes the secret (signing-secret.ts): encrypt only, so the
        // deploying identity can never read a secret back through this statement.
        Sid: "DeployerEncryptsSigningSecret",
        Effect: "Allow",
        Principal: { AWS: `arn:${ctx.partition}:iam::${ctx.account}:root` },
        Action: "kms:Encrypt",
        Resource: "*",
        Condition: signingSecretCondition(),
      },
      {
        // The handler decrypts the secret once per cold start, calling KMS itself.
        Sid: "FunctionDecryptsSigningSecret",
        Effect: "Allow",
        Principal: { AWS: deps.roleArn },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: signingSecretCondition(),
      },
    ],
  };
}
