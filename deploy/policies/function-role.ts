// The function role's documents: who may assume it (Lambda only), the one
// inline policy naming exactly the objects, key and log group the handler
// uses, and the permissions boundary that caps the role whatever policy it is
// later given. Pure, for the deploy, the policy-engine tests and the audit.
import { CDN_SIGNING_KEY_OBJECT, FAILED_EVENTS_PREFIX, ORIGINALS_PREFIX, RESIZED_PREFIX, UPLOADS_PREFIX } from "../../function/storage/key-layout.ts";
import { arn, bucketArn, servicePrincipal, viaService, type NamedScope } from "../arns.ts";
import type { PolicyDocument, PolicyStatement } from "./document.ts";
import { cdnSigningKeyCondition, signingSecretCondition } from "./key-policy.ts";

export const lambdaTrustPolicy = (): PolicyDocument => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: servicePrincipal("lambda") }, Action: "sts:AssumeRole" }],
});

/** Where the handler's objects live (laid out in function/storage/key-layout.ts): presigned uploads land under uploads/ and move to originals/ once checked. */
export const IMAGE_PREFIXES = { uploads: UPLOADS_PREFIX, originals: ORIGINALS_PREFIX, resized: RESIZED_PREFIX } as const;

/** The function's objects and logs: the role policy grants them, the boundary allows them. */
function functionStatements(ctx: NamedScope): PolicyStatement[] {
  const bucket = bucketArn(ctx, ctx.names.imagesBucket);
  const { uploads, originals, resized } = IMAGE_PREFIXES;
  return [
    {
      // A presigned PUT is authorized as the identity that signed it, the
      // function's role: it needs PutObject here although the handler never
      // writes uploads/ itself. A checked upload is copied to originals/ and
      // removed; a refused one is removed.
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html
      Sid: "PresignedUploads",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
      Resource: `${bucket}/${uploads}*`,
    },
    {
      Sid: "ReadWriteImages",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      Resource: [`${bucket}/${originals}*`, `${bucket}/${resized}*`],
    },
    {
      Sid: "ListImagePrefixes",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: bucket,
      // IfExists: S3 checks ListBucket without a prefix when it decides
      // between 404 and 403 for a missing key; a real listing must stay
      // within the three prefixes.
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax (Permissions)
      Condition: { StringLikeIfExists: { "s3:prefix": [`${uploads}*`, `${originals}*`, `${resized}*`, `${FAILED_EVENTS_PREFIX}${ctx.names.functionName}/*`] } },
    },
    {
      // The S3 trigger's events that failed every attempt: Lambda writes their
      // records here as the function's role (an on-failure destination).
      // https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
      Sid: "RecordFailedEvents",
      Effect: "Allow",
      Action: "s3:PutObject",
      Resource: `${bucket}/${FAILED_EVENTS_PREFIX}${ctx.names.functionName}/*`,
    },
    {
      Sid: "WriteOwnLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: arn(ctx, "logs", `log-group:${ctx.names.functionLogGroup}:*`),
    },
  ];
}

/**
 * The images key's uses, as the key policy grants them to the role by name
 * (imagesKeyPolicy): the boundary must allow them too, since a boundary
 * limits what a resource policy grants to a role's ARN.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
 */
function keyStatements(ctx: NamedScope, keys: string): PolicyStatement[] {
  const bucket = bucketArn(ctx, ctx.names.imagesBucket);
  return [
    {
      // SSE-KMS objects of the images bucket only (its encryption context), as the key policy.
      Sid: "UseImagesKeyThroughS3",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: keys,
      Condition: {
        StringEquals: { "kms:ViaService": viaService(ctx, "s3") },
        StringLike: { "kms:EncryptionContext:aws:s3:arn": [bucket, `${bucket}/*`] },
      },
    },
    {
      Sid: "DecryptEnvironmentThroughLambda",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: keys,
      Condition: { StringEquals: { "kms:ViaService": viaService(ctx, "lambda") } },
    },
    { Sid: "DecryptSigningSecret", Effect: "Allow", Action: "kms:Decrypt", Resource: keys, Condition: signingSecretCondition() },
  ];
}

/**
 * Exactly what the handler does and nothing more: sign presigned uploads,
 * read and remove them, read, write and delete originals and variants (DELETE
 * /images/{id}), list those prefixes (S3 answers 404 rather than 403 for a
 * missing key only to a caller allowed to list), and write its own logs. No
 * wildcard action and no "*" resource. The images key's uses are granted by
 * the key policy, which names the role; a copy here would grant nothing more.
 */
export function lambdaRolePolicy(ctx: NamedScope, deps: { keyArn: string; cdnDistributionArn?: string }): PolicyDocument {
  const cdn = deps.cdnDistributionArn === undefined ? [] : cdnStatements(ctx, deps.cdnDistributionArn);
  return { Version: "2012-10-17", Statement: [...functionStatements(ctx), ...cdn] };
}

/**
 * cdn.enabled: purge an image's paths in this distribution only (DELETE
 * /images/{id}), and read the KMS-encrypted URL-signing key (decrypted
 * through the key policy, with its context).
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudfront.html
 */
function cdnStatements(ctx: NamedScope, distributionArn: string): PolicyStatement[] {
  return [
    { Sid: "PurgeImagesAtCdn", Effect: "Allow", Action: "cloudfront:CreateInvalidation", Resource: distributionArn },
    { Sid: "ReadCdnSigningKey", Effect: "Allow", Action: "s3:GetObject", Resource: `${bucketArn(ctx, ctx.names.imagesBucket)}/${CDN_SIGNING_KEY_OBJECT}` },
  ];
}

/**
 * The role's permissions boundary: the most the function may ever do, whatever
 * inline or managed policy the role is given later (the deployer may rewrite
 * the role's policy, never this document). It names no key ARN, so it can
 * exist before the key: the conditions (the images bucket's encryption
 * context, Lambda, the signing secret's context) already confine KMS use to
 * the images key's purposes. The audit trail's bucket is denied outright: an
 * explicit deny also stops a bucket policy that names the role's session.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
 */
export function functionBoundaryPolicy(ctx: NamedScope, opts: { cdn?: boolean } = {}): PolicyDocument {
  const trailBucket = bucketArn(ctx, ctx.names.trailBucket);
  // The distribution's id is not known before it exists: any of the account's (the role policy names the one).
  const cdn = opts.cdn
    ? [
        ...cdnStatements(ctx, `arn:${ctx.partition}:cloudfront::${ctx.account}:distribution/*`),
        { Sid: "DecryptCdnSigningKey", Effect: "Allow" as const, Action: "kms:Decrypt", Resource: arn(ctx, "kms", "key/*"), Condition: cdnSigningKeyCondition() },
      ]
    : [];
  return {
    Version: "2012-10-17",
    Statement: [
      ...functionStatements(ctx),
      ...keyStatements(ctx, arn(ctx, "kms", "key/*")),
      ...cdn,
      { Sid: "NeverTheAuditTrail", Effect: "Deny", Action: "s3:*", Resource: [trailBucket, `${trailBucket}/*`] },
    ],
  };
}
