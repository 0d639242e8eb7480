// What IAM authorizes for the calls of the CDN's companions, all in us-east-1:
// ACM (the custom domain's certificate), Route 53 (its records) and WAF of
// scope CLOUDFRONT (the per-IP rate limit), as policy-calls.ts does for the
// rest. Certificate tags come from the inventory, by certificate ARN.
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscertificatemanager.html
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonroute53.html
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awswafv2.html
import type { NamedScope } from "../../deploy/arns.ts";
import { authorizations, type Authorization, type Call, type Inventory } from "./policy-calls.ts";
import { evaluate } from "./policy-eval.ts";
import { deployerPolicies, type StackPolicies } from "./policy-stack.ts";

const CDN_REGION = "us-east-1";
const str = (v: unknown) => (typeof v === "string" ? v : "");
const tagsOf = (list: unknown) => Object.fromEntries(((list as Array<{ Key: string; Value: string }> | undefined) ?? []).map((t) => [t.Key, t.Value]));
const requestTags = (tags: Record<string, string>) => ({ ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])), "aws:TagKeys": Object.keys(tags) });
const resourceTags = (tags: Record<string, string> | undefined) => Object.fromEntries(Object.entries(tags ?? {}).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
const region = { "aws:RequestedRegion": CDN_REGION };

export function cdnAuthorizations(service: string, command: string, input: Record<string, unknown>, p: StackPolicies, inv: Inventory): Authorization[] | string {
  const { partition, account } = p.ctx;
  if (service === "acm") {
    const certificate = str(input.CertificateArn) || `arn:${partition}:acm:${CDN_REGION}:${account}:certificate/00000000-0000-4000-8000-000000000000`;
    switch (command) {
      case "ListCertificates":
        return [{ action: "acm:ListCertificates", resource: "*", context: region }];
      case "RequestCertificate": {
        const tags = requestTags(tagsOf(input.Tags));
        const asked = { ...region, "acm:ValidationMethod": str(input.ValidationMethod), "acm:DomainNames": [str(input.DomainName)] };
        return [{ action: "acm:RequestCertificate", resource: "*", context: { ...tags, ...asked } }, { action: "acm:AddTagsToCertificate", resource: certificate, context: { ...tags, ...region } }];
      }
      case "DescribeCertificate":
      case "ListTagsForCertificate":
      case "DeleteCertificate":
        return [{ action: `acm:${command}`, resource: certificate, context: { ...resourceTags(inv.tags.get(certificate)), ...region } }];
      default:
        return `no IAM mapping for acm:${command}`;
    }
  }
  if (service === "route53") {
    const zone = `arn:${partition}:route53:::hostedzone/${str(input.HostedZoneId).replace(/^\/hostedzone\//, "")}`;
    if (command === "ListResourceRecordSets") return [{ action: "route53:ListResourceRecordSets", resource: zone, context: {} }];
    if (command !== "ChangeResourceRecordSets") return `no IAM mapping for route53:${command}`;
    const changes = ((input.ChangeBatch as { Changes?: Array<{ Action: string; ResourceRecordSet: { Name: string; Type: string } }> })?.Changes ?? []);
    const context = {
      "route53:ChangeResourceRecordSetsActions": [...new Set(changes.map((c) => c.Action))],
      "route53:ChangeResourceRecordSetsRecordTypes": [...new Set(changes.map((c) => c.ResourceRecordSet.Type))],
      "route53:ChangeResourceRecordSetsNormalizedRecordNames": [...new Set(changes.map((c) => c.ResourceRecordSet.Name.toLowerCase().replace(/\.$/, "")))],
    };
    return [{ action: "route53:ChangeResourceRecordSets", resource: zone, context }];
  }
  // wafv2Cdn: scope CLOUDFRONT, whose ACLs are "global" in us-east-1.
  if (command === "ListWebACLs") return [{ action: "wafv2:ListWebACLs", resource: "*", context: {} }];
  const acl = `arn:${partition}:wafv2:${CDN_REGION}:${account}:global/webacl/${str(input.Name)}/${str(input.Id) || "00000000-0000-4000-8000-000000000000"}`;
  switch (command) {
    case "CreateWebACL":
      return [{ action: "wafv2:CreateWebACL", resource: acl, context: requestTags(tagsOf(input.Tags)) }];
    case "GetWebACL":
    case "UpdateWebACL":
    case "DeleteWebACL":
      return [{ action: `wafv2:${command}`, resource: acl, context: {} }];
    default:
      return `no IAM mapping for wafv2:${command}`;
  }
}

/** What the deployer policy alone refuses of these calls (each as "action on resource: decision", or a missing mapping). */
export async function deployerRefusals(calls: Call[], scope: NamedScope, inventory: Inventory): Promise<string[]> {
  const empty = { Version: "2012-10-17" as const, Statement: [] };
  const deployer = deployerPolicies(scope);
  const policies: StackPolicies = { ctx: scope, imagesKeyArn: "", auditKeyArn: "", restApiId: "", docs: { imagesKey: empty, auditKey: empty, imagesBucket: empty, trailBucket: empty, deployer, role: empty, boundary: empty, invoke: empty } };
  const refused: string[] = [];
  for (const call of calls) {
    const needed = authorizations(call, policies, inventory);
    if (typeof needed === "string") refused.push(needed);
    else {
      for (const a of needed) {
        const got = await evaluate({ principal: `arn:${scope.partition}:iam::${scope.account}:user/deployer`, action: a.action, resource: a.resource, resourceAccount: scope.account, context: a.context, identityPolicies: deployer });
        if (got !== "Allow") refused.push(`${a.action} on ${a.resource}: ${got}`);
      }
    }
  }
  return refused;
}
