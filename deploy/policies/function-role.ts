// The function role's documents: who may assume it (Lambda only) and the one
// inline policy naming exactly the objects, key and log group the handler uses.
// Pure, for the deploy, the policy-engine tests and the audit.
import { arn, type NamedScope } from "../arns.ts";
import type { PolicyDocument } from "./document.ts";
import { signingSecretCondition } from "./key-policy.ts";

export const lambdaTrustPolicy = (): PolicyDocument => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/**
 * Exactly what the handler does and nothing more: read, write and delete
 * under its two prefixes (DELETE /images/{id}; a rejected presigned upload),
 * list them (S3 answers 404 rather than 403 for a missing key only to a caller
 * allowed to list), use the project key through S3 and Lambda, decrypt the
 * URL-signing secret (and only it) directly, and write its own logs. No
 * wildcard action and no "*" resource. Pure, for tests and the audit.
 */
export function lambdaRolePolicy(ctx: NamedScope, deps: { keyArn: string }): PolicyDocument {
  const bucketArn = `arn:${ctx.partition}:s3:::${ctx.names.imagesBucket}`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadWriteImages",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject"],
        Resource: [`${bucketArn}/originals/*`, `${bucketArn}/resized/*`],
      },
      {
        Sid: "DeleteImages",
        Effect: "Allow",
        Action: "s3:DeleteObject",
        Resource: [`${bucketArn}/originals/*`, `${bucketArn}/resized/*`],
      },
      {
        Sid: "ListImagePrefixes",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: bucketArn,
        // IfExists: S3 checks ListBucket without a prefix when it decides
        // between 404 and 403 for a missing key; a real listing must stay
        // within the two prefixes.
        Condition: { StringLikeIfExists: { "s3:prefix": ["originals/*", "resized/*"] } },
      },
      {
        // SSE-KMS objects, and the function's encrypted environment: as the key policy, only through those services.
        Sid: "UseProjectKeyThroughServices",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
        Resource: deps.keyArn,
        Condition: { StringEquals: { "kms:ViaService": [`s3.${ctx.region}.amazonaws.com`, `lambda.${ctx.region}.amazonaws.com`] } },
      },
      {
        Sid: "DecryptSigningSecret",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: deps.keyArn,
        Condition: signingSecretCondition(),
      },
      {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: arn(ctx, "logs", `log-group:${ctx.names.functionLogGroup}:*`),
      },
    ],
  };
}
