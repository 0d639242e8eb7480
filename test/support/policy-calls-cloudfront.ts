// CloudFront calls as IAM authorizes them, for the policy tests that replay
// what deploy and teardown sent (policy-calls.ts). CreateDistributionWithTags
// is authorized as CreateDistribution plus TagResource; key groups, public
// keys, creates and lists have no resource type (only "*").
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudfront.html
import type { StackPolicies } from "./policy-stack.ts";

interface Authorization {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

const BY_TYPE: Array<[RegExp, string, (input: Record<string, unknown>) => string]> = [
  [/^(Get|Update|Delete)Distribution(Config)?$/, "distribution", (i) => String(i.Id ?? "")],
  [/^(Describe|Get|Update|Publish|Delete)Function$/, "function", (i) => String(i.Name ?? "")],
  [/^(Get|Update|Delete)CachePolicy(Config)?$/, "cache-policy", (i) => String(i.Id ?? "")],
  [/^(Get|Update|Delete)OriginAccessControl(Config)?$/, "origin-access-control", (i) => String(i.Id ?? "")],
];

export function cloudFrontAuthorizations(command: string, input: Record<string, unknown>, p: StackPolicies): Authorization[] {
  const { partition, account } = p.ctx;
  const of = (type: string, id: string) => `arn:${partition}:cloudfront::${account}:${type}/${id}`;
  if (command === "CreateDistributionWithTags") {
    return [
      { action: "cloudfront:CreateDistribution", resource: "*", context: {} },
      { action: "cloudfront:TagResource", resource: of("distribution", "NEW"), context: {} },
    ];
  }
  for (const [pattern, type, id] of BY_TYPE) {
    if (pattern.test(command)) return [{ action: `cloudfront:${command}`, resource: of(type, id(input)), context: {} }];
  }
  return [{ action: `cloudfront:${command}`, resource: "*", context: {} }];
}
