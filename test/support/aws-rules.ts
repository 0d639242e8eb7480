// AWS rules that moto skips, taught to the fault proxy: IAM, KMS, API Gateway
// and S3 propagation answers for the first calls after a create, Lambda's
// Pending / InProgress states and the conflicts they cause, and documented
// limits and quotas. Each rule is a named object citing its AWS page (see
// aws-rules/*.ts), deterministic (counts and state, never clocks), and answers
// with AWS's own code and message in the service's protocol. A deploy that
// copes with all of them copes with what moto cannot show.
import { CreateTrailCommand } from "@aws-sdk/client-cloudtrail";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import type { AwsClients } from "../../deploy/aws-clients.ts";
import type { FaultProxy } from "./fault-proxy.ts";
import { ruleContext, type AwsRule } from "./aws-rules/kit.ts";
import { cloudTrailQuota, deleteObjectsLimit, lambdaConcurrencyQuota, lambdaEnvironmentLimit, lambdaInvokePayloadLimit } from "./aws-rules/limits.ts";
import { acmDnsValidation, acmValidationRecordDelay, cloudFrontCertificateRegion, wafCloudFrontScopeRegion } from "./aws-rules/cdn.ts";
import { lambdaFunctionStates } from "./aws-rules/lambda-states.ts";
import { kmsKeyPropagation, kmsPrincipalPropagation, lambdaRolePropagation } from "./aws-rules/propagation.ts";
import { apiGatewayAccountRolePropagation, s3NotificationPermissionPropagation, stageLoggingNeedsAccountRole } from "./aws-rules/service-roles.ts";

export * from "./aws-rules/cdn.ts";
export * from "./aws-rules/limits.ts";
export * from "./aws-rules/lambda-states.ts";
export * from "./aws-rules/propagation.ts";
export * from "./aws-rules/service-roles.ts";
export { formBody, jsonBody, lambdaCall, lambdaOps, ruleContext, type AwsRule, type RuleContext } from "./aws-rules/kit.ts";

export interface StrictOptions {
  /** How many calls each propagation rule refuses after the create it follows (default 2). */
  refusals?: number;
  /** How many polls a new or updated function stays Pending / InProgress (default 1). */
  polls?: number;
  /** Install only these rules (by name). */
  only?: string[];
  /** Install all but these rules (by name). */
  except?: string[];
  /** The Lambda concurrency quota of the account (default 10, a new account's). */
  concurrentExecutions?: number;
}

/** Every rule, with the counts given. */
export function strictRules(options: StrictOptions = {}): AwsRule[] {
  const refusals = options.refusals ?? 2;
  return [
    lambdaRolePropagation({ refusals }),
    kmsPrincipalPropagation({ refusals }),
    kmsKeyPropagation({ refusals }),
    apiGatewayAccountRolePropagation({ notPermitted: refusals, cannotWrite: refusals }),
    stageLoggingNeedsAccountRole(),
    s3NotificationPermissionPropagation({ refusals }),
    lambdaFunctionStates({ polls: options.polls ?? 1 }),
    deleteObjectsLimit(),
    lambdaEnvironmentLimit(),
    lambdaInvokePayloadLimit(),
    cloudTrailQuota(),
    lambdaConcurrencyQuota({ concurrentExecutions: options.concurrentExecutions ?? 10 }),
    wafCloudFrontScopeRegion(),
    acmValidationRecordDelay({ describes: refusals }),
    acmDnsValidation(),
    cloudFrontCertificateRegion(),
  ];
}

export interface StrictHarness {
  rules: AwsRule[];
  /** How often each rule fired so far (refused or rewrote a request). */
  fired(): Record<string, number>;
  /** Releases the rules' own clients of the upstream (the rules stay until proxy.clear()). */
  close(): void;
}

/**
 * Installs every rule (or the chosen ones) on the proxy, before any rule a
 * test adds afterwards. Rules keep their state from what they observe, so
 * install them before the calls they react to, and again after proxy.clear().
 */
export function applyStrictRules(proxy: FaultProxy, options: StrictOptions = {}): StrictHarness {
  const all = strictRules(options);
  const names = new Set(all.map((r) => r.name));
  for (const name of [...(options.only ?? []), ...(options.except ?? [])]) {
    if (!names.has(name)) throw new Error(`unknown AWS rule "${name}"; known: ${[...names].join(", ")}`);
  }
  const rules = all.filter((r) => (options.only === undefined || options.only.includes(r.name)) && !(options.except ?? []).includes(r.name));
  const ctx = ruleContext(proxy);
  for (const rule of rules) rule.install(ctx);
  return {
    rules,
    fired: () => Object.fromEntries(rules.map((r) => [r.name, proxy.faulted(r.name)])),
    close: () => ctx.close(),
  };
}

/**
 * A scenario, not a refusal: the account already has trails (an organisation
 * or Control Tower trail is common) that record management events. AWS then
 * charges every further trail's copy of them: "The first copy of management
 * events is free. You are charged for additional copies ... on any subsequent
 * trail in the same Region."
 * https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_EventSelector.html
 */
export async function seedAccountTrails(direct: Pick<AwsClients, "s3" | "cloudtrail">, names: string[], bucket = "account-audit-trail-bucket"): Promise<void> {
  await direct.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const Name of names) await direct.cloudtrail.send(new CreateTrailCommand({ Name, S3BucketName: bucket, IsMultiRegionTrail: true }));
}
