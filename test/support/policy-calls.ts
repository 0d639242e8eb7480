// What IAM authorizes for each AWS call a deploy or teardown made: the action,
// the resource ARN and the request context the call carries (tags on create,
// the resource's own tags, the role's boundary, the service a role is passed
// to, the encryption context), plus the authorizations AWS adds for tags sent
// on create and for Lambda's use of the key. Each becomes an EvalRequest for
// the deploying identity, with the resource's own policy as moto holds it.
import { arn, bucketArn, servicePrincipal, viaService } from "../../deploy/arns.ts";
import { cloudFrontAuthorizations } from "./policy-calls-cloudfront.ts";
import type { EvalRequest } from "./policy-eval.ts";
import type { StackPolicies } from "./policy-stack.ts";
import { refs } from "./policy-stack.ts";
import { cdnAuthorizations } from "./policy-calls-cdn.ts";

/** One AWS call as the deploy sent it; for API Gateway, the HTTP request it became. */
export interface Call {
  service: string;
  command: string;
  input: Record<string, unknown>;
  http?: { method: string; path: string };
}

/** What moto held after the deploy: tags by key id, API id, plan id and API key id; aliases; the function role's boundary. */
export interface Inventory {
  tags: Map<string, Record<string, string>>;
  aliases: Map<string, string>;
  keyPolicies: Map<string, StackPolicies["docs"]["imagesKey"]>;
  roleBoundary?: string;
}

export interface Authorization {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  policy?: EvalRequest["resourcePolicy"];
  pathAuthorized?: boolean;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");
const requestTags = (tags: Record<string, string>) => ({ ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), "aws:TagKeys": Object.keys(tags) });
const resourceTags = (tags: Record<string, string> | undefined) => Object.fromEntries(Object.entries(tags ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
const pairs = (list: unknown, k = "Key", v = "Value") => Object.fromEntries(((list as Array<Record<string, string>> | undefined) ?? []).map((t) => [t[k]!, t[v]!]));

/** S3 commands whose IAM action is not "s3:" + the command name. */
const S3_ACTIONS: Record<string, string> = {
  HeadBucket: "ListBucket", ListObjects: "ListBucket", ListObjectsV2: "ListBucket", ListObjectVersions: "ListBucketVersions",
  PutPublicAccessBlock: "PutBucketPublicAccessBlock", GetPublicAccessBlock: "GetBucketPublicAccessBlock",
  PutBucketEncryption: "PutEncryptionConfiguration", GetBucketEncryption: "GetEncryptionConfiguration",
  PutBucketLifecycleConfiguration: "PutLifecycleConfiguration", GetBucketLifecycleConfiguration: "GetLifecycleConfiguration",
  PutBucketNotificationConfiguration: "PutBucketNotification", GetBucketNotificationConfiguration: "GetBucketNotification",
  PutBucketCors: "PutBucketCORS", GetBucketCors: "GetBucketCORS", DeleteObjects: "DeleteObject", HeadObject: "GetObject",
  PutObjectLockConfiguration: "PutBucketObjectLockConfiguration", GetObjectLockConfiguration: "GetBucketObjectLockConfiguration",
};

/** The authorizations one call needs; a string when the call has no known mapping (a finding). */
export function authorizations(call: Call, p: StackPolicies, inv: Inventory): Authorization[] | string {
  const { service, command, input } = call;
  const { ctx } = p;
  const r = refs(p);
  switch (service) {
    case "sts":
      return command === "GetCallerIdentity" ? [] : `no IAM mapping for sts:${command}`;
    case "s3": {
      const bucket = bucketArn(ctx, str(input.Bucket));
      const policy = bucket === r.imagesBucket ? p.docs.imagesBucket : bucket === r.trailBucket ? p.docs.trailBucket : undefined;
      const context = { "aws:SecureTransport": "true" };
      if (command === "DeleteObjects") {
        const objects = (input.Delete as { Objects?: Array<{ Key?: string; VersionId?: string }> }).Objects ?? [];
        return objects.map((o) => ({ action: o.VersionId ? "s3:DeleteObjectVersion" : "s3:DeleteObject", resource: `${bucket}/${o.Key}`, context, policy }));
      }
      const action = `s3:${S3_ACTIONS[command] ?? command}`;
      return [{ action: input.VersionId ? `${action}Version` : action, resource: input.Key === undefined ? bucket : `${bucket}/${str(input.Key)}`, context, policy }];
    }
    case "iam":
      return iamAuthorizations(command, input, p, inv);
    case "kms":
      return kmsAuthorizations(command, input, p, inv);
    case "lambda": {
      // Account-level: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html (no resource type).
      if (command === "GetAccountSettings") return [{ action: "lambda:GetAccountSettings", resource: "*", context: {} }];
      const name = str(input.FunctionName) || str(input.Resource);
      const fn = name.startsWith("arn:") ? name : arn(ctx, "lambda", `function:${name}`);
      const action = `lambda:${command.replace(/V2$/, "")}`;
      const out: Authorization[] = [{ action, resource: fn, context: command === "AddPermission" ? { "lambda:Principal": str(input.Principal) } : {}, policy: p.docs.invoke }];
      if (command === "CreateFunction" && input.Tags) {
        out[0]!.context = requestTags(input.Tags as Record<string, string>);
        out.push({ action: "lambda:TagResource", resource: fn, context: requestTags(input.Tags as Record<string, string>) });
      }
      if (input.Role !== undefined) out.push({ action: "iam:PassRole", resource: str(input.Role), context: { "iam:PassedToService": servicePrincipal("lambda") } });
      // Lambda uses the key named for the environment on the caller's behalf: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
      const keyArn = str(input.KMSKeyArn);
      if (keyArn) {
        const viaLambda = { "kms:ViaService": viaService(ctx, "lambda") };
        out.push(...kmsOnKey("kms:Encrypt", keyArn, viaLambda, p, inv), ...kmsOnKey("kms:CreateGrant", keyArn, { ...viaLambda, "kms:GrantIsForAWSResource": "true" }, p, inv));
      }
      return out;
    }
    case "logs": {
      if (command === "DescribeLogGroups") return [{ action: "logs:DescribeLogGroups", resource: "*", context: {} }];
      const group = str(input.resourceArn) || arn(ctx, "logs", `log-group:${str(input.logGroupName)}`);
      const tags = input.tags as Record<string, string> | undefined;
      const out: Authorization[] = [{ action: `logs:${command}`, resource: group, context: tags ? requestTags(tags) : {} }];
      if (command === "CreateLogGroup" && tags) out.push({ action: "logs:TagResource", resource: group, context: requestTags(tags) });
      return out;
    }
    case "cloudtrail": {
      if (command === "DescribeTrails") return [{ action: "cloudtrail:DescribeTrails", resource: "*", context: {} }];
      // Another trail's selectors (is it already recording management events?): named by its ARN.
      const name = str(input.Name) || str(input.TrailName) || str(input.ResourceId) || str((input.ResourceIdList as string[] | undefined)?.[0]);
      const trail = name.startsWith("arn:") ? name : arn(ctx, "cloudtrail", `trail/${name}`);
      const tags = input.TagsList ? pairs(input.TagsList) : undefined;
      const out: Authorization[] = [{ action: `cloudtrail:${command}`, resource: trail, context: tags ? requestTags(tags) : {} }];
      if (command === "CreateTrail" && tags) out.push({ action: "cloudtrail:AddTags", resource: trail, context: requestTags(tags) });
      return out;
    }
    case "apigw":
      return apiGatewayAuthorizations(call, p, inv);
    case "tagging":
      return command === "GetResources" ? [{ action: "tag:GetResources", resource: "*", context: {} }] : `no IAM mapping for tag:${command}`;
    case "wafv2":
      return wafAuthorizations(command, input, p, inv);
    case "acm":
    case "route53":
    case "wafv2Cdn":
      return cdnAuthorizations(service, command, input, p, inv);
    case "cloudfront":
      return cloudFrontAuthorizations(command, input, p);
    default:
      return `no IAM mapping for ${service}:${command}`;
  }
}

function iamAuthorizations(command: string, input: Record<string, unknown>, p: StackPolicies, inv: Inventory): Authorization[] {
  const { ctx } = p;
  if (command === "CreatePolicy" || command.endsWith("PolicyVersion") || command === "GetPolicy") {
    const policyArn = str(input.PolicyArn) || `arn:${ctx.partition}:iam::${ctx.account}:policy/${str(input.PolicyName)}`;
    const tags = input.Tags ? pairs(input.Tags) : undefined;
    return [{ action: `iam:${command}`, resource: policyArn, context: tags ? requestTags(tags) : {} }, ...(tags ? [{ action: "iam:TagPolicy", resource: policyArn, context: requestTags(tags) }] : [])];
  }
  const role = `arn:${ctx.partition}:iam::${ctx.account}:role/${str(input.RoleName)}`;
  const ofFunctionRole = str(input.RoleName) === ctx.names.roleName;
  const boundary = str(input.PermissionsBoundary) || (ofFunctionRole ? inv.roleBoundary : undefined);
  const takesBoundary = ["CreateRole", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "PutRolePermissionsBoundary", "UpdateAssumeRolePolicy", "DeleteRole"].includes(command);
  const context: Record<string, string | string[]> = { ...(takesBoundary && boundary ? { "iam:PermissionsBoundary": boundary } : {}) };
  if (input.PolicyArn !== undefined && (command === "AttachRolePolicy" || command === "DetachRolePolicy")) context["iam:PolicyARN"] = str(input.PolicyArn);
  const tags = input.Tags ? pairs(input.Tags) : undefined;
  if (tags && (command === "CreateRole" || command === "TagRole")) Object.assign(context, requestTags(tags));
  return [{ action: `iam:${command}`, resource: role, context }, ...(tags && command === "CreateRole" ? [{ action: "iam:TagRole", resource: role, context: requestTags(tags) }] : [])];
}

/** A call on one key: its ARN, its tags and its policy as moto holds them. */
function kmsOnKey(action: string, keyIdOrAlias: string, context: Record<string, string | string[]>, p: StackPolicies, inv: Inventory): Authorization[] {
  const id = keyIdOrAlias.startsWith("alias/") ? inv.aliases.get(keyIdOrAlias) : keyIdOrAlias.split("/").pop();
  const resource = arn(p.ctx, "kms", `key/${id ?? "unknown"}`);
  return [{ action, resource, context: { "kms:CallerAccount": p.ctx.account, ...resourceTags(inv.tags.get(id ?? "")), ...context }, policy: inv.keyPolicies.get(id ?? "") }];
}

function kmsAuthorizations(command: string, input: Record<string, unknown>, p: StackPolicies, inv: Inventory): Authorization[] {
  const { ctx } = p;
  const caller = { "kms:CallerAccount": ctx.account };
  if (command === "ListKeys" || command === "ListAliases") return [{ action: `kms:${command}`, resource: "*", context: {} }];
  if (command === "CreateKey") {
    const tags = pairs(input.Tags, "TagKey", "TagValue");
    // Tags sent with CreateKey are authorized as kms:TagResource on the new key: https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html
    const newKey = { action: "kms:TagResource", resource: arn(ctx, "kms", "key/00000000-0000-4000-8000-000000000000"), context: { ...caller, ...requestTags(tags) }, policy: JSON.parse(str(input.Policy)) };
    return [{ action: "kms:CreateKey", resource: "*", context: { ...caller, ...requestTags(tags) } }, ...(Object.keys(tags).length ? [newKey] : [])];
  }
  const context: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries((input.EncryptionContext as Record<string, string> | undefined) ?? {})) context[`kms:EncryptionContext:${k}`] = v;
  if (input.Tags) Object.assign(context, requestTags(pairs(input.Tags, "TagKey", "TagValue")));
  const out: Authorization[] = [];
  const alias = str(input.AliasName);
  if (alias) out.push({ action: `kms:${command}`, resource: arn(ctx, "kms", alias), context: caller });
  const key = str(input.KeyId) || str(input.TargetKeyId) || (command === "DeleteAlias" ? alias : "");
  if (key) out.push(...kmsOnKey(`kms:${command}`, key, context, p, inv));
  return out;
}

function apiGatewayAuthorizations(call: Call, p: StackPolicies, inv: Inventory): Authorization[] | string {
  if (call.http === undefined) return `no HTTP request seen for apigateway ${call.command}`;
  const path = decodeURIComponent(call.http.path);
  const owner = /^\/(restapis|usageplans|apikeys)\/([^/]+)/.exec(path)?.[2];
  const body = call.input.tags as Record<string, string> | undefined;
  const context = { ...resourceTags(owner ? inv.tags.get(owner) : undefined), ...(body ? requestTags(body) : {}) };
  const out: Authorization[] = [{ action: `apigateway:${call.http.method}`, resource: `arn:${p.ctx.partition}:apigateway:${p.ctx.region}::${path}`, context, pathAuthorized: true }];
  for (const op of (call.input.patchOperations as Array<{ path?: string; value?: string }> | undefined) ?? []) {
    if (op.path === "/cloudwatchRoleArn" && op.value) out.push({ action: "iam:PassRole", resource: op.value, context: { "iam:PassedToService": servicePrincipal("apigateway") } });
  }
  return out;
}

/**
 * WAF checks the web ACL and, for the resource an ACL is set on, the
 * resource's ARN; API Gateway adds apigateway:SetWebACL on the stage.
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awswafv2.html
 */
function wafAuthorizations(command: string, input: Record<string, unknown>, p: StackPolicies, inv: Inventory): Authorization[] | string {
  if (command === "ListWebACLs") return [{ action: "wafv2:ListWebACLs", resource: "*", context: {} }];
  const acl = str(input.WebACLArn) || arn(p.ctx, "wafv2", `regional/webacl/${str(input.Name)}/${str(input.Id) || "00000000-0000-4000-8000-000000000000"}`);
  const stage = str(input.ResourceArn);
  // API Gateway's actions are authorized on paths (see apiGatewayAuthorizations).
  const onStage = (action: string) => ({ action, resource: stage, context: resourceTags(inv.tags.get(/\/restapis\/([^/]+)\//.exec(stage)?.[1] ?? "")), pathAuthorized: action.startsWith("apigateway:") });
  switch (command) {
    case "CreateWebACL":
      return [{ action: "wafv2:CreateWebACL", resource: acl, context: requestTags(pairs(input.Tags)) }];
    case "GetWebACL":
    case "UpdateWebACL":
    case "DeleteWebACL":
      return [{ action: `wafv2:${command}`, resource: acl, context: {} }];
    case "GetWebACLForResource":
      return [onStage("wafv2:GetWebACLForResource")];
    case "AssociateWebACL":
      return [{ action: "wafv2:AssociateWebACL", resource: acl, context: {} }, onStage("wafv2:AssociateWebACL"), onStage("apigateway:SetWebACL")];
    case "DisassociateWebACL":
      return [onStage("wafv2:DisassociateWebACL"), onStage("apigateway:SetWebACL")];
    default:
      return `no IAM mapping for wafv2:${command}`;
  }
}
