// The deploying identity (deploy/deployer-policy*.json, nothing else attached):
// a sample of the calls deploy and teardown make, with the context AWS sends
// (tags on create, the boundary, the service a role is passed to), which must
// be allowed; and what it must never do to another stack, other keys and APIs,
// or the audit trail. policy-moto.test.ts checks every call a real run makes.
import { arn, auditKeyAlias, bucketArn, functionBoundaryArn, viaService } from "../../deploy/arns.ts";
import { STACK_TAG } from "../../deploy/names.ts";
import type { PolicyDocument } from "../../deploy/policies/document.ts";
import type { EvalRequest } from "./policy-eval.ts";
import type { Scenario } from "./policy-scenarios.ts";
import { DEPLOYER_CDN_ALLOWED } from "./policy-deployer-cdn-scenarios.ts";
import { defaultKeyPolicy, refs, type StackPolicies } from "./policy-stack.ts";

const DOC = {
  abacKms: "https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html",
  tagOnCreate: "https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html",
  apigwTags: "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-iam-policy.html",
  apigwInherit: "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html",
  apiKeys: "https://docs.aws.amazon.com/apigateway/latest/api/API_GetApiKeys.html",
  boundary: "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html#access_policies_boundaries-delegate",
  passRole: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
  s3Actions: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
  trail: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/security_iam_id-based-policy-examples.html",
  lambda: "https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html",
  logs: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/permissions-reference-cwl.html",
  grants: "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource",
  envVars: "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html",
} as const;

type Context = Record<string, string | string[]>;
const TLS = { "aws:SecureTransport": "true" };

function deployer(p: StackPolicies, action: string, resource: string, context: Context = {}, resourcePolicy?: PolicyDocument): EvalRequest {
  return { principal: refs(p).deployer, action, resource, resourceAccount: p.ctx.account, context, identityPolicies: p.docs.deployer, resourcePolicy };
}
const stackTag = (stack: string, key?: "images" | "audit"): Context => ({ [`aws:ResourceTag/${STACK_TAG}`]: stack, ...(key ? { "aws:ResourceTag/imgapi:key": key } : {}) });
const requestTags = (stack: string, extra: Record<string, string> = {}): Context => {
  const tags = { [STACK_TAG]: stack, "imgapi:managed-by": "imgapi-deploy", ...extra };
  return { ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), "aws:TagKeys": Object.keys(tags) };
};

/** A key and the key policy it would have: ours (images, audit), another stack's, an untagged one, one being created. */
function key(p: StackPolicies, which: "images" | "audit" | "other" | "untagged" | "new"): { resource: string; policy: PolicyDocument; tags: Context } {
  const kms = (id: string) => arn(p.ctx, "kms", `key/${id}`);
  switch (which) {
    case "images": return { resource: p.imagesKeyArn, policy: p.docs.imagesKey, tags: stackTag(p.ctx.names.stack, "images") };
    case "audit": return { resource: p.auditKeyArn, policy: p.docs.auditKey, tags: stackTag(p.ctx.names.stack, "audit") };
    case "other": return { resource: kms("5e5e5e5e-1111-4222-8333-444455556666"), policy: defaultKeyPolicy(p.ctx), tags: stackTag("other-stack", "images") };
    case "untagged": return { resource: kms("9a9a9a9a-1111-4222-8333-444455556666"), policy: defaultKeyPolicy(p.ctx), tags: {} };
    case "new": return { resource: kms("1c1c1c1c-1111-4222-8333-444455556666"), policy: p.docs.imagesKey, tags: {} };
  }
}
function kms(action: string, which: Parameters<typeof key>[1], context: Context = {}, policy?: (p: StackPolicies) => PolicyDocument): (p: StackPolicies) => EvalRequest {
  return (p) => {
    const k = key(p, which);
    return deployer(p, action, k.resource, { "kms:CallerAccount": p.ctx.account, ...k.tags, ...context }, policy?.(p) ?? k.policy);
  };
}
const apigw = (p: StackPolicies, path: string) => `arn:${p.ctx.partition}:apigateway:${p.ctx.region}::${path}`;
const api = (method: string, path: (p: StackPolicies) => string, context: (p: StackPolicies) => Context = () => ({})) => (p: StackPolicies) => deployer(p, `apigateway:${method}`, apigw(p, path(p)), context(p));
const role = (p: StackPolicies, name = p.ctx.names.roleName) => `arn:${p.ctx.partition}:iam::${p.ctx.account}:role/${name}`;
const withBoundary = (p: StackPolicies, boundary = functionBoundaryArn(p.ctx)) => ({ "iam:PermissionsBoundary": boundary });
const logObject = (p: StackPolicies) => `${refs(p).trailBucket}/AWSLogs/${p.ctx.account}/CloudTrail/${p.ctx.region}/2026/01/02/x.json.gz`;
const OTHER_API = "zz9zz9zz9z";

export const DEPLOYER_ALLOWED: Scenario[] = [
  { name: "creates the images bucket", source: DOC.s3Actions, expect: "Allow", request: (p) => deployer(p, "s3:CreateBucket", refs(p).imagesBucket, TLS) },
  { name: "writes the trail bucket's policy", source: DOC.s3Actions, expect: "Allow", request: (p) => deployer(p, "s3:PutBucketPolicy", refs(p).trailBucket, TLS, p.docs.trailBucket) },
  { name: "sets the images bucket's S3 trigger", source: DOC.s3Actions, expect: "Allow", request: (p) => deployer(p, "s3:PutBucketNotification", refs(p).imagesBucket, TLS, p.docs.imagesBucket) },
  { name: "teardown --delete-data deletes an image version", source: DOC.s3Actions, expect: "Allow", request: (p) => deployer(p, "s3:DeleteObjectVersion", `${refs(p).imagesBucket}/originals/x`, TLS, p.docs.imagesBucket) },
  { name: "creates the function's role with its boundary", source: DOC.boundary, expect: "Allow", request: (p) => deployer(p, "iam:CreateRole", role(p), { ...withBoundary(p), ...requestTags(p.ctx.names.stack) }) },
  { name: "writes the function role's inline policy", source: DOC.boundary, expect: "Allow", request: (p) => deployer(p, "iam:PutRolePolicy", role(p), withBoundary(p)) },
  { name: "reads the function's role", source: DOC.boundary, expect: "Allow", request: (p) => deployer(p, "iam:GetRole", role(p)) },
  { name: "creates the boundary policy", source: DOC.boundary, expect: "Allow", request: (p) => deployer(p, "iam:CreatePolicy", refs(p).boundary, requestTags(p.ctx.names.stack)) },
  { name: "passes the function's role to Lambda", source: DOC.passRole, expect: "Allow", request: (p) => deployer(p, "iam:PassRole", role(p), { "iam:PassedToService": "lambda.amazonaws.com" }) },
  { name: "creates API Gateway's logs role", source: DOC.passRole, expect: "Allow", request: (p) => deployer(p, "iam:CreateRole", role(p, p.ctx.names.apiGatewayLogsRole), requestTags(p.ctx.names.stack)) },
  { name: "attaches AmazonAPIGatewayPushToCloudWatchLogs to it", source: DOC.passRole, expect: "Allow", request: (p) => deployer(p, "iam:AttachRolePolicy", role(p, p.ctx.names.apiGatewayLogsRole), { "iam:PolicyARN": `arn:${p.ctx.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs` }) },
  { name: "passes the logs role to API Gateway", source: DOC.passRole, expect: "Allow", request: (p) => deployer(p, "iam:PassRole", role(p, p.ctx.names.apiGatewayLogsRole), { "iam:PassedToService": "apigateway.amazonaws.com" }) },
  { name: "creates a key tagged for the stack", source: DOC.tagOnCreate, expect: "Allow", request: (p) => deployer(p, "kms:CreateKey", "*", { "kms:CallerAccount": p.ctx.account, ...requestTags(p.ctx.names.stack, { "imgapi:key": "audit" }) }) },
  { name: "tags the key it creates (CreateKey's Tags)", source: DOC.tagOnCreate, expect: "Allow", request: (p) => kms("kms:TagResource", "new", requestTags(p.ctx.names.stack))(p) },
  { name: "finds keys by alias", source: DOC.abacKms, expect: "Allow", request: (p) => deployer(p, "kms:ListAliases", "*") },
  { name: "writes the images key's policy", source: DOC.abacKms, expect: "Allow", request: kms("kms:PutKeyPolicy", "images") },
  { name: "names the audit key (CreateAlias: the key)", source: DOC.abacKms, expect: "Allow", request: kms("kms:CreateAlias", "audit") },
  { name: "names the audit key (CreateAlias: the alias)", source: DOC.abacKms, expect: "Allow", request: (p) => deployer(p, "kms:CreateAlias", arn(p.ctx, "kms", auditKeyAlias(p.ctx)), { "kms:CallerAccount": p.ctx.account }) },
  { name: "teardown --delete-data schedules the images key's deletion", source: DOC.abacKms, expect: "Allow", request: kms("kms:ScheduleKeyDeletion", "images") },
  { name: "encrypts the URL-signing secret", source: "https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html", expect: "Allow", request: kms("kms:Encrypt", "images", { "kms:EncryptionContext:purpose": "imgapi-url-signing" }) },
  { name: "Lambda encrypts the function's environment for the deployer", source: DOC.envVars, expect: "Allow", request: (p) => kms("kms:Encrypt", "images", { "kms:ViaService": viaService(p.ctx, "lambda") })(p) },
  { name: "Lambda decrypts the function's environment for the deployer (GetFunction)", source: DOC.envVars, expect: "Allow", request: (p) => kms("kms:Decrypt", "images", { "kms:ViaService": viaService(p.ctx, "lambda") })(p) },
  { name: "Lambda creates the function's grant for the deployer", source: DOC.grants, expect: "Allow", request: (p) => kms("kms:CreateGrant", "images", { "kms:ViaService": viaService(p.ctx, "lambda"), "kms:GrantIsForAWSResource": "true" })(p) },
  { name: "creates the function", source: DOC.lambda, expect: "Allow", request: (p) => deployer(p, "lambda:CreateFunction", refs(p).fn, requestTags(p.ctx.names.stack)) },
  { name: "lets API Gateway invoke the function", source: DOC.lambda, expect: "Allow", request: (p) => deployer(p, "lambda:AddPermission", refs(p).fn, { "lambda:Principal": "apigateway.amazonaws.com" }) },
  { name: "creates the function's log group", source: DOC.logs, expect: "Allow", request: (p) => deployer(p, "logs:CreateLogGroup", arn(p.ctx, "logs", `log-group:${p.ctx.names.functionLogGroup}`), requestTags(p.ctx.names.stack)) },
  { name: "finds its log groups", source: DOC.logs, expect: "Allow", request: (p) => deployer(p, "logs:DescribeLogGroups", "*") },
  { name: "lists REST APIs", source: DOC.apigwTags, expect: "Allow", request: api("GET", () => "/restapis") },
  { name: "creates the REST API tagged for the stack", source: DOC.apigwTags, expect: "Allow", request: api("POST", () => "/restapis", (p) => requestTags(p.ctx.names.stack)) },
  { name: "puts a method on its API (the API's tag is inherited)", source: DOC.apigwInherit, expect: "Allow", request: api("PUT", (p) => `/restapis/${p.restApiId}/resources/r1/methods/GET`, (p) => stackTag(p.ctx.names.stack)) },
  { name: "reads its usage plan's keys (the plan's tag is inherited)", source: DOC.apigwInherit, expect: "Allow", request: api("GET", () => "/usageplans/u1/keys", (p) => stackTag(p.ctx.names.stack)) },
  { name: "sets the account's CloudWatch role", source: DOC.apigwTags, expect: "Allow", request: api("PATCH", () => "/account") },
  { name: "creates the trail", source: DOC.trail, expect: "Allow", request: (p) => deployer(p, "cloudtrail:CreateTrail", refs(p).trail, requestTags(p.ctx.names.stack)) },
  { name: "finds trails", source: DOC.trail, expect: "Allow", request: (p) => deployer(p, "cloudtrail:DescribeTrails", "*") },
  {
    name: "reads the account's Lambda concurrency before reserving some",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html",
    expect: "Allow",
    request: (p) => deployer(p, "lambda:GetAccountSettings", "*"),
  },
  {
    name: "finds the stack's API keys by tag (never GetApiKeys)",
    source: "https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html",
    expect: "Allow",
    request: (p) => deployer(p, "tag:GetResources", "*"),
  },
  {
    name: "creates the stack's rate-limit web ACL",
    source: "https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html",
    expect: "Allow",
    request: (p) => deployer(p, "wafv2:CreateWebACL", arn(p.ctx, "wafv2", `regional/webacl/${p.ctx.names.stack}-rate-limit/1a2b3c`), requestTags(p.ctx.names.stack)),
  },
  { name: "finds web ACLs", source: "https://docs.aws.amazon.com/waf/latest/APIReference/API_ListWebACLs.html", expect: "Allow", request: (p) => deployer(p, "wafv2:ListWebACLs", "*") },
  {
    name: "associates the web ACL with its stage (WAF's side)",
    source: "https://docs.aws.amazon.com/waf/latest/APIReference/API_AssociateWebACL.html",
    expect: "Allow",
    request: (p) => deployer(p, "wafv2:AssociateWebACL", apigw(p, `/restapis/${p.restApiId}/stages/prod`)),
  },
  {
    name: "associates the web ACL with its stage (API Gateway's side, the stage tagged for the stack)",
    source: "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-aws-waf.html",
    expect: "Allow",
    // API Gateway authorizes it on the stage's path; the reference lists no resource type for it.
    request: (p) => ({ ...deployer(p, "apigateway:SetWebACL", apigw(p, `/restapis/${p.restApiId}/stages/prod`), stackTag(p.ctx.names.stack)), pathAuthorized: true }),
  },
  ...DEPLOYER_CDN_ALLOWED,
];

const grantSelf = (p: StackPolicies, base: PolicyDocument, action: string, resource: string): PolicyDocument => ({
  ...base,
  Statement: [...base.Statement, { Sid: "SelfGrant", Effect: "Allow", Principal: { AWS: refs(p).deployer }, Action: action, Resource: resource }],
});

export const DEPLOYER_DENIED: Scenario[] = [
  {
    name: "sets a web ACL on another stack's stage",
    source: "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-aws-waf.html",
    expect: "Deny",
    request: (p) => ({ ...deployer(p, "apigateway:SetWebACL", apigw(p, `/restapis/${OTHER_API}/stages/prod`), stackTag("other-stack")), pathAuthorized: true }),
  },
  { name: "uses another stack's key", source: DOC.abacKms, expect: "Deny", request: kms("kms:Decrypt", "other") },
  { name: "administers another stack's key", source: DOC.abacKms, expect: "Deny", request: kms("kms:PutKeyPolicy", "other") },
  { name: "administers an untagged key", source: DOC.abacKms, expect: "Deny", request: kms("kms:PutKeyPolicy", "untagged") },
  { name: "uses an untagged key", source: DOC.abacKms, expect: "Deny", request: kms("kms:Encrypt", "untagged", { "kms:EncryptionContext:purpose": "imgapi-url-signing" }) },
  { name: "re-tags another stack's key as its own", source: DOC.abacKms, expect: "ExplicitDeny", request: (p) => kms("kms:TagResource", "other", requestTags(p.ctx.names.stack))(p) },
  { name: "re-tags the audit key as the images key", source: DOC.abacKms, expect: "ExplicitDeny", request: (p) => kms("kms:TagResource", "audit", requestTags(p.ctx.names.stack, { "imgapi:key": "images" }))(p) },
  { name: "schedules the audit key's deletion", source: DOC.abacKms, expect: "Deny", request: kms("kms:ScheduleKeyDeletion", "audit") },
  { name: "creates a key without the stack tag", source: DOC.tagOnCreate, expect: "Deny", request: (p) => deployer(p, "kms:CreateKey", "*", { "kms:CallerAccount": p.ctx.account, ...requestTags("other-stack") }) },
  { name: "decrypts audit logs after naming itself in the audit key's policy", source: DOC.abacKms, expect: "ExplicitDeny", request: kms("kms:Decrypt", "audit", {}, (p) => grantSelf(p, p.docs.auditKey, "kms:Decrypt", "*")) },
  { name: "decrypts images directly after naming itself in the images key's policy", source: DOC.abacKms, expect: "ExplicitDeny", request: kms("kms:Decrypt", "images", {}, (p) => grantSelf(p, p.docs.imagesKey, "kms:Decrypt", "*")) },
  { name: "grants itself the images key", source: DOC.grants, expect: "ExplicitDeny", request: kms("kms:CreateGrant", "images", { "kms:GrantIsForAWSResource": "false" }) },
  { name: "lists API keys (GetApiKeys can return every key's value)", source: DOC.apiKeys, expect: "Deny", request: api("GET", () => "/apikeys") },
  { name: "reads another API's key", source: DOC.apiKeys, expect: "Deny", request: api("GET", () => "/apikeys/k9", () => stackTag("other-stack")) },
  { name: "deletes another stack's REST API", source: DOC.apigwTags, expect: "Deny", request: api("DELETE", () => `/restapis/${OTHER_API}`, () => stackTag("other-stack")) },
  { name: "deletes an untagged REST API", source: DOC.apigwTags, expect: "Deny", request: api("DELETE", () => `/restapis/${OTHER_API}`) },
  { name: "re-tags another REST API as its own", source: DOC.apigwTags, expect: "Deny", request: api("PUT", (p) => `/tags/${encodeURIComponent(apigw(p, `/restapis/${OTHER_API}`))}`, (p) => requestTags(p.ctx.names.stack)) },
  { name: "changes another stack's role", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:PutRolePolicy", role(p, "other-stack-fn-role"), withBoundary(p)) },
  { name: "creates the function's role without the boundary", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:CreateRole", role(p), requestTags(p.ctx.names.stack)) },
  { name: "creates the function's role with another boundary", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:CreateRole", role(p), { ...withBoundary(p, `arn:${p.ctx.partition}:iam::aws:policy/AdministratorAccess`), ...requestTags(p.ctx.names.stack) }) },
  { name: "removes the function role's boundary", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:DeleteRolePermissionsBoundary", role(p), withBoundary(p)) },
  { name: "attaches AdministratorAccess to the function's role", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:AttachRolePolicy", role(p), { ...withBoundary(p), "iam:PolicyARN": `arn:${p.ctx.partition}:iam::aws:policy/AdministratorAccess` }) },
  { name: "widens the boundary policy", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:CreatePolicyVersion", refs(p).boundary) },
  { name: "deletes the boundary policy", source: DOC.boundary, expect: "Deny", request: (p) => deployer(p, "iam:DeletePolicy", refs(p).boundary) },
  { name: "passes the function's role to another service", source: DOC.passRole, expect: "Deny", request: (p) => deployer(p, "iam:PassRole", role(p), { "iam:PassedToService": "ec2.amazonaws.com" }) },
  { name: "passes an administrator role to Lambda", source: DOC.passRole, expect: "Deny", request: (p) => deployer(p, "iam:PassRole", role(p, "admin"), { "iam:PassedToService": "lambda.amazonaws.com" }) },
  { name: "lets anyone invoke the function", source: DOC.lambda, expect: "Deny", request: (p) => deployer(p, "lambda:AddPermission", refs(p).fn, { "lambda:Principal": "*" }) },
  { name: "deletes an audit log file", source: DOC.s3Actions, expect: "ExplicitDeny", request: (p) => deployer(p, "s3:DeleteObject", logObject(p), TLS, p.docs.trailBucket) },
  { name: "deletes an audit log file after granting itself in the trail bucket's policy", source: DOC.s3Actions, expect: "ExplicitDeny", request: (p) => deployer(p, "s3:DeleteObjectVersion", logObject(p), TLS, grantSelf(p, p.docs.trailBucket, "s3:*", `${refs(p).trailBucket}/*`)) },
  { name: "overwrites an audit log file", source: DOC.s3Actions, expect: "ExplicitDeny", request: (p) => deployer(p, "s3:PutObject", logObject(p), TLS, grantSelf(p, p.docs.trailBucket, "s3:*", `${refs(p).trailBucket}/*`)) },
  { name: "expires audit logs with a lifecycle rule", source: DOC.s3Actions, expect: "ExplicitDeny", request: (p) => deployer(p, "s3:PutLifecycleConfiguration", refs(p).trailBucket, TLS, p.docs.trailBucket) },
  { name: "deletes another stack's audit log file", source: DOC.s3Actions, expect: "ExplicitDeny", request: (p) => deployer(p, "s3:DeleteObject", `${bucketArn(p.ctx, p.ctx.names.trailBucket.replace(p.ctx.names.stack, "other-stack"))}/AWSLogs/x`, TLS) },
  { name: "deletes another stack's images bucket", source: DOC.s3Actions, expect: "Deny", request: (p) => deployer(p, "s3:DeleteBucket", bucketArn(p.ctx, p.ctx.names.imagesBucket.replace(p.ctx.names.stack, "other-stack")), TLS) },
  { name: "stops another stack's trail", source: DOC.trail, expect: "Deny", request: (p) => deployer(p, "cloudtrail:StopLogging", arn(p.ctx, "cloudtrail", "trail/other-stack-trail")) },
  { name: "deletes another stack's trail", source: DOC.trail, expect: "Deny", request: (p) => deployer(p, "cloudtrail:DeleteTrail", arn(p.ctx, "cloudtrail", "trail/other-stack-trail")) },
  { name: "updates another function's code", source: DOC.lambda, expect: "Deny", request: (p) => deployer(p, "lambda:UpdateFunctionCode", arn(p.ctx, "lambda", "function:other-stack-fn")) },
  { name: "deletes another stack's log group", source: DOC.logs, expect: "Deny", request: (p) => deployer(p, "logs:DeleteLogGroup", arn(p.ctx, "logs", "log-group:/aws/lambda/other-stack-fn")) },
];
