// The requests AWS documents for the stack's services and users, each with
// the request context AWS sends, and the answer the stack's policies must
// give: CloudTrail delivering, an auditor reading and validating, the
// function reading and writing its objects and nothing else, API Gateway and
// S3 invoking the function. Evaluated by policy-eval.ts.
import { arn, bucketArn, viaService } from "../../deploy/arns.ts";
import type { PolicyDocument } from "../../deploy/policies/document.ts";
import { SIGNING_SECRET_CONTEXT } from "../../config/runtime-env.ts";
import type { Decision, EvalRequest } from "./policy-eval.ts";
import { refs, type StackPolicies } from "./policy-stack.ts";

export interface Scenario {
  name: string;
  /** The AWS page that documents the request (and so its context). */
  source: string;
  /** "Deny" when either kind of denial is right. */
  expect: Decision | "Deny";
  request(p: StackPolicies): EvalRequest;
}

const DOC = {
  trailBucket: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html",
  trailKey: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html",
  validate: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-cli.html",
  sseKms: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
  presigned: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html",
  envVars: "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html",
  boundary: "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
  invoke: "https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-services.html",
  grants: "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource",
  tls: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit",
} as const;

const OTHER_ACCOUNT = "444455556666";
const TLS = { "aws:SecureTransport": "true" };
const everything: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };

const logKey = (p: StackPolicies, region = p.ctx.region) =>
  `${refs(p).trailBucket}/AWSLogs/${p.ctx.account}/CloudTrail/${region}/2026/01/02/${p.ctx.account}_CloudTrail_${region}_20260102T0105Z_a1b2c3d4.json.gz`;
const digestKey = (p: StackPolicies) =>
  `${refs(p).trailBucket}/AWSLogs/${p.ctx.account}/CloudTrail-Digest/${p.ctx.region}/2026/01/02/${p.ctx.account}_CloudTrail-Digest_${p.ctx.region}_${p.ctx.names.trail}_${p.ctx.region}_20260102T0105Z.json.gz`;
const otherTrail = (p: StackPolicies, account = p.ctx.account) => arn({ ...p.ctx, account }, "cloudtrail", "trail/someone-elses-trail");

/** CloudTrail writing to the trail bucket, as the bucket policy page shows the request. */
function cloudTrailPut(p: StackPolicies, object: string, context: Record<string, string>): EvalRequest {
  return { principal: "cloudtrail.amazonaws.com", action: "s3:PutObject", resource: object, resourceAccount: p.ctx.account, context: { ...TLS, "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": refs(p).trail, ...context }, resourcePolicy: p.docs.trailBucket };
}
function cloudTrailKms(p: StackPolicies, action: string, key: "audit" | "images", context: Record<string, string>): EvalRequest {
  const trail = refs(p).trail;
  const [resource, resourcePolicy] = key === "audit" ? [p.auditKeyArn, p.docs.auditKey] : [p.imagesKeyArn, p.docs.imagesKey];
  return { principal: "cloudtrail.amazonaws.com", action, resource, resourceAccount: p.ctx.account, context: { "aws:SourceArn": trail, "kms:EncryptionContext:aws:cloudtrail:arn": trail, ...context }, resourcePolicy };
}
/** An account identity whose IAM policy allows everything: what the resource policies alone leave it. */
function auditor(p: StackPolicies, action: string, resource: string, resourcePolicy: PolicyDocument, context: Record<string, string> = {}, principal = refs(p).auditor): EvalRequest {
  return { principal, action, resource, resourceAccount: p.ctx.account, context, identityPolicies: [everything], resourcePolicy };
}

export const SERVICE_SCENARIOS: Scenario[] = [
  { name: "CloudTrail checks the trail bucket's ACL", source: DOC.trailBucket, expect: "Allow", request: (p) => ({ principal: "cloudtrail.amazonaws.com", action: "s3:GetBucketAcl", resource: refs(p).trailBucket, resourceAccount: p.ctx.account, context: { ...TLS, "aws:SourceArn": refs(p).trail }, resourcePolicy: p.docs.trailBucket }) },
  { name: "CloudTrail delivers a log file", source: DOC.trailBucket, expect: "Allow", request: (p) => cloudTrailPut(p, logKey(p), {}) },
  { name: "CloudTrail delivers a log file of another region (multi-region trail)", source: DOC.trailBucket, expect: "Allow", request: (p) => cloudTrailPut(p, logKey(p, "ap-southeast-2"), {}) },
  { name: "CloudTrail delivers a digest file", source: DOC.trailBucket, expect: "Allow", request: (p) => cloudTrailPut(p, digestKey(p), {}) },
  { name: "CloudTrail delivers without bucket-owner-full-control", source: DOC.trailBucket, expect: "Deny", request: (p) => cloudTrailPut(p, logKey(p), { "s3:x-amz-acl": "private" }) },
  { name: "another trail of the account delivers into the trail bucket", source: DOC.trailBucket, expect: "Deny", request: (p) => cloudTrailPut(p, logKey(p), { "aws:SourceArn": otherTrail(p) }) },
  { name: "another account's trail delivers into the trail bucket", source: DOC.trailBucket, expect: "Deny", request: (p) => cloudTrailPut(p, logKey(p), { "aws:SourceArn": otherTrail(p, OTHER_ACCOUNT) }) },
  { name: "CloudTrail encrypts a log file with the audit key", source: DOC.trailKey, expect: "Allow", request: (p) => cloudTrailKms(p, "kms:GenerateDataKey", "audit", {}) },
  { name: "CloudTrail describes the audit key (CreateTrail, UpdateTrail)", source: DOC.trailKey, expect: "Allow", request: (p) => ({ ...cloudTrailKms(p, "kms:DescribeKey", "audit", {}), context: { "aws:SourceArn": refs(p).trail } }) },
  { name: "another trail encrypts with the audit key", source: DOC.trailKey, expect: "Deny", request: (p) => cloudTrailKms(p, "kms:GenerateDataKey", "audit", { "aws:SourceArn": otherTrail(p), "kms:EncryptionContext:aws:cloudtrail:arn": otherTrail(p) }) },
  { name: "another account's trail encrypts with the audit key", source: DOC.trailKey, expect: "Deny", request: (p) => cloudTrailKms(p, "kms:GenerateDataKey", "audit", { "aws:SourceArn": otherTrail(p, OTHER_ACCOUNT), "kms:EncryptionContext:aws:cloudtrail:arn": otherTrail(p, OTHER_ACCOUNT) }) },
  { name: "CloudTrail uses the images key", source: DOC.trailKey, expect: "Deny", request: (p) => cloudTrailKms(p, "kms:GenerateDataKey", "images", {}) },
  // An auditor reads log and digest files and decrypts the log files (validate-logs does both).
  { name: "an auditor reads a log file", source: DOC.validate, expect: "Allow", request: (p) => auditor(p, "s3:GetObject", logKey(p), p.docs.trailBucket, TLS) },
  { name: "an auditor reads a digest file", source: DOC.validate, expect: "Allow", request: (p) => auditor(p, "s3:GetObject", digestKey(p), p.docs.trailBucket, TLS) },
  { name: "an auditor decrypts a log file", source: DOC.trailKey, expect: "Allow", request: (p) => auditor(p, "kms:Decrypt", p.auditKeyArn, p.docs.auditKey, { "kms:CallerAccount": p.ctx.account, "kms:EncryptionContext:aws:cloudtrail:arn": refs(p).trail }) },
  { name: "an auditor decrypts another trail's data with the audit key", source: DOC.trailKey, expect: "Deny", request: (p) => auditor(p, "kms:Decrypt", p.auditKeyArn, p.docs.auditKey, { "kms:CallerAccount": p.ctx.account, "kms:EncryptionContext:aws:cloudtrail:arn": otherTrail(p) }) },
  { name: "another account's administrator decrypts a log file", source: DOC.trailKey, expect: "Deny", request: (p) => auditor(p, "kms:Decrypt", p.auditKeyArn, p.docs.auditKey, { "kms:CallerAccount": OTHER_ACCOUNT, "kms:EncryptionContext:aws:cloudtrail:arn": refs(p).trail }, `arn:${p.ctx.partition}:iam::${OTHER_ACCOUNT}:role/admin`) },
  { name: "an account administrator decrypts with the images key directly", source: DOC.sseKms, expect: "Deny", request: (p) => auditor(p, "kms:Decrypt", p.imagesKeyArn, p.docs.imagesKey, { "kms:CallerAccount": p.ctx.account }) },
  { name: "an account administrator administers the images key (no lockout)", source: "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html", expect: "Allow", request: (p) => auditor(p, "kms:PutKeyPolicy", p.imagesKeyArn, p.docs.imagesKey, { "kms:CallerAccount": p.ctx.account }) },
  { name: "an account administrator administers the audit key (no lockout)", source: "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html", expect: "Allow", request: (p) => auditor(p, "kms:PutKeyPolicy", p.auditKeyArn, p.docs.auditKey, { "kms:CallerAccount": p.ctx.account }) },
  { name: "an identity grants itself the images key (GrantIsForAWSResource false)", source: DOC.grants, expect: "Deny", request: (p) => auditor(p, "kms:CreateGrant", p.imagesKeyArn, p.docs.imagesKey, { "kms:CallerAccount": p.ctx.account, "kms:GrantIsForAWSResource": "false" }) },
  { name: "an identity grants itself the audit key (GrantIsForAWSResource false)", source: DOC.grants, expect: "Deny", request: (p) => auditor(p, "kms:CreateGrant", p.auditKeyArn, p.docs.auditKey, { "kms:CallerAccount": p.ctx.account, "kms:GrantIsForAWSResource": "false" }) },
  { name: "Lambda creates a grant on the images key for the function", source: DOC.envVars, expect: "Allow", request: (p) => auditor(p, "kms:CreateGrant", p.imagesKeyArn, p.docs.imagesKey, { "kms:CallerAccount": p.ctx.account, "kms:GrantIsForAWSResource": "true", "kms:ViaService": viaService(p.ctx, "lambda") }) },
  { name: "plain HTTP to the trail bucket, even for an administrator", source: DOC.tls, expect: "ExplicitDeny", request: (p) => auditor(p, "s3:GetObject", logKey(p), p.docs.trailBucket, { "aws:SecureTransport": "false" }) },
  { name: "plain HTTP to the images bucket, even for an administrator", source: DOC.tls, expect: "ExplicitDeny", request: (p) => auditor(p, "s3:ListBucket", refs(p).imagesBucket, p.docs.imagesBucket, { "aws:SecureTransport": "false" }) },
  { name: "plain HTTP from CloudTrail", source: DOC.tls, expect: "ExplicitDeny", request: (p) => cloudTrailPut(p, logKey(p), { "aws:SecureTransport": "false" }) },
];

/** A request of the function (its role's session, the role's policy and boundary). */
function fn(p: StackPolicies, action: string, resource: string, context: Record<string, string | string[]>, resourcePolicy?: PolicyDocument, role = p.docs.role): EvalRequest {
  return { principal: refs(p).session, action, resource, resourceAccount: p.ctx.account, context, identityPolicies: [role], permissionsBoundary: p.docs.boundary, resourcePolicy };
}
const object = (p: StackPolicies, key: string) => `${refs(p).imagesBucket}/${key}`;
const s3Object = (action: string, key: string): ((p: StackPolicies) => EvalRequest) => (p) => fn(p, action, object(p, key), TLS, p.docs.imagesBucket);
const viaS3 = (p: StackPolicies, bucket = refs(p).imagesBucket) => ({ "kms:ViaService": viaService(p.ctx, "s3"), "kms:CallerAccount": p.ctx.account, "kms:EncryptionContext:aws:s3:arn": bucket });
const ID = "0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f";
const widened: PolicyDocument = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:*", "kms:*", "iam:*"], Resource: "*" }] };
const signing = Object.fromEntries(Object.entries(SIGNING_SECRET_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]));

export const FUNCTION_SCENARIOS: Scenario[] = [
  { name: "the function reads an upload", source: DOC.sseKms, expect: "Allow", request: s3Object("s3:GetObject", `uploads/${ID}`) },
  { name: "a presigned PUT of an upload (signed by the function's role)", source: DOC.presigned, expect: "Allow", request: s3Object("s3:PutObject", `uploads/${ID}`) },
  { name: "the function removes a checked upload", source: DOC.sseKms, expect: "Allow", request: s3Object("s3:DeleteObject", `uploads/${ID}`) },
  { name: "the function copies a checked upload to originals/", source: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html", expect: "Allow", request: s3Object("s3:PutObject", `originals/${ID}`) },
  { name: "the function reads an original", source: DOC.sseKms, expect: "Allow", request: s3Object("s3:GetObject", `originals/${ID}`) },
  { name: "the function writes a variant", source: DOC.sseKms, expect: "Allow", request: s3Object("s3:PutObject", `resized/${ID}/thumbnail.webp`) },
  { name: "the function deletes an image (DELETE /images/{id})", source: DOC.sseKms, expect: "Allow", request: s3Object("s3:DeleteObject", `resized/${ID}/thumbnail.webp`) },
  { name: "the function lists a variant prefix", source: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html", expect: "Allow", request: (p) => fn(p, "s3:ListBucket", refs(p).imagesBucket, { ...TLS, "s3:prefix": `resized/${ID}/` }, p.docs.imagesBucket) },
  { name: "the function lists another prefix", source: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html", expect: "Deny", request: (p) => fn(p, "s3:ListBucket", refs(p).imagesBucket, { ...TLS, "s3:prefix": "private/" }, p.docs.imagesBucket) },
  { name: "the function reads an object outside its prefixes", source: DOC.sseKms, expect: "Deny", request: s3Object("s3:GetObject", "private/notes.txt") },
  { name: "the function changes the images bucket's policy", source: DOC.boundary, expect: "Deny", request: (p) => fn(p, "s3:PutBucketPolicy", refs(p).imagesBucket, TLS, p.docs.imagesBucket) },
  { name: "the function reads an audit log file", source: DOC.boundary, expect: "Deny", request: (p) => fn(p, "s3:GetObject", logKey(p), TLS, p.docs.trailBucket) },
  { name: "the function reads another stack's images", source: DOC.boundary, expect: "Deny", request: (p) => fn(p, "s3:GetObject", `${bucketArn(p.ctx, p.ctx.names.imagesBucket.replace(p.ctx.names.stack, "other"))}/originals/${ID}`, TLS) },
  { name: "S3 decrypts an image for the function", source: DOC.sseKms, expect: "Allow", request: (p) => fn(p, "kms:Decrypt", p.imagesKeyArn, viaS3(p), p.docs.imagesKey) },
  { name: "S3 makes a data key for the function's write", source: DOC.sseKms, expect: "Allow", request: (p) => fn(p, "kms:GenerateDataKey", p.imagesKeyArn, viaS3(p), p.docs.imagesKey) },
  { name: "S3 decrypts another bucket's object with the images key for the function", source: DOC.sseKms, expect: "Deny", request: (p) => fn(p, "kms:Decrypt", p.imagesKeyArn, viaS3(p, refs(p).trailBucket), p.docs.imagesKey) },
  { name: "the function decrypts with the audit key", source: DOC.trailKey, expect: "Deny", request: (p) => fn(p, "kms:Decrypt", p.auditKeyArn, { "kms:CallerAccount": p.ctx.account, "kms:EncryptionContext:aws:cloudtrail:arn": refs(p).trail }, p.docs.auditKey) },
  { name: "S3 decrypts an audit log for the function", source: DOC.trailKey, expect: "Deny", request: (p) => fn(p, "kms:Decrypt", p.auditKeyArn, viaS3(p, refs(p).trailBucket), p.docs.auditKey) },
  { name: "Lambda decrypts the function's environment", source: DOC.envVars, expect: "Allow", request: (p) => fn(p, "kms:Decrypt", p.imagesKeyArn, { "kms:ViaService": viaService(p.ctx, "lambda"), "kms:CallerAccount": p.ctx.account }, p.docs.imagesKey) },
  { name: "the function decrypts the URL-signing secret", source: "https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html", expect: "Allow", request: (p) => fn(p, "kms:Decrypt", p.imagesKeyArn, signing, p.docs.imagesKey) },
  { name: "the function decrypts any other ciphertext of the images key directly", source: "https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html", expect: "Deny", request: (p) => fn(p, "kms:Decrypt", p.imagesKeyArn, { "kms:CallerAccount": p.ctx.account }, p.docs.imagesKey) },
  { name: "the function encrypts with the signing context (it never makes secrets)", source: "https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html", expect: "Deny", request: (p) => fn(p, "kms:Encrypt", p.imagesKeyArn, signing, p.docs.imagesKey) },
  {
    // Lambda writes a failed S3-trigger event's record as the function's role, under its fixed prefix.
    name: "Lambda records a failed asynchronous event in the images bucket for the function",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html",
    expect: "Allow",
    request: (p) => s3Object("s3:PutObject", `aws/lambda/async/${p.ctx.names.functionName}/2026/01/02/2026-01-02T03.04.05-0b6f5c1e`)(p),
  },
  { name: "the function writes its logs", source: "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html", expect: "Allow", request: (p) => fn(p, "logs:PutLogEvents", arn(p.ctx, "logs", `log-group:${p.ctx.names.functionLogGroup}:log-stream:2026/01/02/[$LATEST]abc`), {}) },
  { name: "the function writes another function's logs", source: "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html", expect: "Deny", request: (p) => fn(p, "logs:PutLogEvents", arn(p.ctx, "logs", "log-group:/aws/lambda/other-fn:log-stream:x"), {}) },
  // The boundary holds whatever policy the role is given later, and against a bucket policy naming the role's session.
  { name: "a widened role policy still cannot reach the audit trail", source: DOC.boundary, expect: "Deny", request: (p) => fn(p, "s3:GetObject", logKey(p), TLS, p.docs.trailBucket, widened) },
  { name: "a widened role policy still cannot reach other buckets", source: DOC.boundary, expect: "Deny", request: (p) => fn(p, "s3:GetObject", `arn:${p.ctx.partition}:s3:::some-other-bucket/x`, TLS, undefined, widened) },
  { name: "a widened role policy still cannot use IAM", source: DOC.boundary, expect: "Deny", request: (p) => fn(p, "iam:CreateUser", `arn:${p.ctx.partition}:iam::${p.ctx.account}:user/x`, {}, undefined, widened) },
  {
    name: "a trail bucket policy naming the function's session still cannot let it delete audit logs",
    source: DOC.boundary,
    expect: "ExplicitDeny",
    request: (p) => fn(p, "s3:DeleteObject", logKey(p), TLS, { ...p.docs.trailBucket, Statement: [...p.docs.trailBucket.Statement, { Effect: "Allow", Principal: { AWS: refs(p).session }, Action: "s3:DeleteObject", Resource: `${refs(p).trailBucket}/*` }] }),
  },
];

const apiSource = (p: StackPolicies, apiId: string, account = p.ctx.account) => arn({ ...p.ctx, account }, "execute-api", `${apiId}/prod/GET/images/${ID}`);
const invoke = (p: StackPolicies, principal: string, context: Record<string, string>): EvalRequest => ({ principal, action: "lambda:InvokeFunction", resource: refs(p).fn, resourceAccount: p.ctx.account, context, resourcePolicy: p.docs.invoke });

export const INVOKE_SCENARIOS: Scenario[] = [
  { name: "API Gateway invokes the function from this API", source: DOC.invoke, expect: "Allow", request: (p) => invoke(p, "apigateway.amazonaws.com", { "aws:SourceArn": apiSource(p, p.restApiId), "aws:SourceAccount": p.ctx.account }) },
  { name: "API Gateway invokes the function from another API", source: DOC.invoke, expect: "Deny", request: (p) => invoke(p, "apigateway.amazonaws.com", { "aws:SourceArn": apiSource(p, "zz9zz9zz9z"), "aws:SourceAccount": p.ctx.account }) },
  { name: "API Gateway invokes the function from another account's API", source: DOC.invoke, expect: "Deny", request: (p) => invoke(p, "apigateway.amazonaws.com", { "aws:SourceArn": apiSource(p, p.restApiId, OTHER_ACCOUNT), "aws:SourceAccount": OTHER_ACCOUNT }) },
  { name: "S3 invokes the function for the images bucket", source: DOC.invoke, expect: "Allow", request: (p) => invoke(p, "s3.amazonaws.com", { "aws:SourceArn": refs(p).imagesBucket, "aws:SourceAccount": p.ctx.account }) },
  { name: "S3 invokes the function for a same-named bucket of another account", source: DOC.invoke, expect: "Deny", request: (p) => invoke(p, "s3.amazonaws.com", { "aws:SourceArn": refs(p).imagesBucket, "aws:SourceAccount": OTHER_ACCOUNT }) },
  { name: "S3 invokes the function for another bucket", source: DOC.invoke, expect: "Deny", request: (p) => invoke(p, "s3.amazonaws.com", { "aws:SourceArn": refs(p).trailBucket, "aws:SourceAccount": p.ctx.account }) },
];
