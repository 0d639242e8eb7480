// The two key policies: the images key (images bucket, the function's
// environment, the URL-signing secret) and the audit key (CloudTrail's log
// files and the trail bucket). Who may administer each key and who may use it,
// and for what. Pure, for the deploy, the policy-engine tests and the audit.
import { SIGNING_SECRET_CONTEXT } from "../../config/runtime-env.ts";
import { CDN_SIGNING_KEY_CONTEXT } from "../../function/cdn/cdn-env.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../../function/storage/key-layout.ts";
import { accountRoot, bucketArn, servicePrincipal, trailArn, viaService, type NamedScope } from "../arns.ts";
import type { PolicyDocument, PolicyStatement } from "./document.ts";

/**
 * The URL-signing secret's encryption context as a condition: the key may be
 * used directly (not through a service) only for a ciphertext bound to it.
 */
export const signingSecretCondition = (): Record<string, Record<string, string>> => ({
  StringEquals: Object.fromEntries(Object.entries(SIGNING_SECRET_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
});

/** The CDN URL-signing key's encryption context as a condition (like the URL-signing secret's). */
export const cdnSigningKeyCondition = (): Record<string, Record<string, string>> => ({
  StringEquals: Object.fromEntries(Object.entries(CDN_SIGNING_KEY_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
});

/**
 * Administration, not use: the account's identities that IAM allows can
 * manage the key (so the account never locks itself out, and the deployer's
 * IAM policy decides who does), but never encrypt, decrypt or create grants
 * through this statement. Listed one by one: "kms:Create*" would include
 * CreateGrant, and a grant is use.
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
 */
export const KEY_ADMIN_ACTIONS = [
  "kms:DescribeKey",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListResourceTags",
  "kms:ListGrants",
  "kms:PutKeyPolicy",
  "kms:EnableKey",
  "kms:DisableKey",
  "kms:EnableKeyRotation",
  "kms:TagResource",
  "kms:CreateAlias",
  "kms:UpdateAlias",
  "kms:DeleteAlias",
  "kms:RevokeGrant",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
];

function accountAdministers(ctx: NamedScope): PolicyStatement {
  return { Sid: "AccountAdministersKey", Effect: "Allow", Principal: { AWS: accountRoot(ctx) }, Action: KEY_ADMIN_ACTIONS, Resource: "*" };
}

/** Requests from this account only: with a role or root principal, the key policy must not open to another account's grants. */
const callerAccount = (ctx: NamedScope) => ({ "kms:CallerAccount": ctx.account });

/**
 * The images key: the function's role, named here (its own policy has no KMS
 * statement; its boundary caps these grants), uses it through S3 (for the
 * images bucket only: its encryption context) and through Lambda (its
 * environment), and decrypts the URL-signing secret directly, with that
 * secret's context. The deploying identities (the account, as far as IAM
 * allows) encrypt the secret and let Lambda use the key for the function's
 * environment, and nothing more.
 */
export function imagesKeyPolicy(ctx: NamedScope, deps: { roleArn: string; cdn?: CdnKeyUse }): PolicyDocument {
  const bucket = bucketArn(ctx, ctx.names.imagesBucket);
  const role = { AWS: deps.roleArn };
  const root = { AWS: accountRoot(ctx) };
  const throughLambda = { "kms:ViaService": viaService(ctx, "lambda"), ...callerAccount(ctx) };
  return {
    Version: "2012-10-17",
    Statement: [
      accountAdministers(ctx),
      {
        // S3 asks for a data key on PutObject (and the copy of CopyObject) and decrypts on GetObject.
        // With an S3 Bucket Key the context is the bucket's ARN, without one the object's:
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context
        Sid: "FunctionUsesKeyThroughS3",
        Effect: "Allow",
        Principal: role,
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: "*",
        Condition: {
          StringEquals: { "kms:ViaService": viaService(ctx, "s3"), ...callerAccount(ctx) },
          StringLike: { "kms:EncryptionContext:aws:s3:arn": [bucket, `${bucket}/*`] },
        },
      },
      {
        Sid: "FunctionDecryptsEnvironment",
        Effect: "Allow",
        Principal: role,
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringEquals: throughLambda },
      },
      {
        // The handler decrypts the secret once per cold start, calling KMS itself.
        Sid: "FunctionDecryptsSigningSecret",
        Effect: "Allow",
        Principal: role,
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: signingSecretCondition(),
      },
      {
        // Lambda encrypts the function's environment with this key on behalf of
        // whoever creates or updates the function, and decrypts it to show it back.
        // https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
        Sid: "DeployerManagesFunctionEnvironment",
        Effect: "Allow",
        Principal: root,
        Action: ["kms:Encrypt", "kms:Decrypt"],
        Resource: "*",
        Condition: { StringEquals: throughLambda },
      },
      {
        // Only an AWS service (Lambda, for the function) may be granted use of the key.
        // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource
        Sid: "LambdaGrantsForFunction",
        Effect: "Allow",
        Principal: root,
        Action: "kms:CreateGrant",
        Resource: "*",
        Condition: { StringEquals: throughLambda, Bool: { "kms:GrantIsForAWSResource": "true" } },
      },
      {
        // Deploy makes the secret: encrypt only, so no identity can read a secret back through this statement.
        Sid: "DeployerEncryptsSigningSecret",
        Effect: "Allow",
        Principal: root,
        Action: "kms:Encrypt",
        Resource: "*",
        Condition: { StringEquals: { ...signingSecretCondition().StringEquals, ...callerAccount(ctx) } },
      },
      ...(deps.cdn ? cdnKeyStatements(ctx, { role: deps.roleArn, ...deps.cdn }) : []),
    ],
  };
}

/** With cdn.enabled: the distribution, once it exists (its ARN is known only then). */
export interface CdnKeyUse {
  distributionArn?: string;
}

/**
 * cdn.enabled: the deployer encrypts the URL-signing private key (its context
 * only) and stores it in the bucket (S3 asks for a data key: the bucket key's
 * context is the bucket); the function decrypts it (that context only);
 * CloudFront decrypts variants it reads through Origin Access Control, for
 * this distribution only.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html#create-oac-overview-s3 (SSE-KMS)
 */
function cdnKeyStatements(ctx: NamedScope, cdn: CdnKeyUse & { role: string }): PolicyStatement[] {
  const bucket = bucketArn(ctx, ctx.names.imagesBucket);
  const root = { AWS: accountRoot(ctx) };
  return [
    { Sid: "FunctionDecryptsCdnSigningKey", Effect: "Allow", Principal: { AWS: cdn.role }, Action: "kms:Decrypt", Resource: "*", Condition: cdnSigningKeyCondition() },
    {
      Sid: "DeployerEncryptsCdnSigningKey",
      Effect: "Allow",
      Principal: root,
      Action: "kms:Encrypt",
      Resource: "*",
      Condition: { StringEquals: { ...cdnSigningKeyCondition().StringEquals, ...callerAccount(ctx) } },
    },
    {
      Sid: "DeployerStoresCdnSigningKey",
      Effect: "Allow",
      Principal: root,
      Action: "kms:GenerateDataKey",
      Resource: "*",
      Condition: {
        StringEquals: { "kms:ViaService": viaService(ctx, "s3"), ...callerAccount(ctx) },
        StringLike: { "kms:EncryptionContext:aws:s3:arn": [bucket, `${bucket}/${CDN_SIGNING_KEY_OBJECT}`] },
      },
    },
    ...(cdn.distributionArn === undefined
      ? []
      : [
          {
            Sid: "CloudFrontDecryptsVariants",
            Effect: "Allow" as const,
            Principal: { Service: servicePrincipal("cloudfront") },
            Action: "kms:Decrypt",
            Resource: "*",
            Condition: { StringEquals: { "AWS:SourceArn": cdn.distributionArn } },
          },
        ]),
  ];
}

/**
 * The audit key, as "Configure AWS KMS key policies for CloudTrail" documents:
 * CloudTrail (this trail only) encrypts log files and describes the key; the
 * account's identities that IAM allows decrypt log files, so an auditor can
 * read them and run `aws cloudtrail validate-logs`. The trail bucket has no S3
 * Bucket Key, so CloudTrail needs no kms:Decrypt. The function's role gets nothing.
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
 */
export function auditKeyPolicy(ctx: NamedScope): PolicyDocument {
  const cloudtrail = { Service: servicePrincipal("cloudtrail") };
  const trail = trailArn(ctx);
  return {
    Version: "2012-10-17",
    Statement: [
      accountAdministers(ctx),
      {
        Sid: "CloudTrailEncryptsLogs",
        Effect: "Allow",
        Principal: cloudtrail,
        Action: "kms:GenerateDataKey*",
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceArn": trail, "kms:EncryptionContext:aws:cloudtrail:arn": trail } },
      },
      // CloudTrail checks the key when the trail is created or updated.
      { Sid: "CloudTrailDescribesKey", Effect: "Allow", Principal: cloudtrail, Action: "kms:DescribeKey", Resource: "*", Condition: { StringEquals: { "aws:SourceArn": trail } } },
      {
        Sid: "AccountDecryptsLogFiles",
        Effect: "Allow",
        Principal: { AWS: accountRoot(ctx) },
        Action: "kms:Decrypt",
        Resource: "*",
        Condition: { StringEquals: { ...callerAccount(ctx), "kms:EncryptionContext:aws:cloudtrail:arn": trail } },
      },
    ],
  };
}
