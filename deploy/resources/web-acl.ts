// The optional per-client rate limit (config api.rateLimitPerIp): an AWS WAF
// web ACL with one rate-based rule (requests per IP address in any 5
// minutes; over it, blocked, which API Gateway answers as WAF_FILTERED in
// our error shape), associated with the API's stage. The stage's throttle and
// the usage plan are shared by all callers; this one is per address, so one
// anonymous client cannot use up the preflights and signed URLs of everyone.
// Removed when the setting is unset, and at teardown (before the API).
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-aws-waf.html
// https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html
import { AssociateWebACLCommand, DisassociateWebACLCommand, GetWebACLForResourceCommand } from "@aws-sdk/client-wafv2";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, errorName, step } from "../errors.ts";
import { Changes, ignoreAbsent, orAbsent, retryWhilePropagating, type Propagation } from "../toolkit/index.ts";
import { findRestApis } from "./rest-api.ts";
import { stageArn as stageArnOf } from "./api-stage.ts";
import { deleteAcl, findAcl, RATE_WINDOW_SECONDS, rateRules, reconcileAcl, type AclTarget } from "./web-acl-store.ts";

export { RATE_RULE, RATE_WINDOW_SECONDS, rateRules } from "./web-acl-store.ts";

const RESOURCE = "WAF web ACL";

export const webAclName = (ctx: Pick<DeployContext, "names">) => `${ctx.names.stack}-rate-limit`;

const target = (ctx: DeployContext): AclTarget => ({ scope: "REGIONAL", client: ctx.clients.wafv2, resource: RESOURCE, name: webAclName(ctx) });

/**
 * A web ACL made moments ago may not be usable yet: AssociateWebACL answers
 * WAFUnavailableEntityException ("Retry your request"); terraform-provider-aws
 * retries it for its association's create timeout, 5 minutes
 * (internal/service/wafv2/web_acl_association.go).
 * https://docs.aws.amazon.com/waf/latest/APIReference/API_AssociateWebACL.html
 */
export const WEB_ACL_PROPAGATION: Propagation = {
  what: "the new web ACL reaching the stage",
  source: "https://docs.aws.amazon.com/waf/latest/APIReference/API_AssociateWebACL.html",
  timeoutMs: 300_000,
  matches: (e) => errorName(e) === "WAFUnavailableEntityException",
};

/** DeleteWebACL refuses an ACL still associated (WAFAssociatedItemException) while a disassociation propagates. */
export const DISASSOCIATION_PROPAGATION: Propagation = {
  what: "the web ACL's disassociation from the stage",
  source: "https://docs.aws.amazon.com/waf/latest/APIReference/API_DeleteWebACL.html",
  timeoutMs: 300_000,
  matches: (e) => errorName(e) === "WAFAssociatedItemException",
};

const aclOfStage = (ctx: DeployContext, ResourceArn: string) =>
  step("reading the web ACL of", "stage", ResourceArn, "wafv2:GetWebACLForResource", async () =>
    (await orAbsent("wafv2", () => ctx.clients.wafv2.send(new GetWebACLForResourceCommand({ ResourceArn }))))?.WebACL,
  );

export type WebAclReport = StepReport & { webAclArn?: string };

/** Ensures the web ACL and its association when api.rateLimitPerIp is set; removes them when it is not. */
export async function ensureWebAcl(ctx: DeployContext, deps: { stageArn: string }): Promise<WebAclReport> {
  const limit = ctx.config.api.rateLimitPerIp;
  if (limit === undefined) return removeWebAcl(ctx, [deps.stageArn]);
  const { wafv2 } = ctx.clients;
  const Name = webAclName(ctx);
  const changes = new Changes(ctx, RESOURCE, Name);
  const { arn: aclArn, created } = await reconcileAcl(ctx, target(ctx), changes, { rules: rateRules(limit) }, {
    description: `Requests per IP for the imgapi stack ${ctx.names.stack}`,
    ruleLabel: `rules (${limit} requests per IP in ${RATE_WINDOW_SECONDS} s)`,
  });
  // A dry run before the API (or the ACL) exists has no stage or ACL to read.
  const current = aclArn === undefined || deps.stageArn.includes("/restapis/(new)/") ? undefined : await aclOfStage(ctx, deps.stageArn);
  if (current?.ARN !== undefined && current.ARN !== aclArn) {
    throw new DeployError("associating", RESOURCE, Name, "StageHasAnotherWebAcl", `The stage ${deps.stageArn} is protected by another web ACL (${current.ARN}); a stage takes one. Add a rate-based rule to that ACL and unset api.rateLimitPerIp, or disassociate it (aws wafv2 disassociate-web-acl --resource-arn ${deps.stageArn}), then run again.`);
  }
  if (current === undefined) {
    await changes.apply("associated with the stage", "wafv2:AssociateWebACL and apigateway:SetWebACL", () =>
      retryWhilePropagating(ctx, WEB_ACL_PROPAGATION, () => wafv2.send(new AssociateWebACLCommand({ WebACLArn: aclArn!, ResourceArn: deps.stageArn }))), "associating");
  }
  return { ...changes.report(created, created ? `${limit} requests per IP in ${RATE_WINDOW_SECONDS} s, then blocked` : undefined), ...(aclArn ? { webAclArn: aclArn } : {}) };
}

/**
 * Disassociates the web ACL from the stack's stages (those of its APIs, and
 * any given), then deletes it. Run before the API is deleted: WAF may refuse
 * to delete an ACL whose stage went away before it was told.
 */
export async function removeWebAcl(ctx: DeployContext, stageArns: string[] = []): Promise<WebAclReport> {
  const Name = webAclName(ctx);
  const found = await findAcl(target(ctx));
  if (found === undefined) return { resource: RESOURCE, name: Name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, Name);
  const stages = new Set([...stageArns.filter((a) => !a.includes("/restapis/(new)/")), ...(await findRestApis(ctx)).map((api) => stageArnOf(ctx, api.id!))]);
  for (const ResourceArn of stages) {
    if ((await aclOfStage(ctx, ResourceArn))?.ARN !== found.acl.ARN) continue;
    await changes.apply(`disassociated from ${ResourceArn}`, "wafv2:DisassociateWebACL and apigateway:SetWebACL", () => ignoreAbsent("wafv2", () => ctx.clients.wafv2.send(new DisassociateWebACLCommand({ ResourceArn }))), "disassociating");
  }
  await deleteAcl(ctx, target(ctx), changes, [DISASSOCIATION_PROPAGATION]);
  return { resource: RESOURCE, name: Name, action: "deleted", ...(changes.list.length > 1 ? { detail: changes.list.join(", ") } : {}) };
}
