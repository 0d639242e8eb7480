// The optional per-client rate limit (config api.rateLimitPerIp): an AWS WAF
// web ACL with one rate-based rule (requests per IP address in any 5
// minutes; over it, blocked, which API Gateway answers as WAF_FILTERED in
// our error shape), associated with the API's stage. The stage's throttle and
// the usage plan are shared by all callers; this one is per address, so one
// anonymous client cannot use up the preflights and signed URLs of everyone.
// Removed when the setting is unset, and at teardown (before the API).
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-control-access-aws-waf.html
// https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html
import {
  AssociateWebACLCommand,
  CreateWebACLCommand,
  DeleteWebACLCommand,
  DisassociateWebACLCommand,
  GetWebACLCommand,
  GetWebACLForResourceCommand,
  ListWebACLsCommand,
  UpdateWebACLCommand,
  type Rule,
  type WebACL,
} from "@aws-sdk/client-wafv2";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, errorName, step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent, retryWhilePropagating, tagList, type Propagation } from "../toolkit/index.ts";
import { findRestApis } from "./rest-api.ts";
import { stageArn as stageArnOf } from "./api-stage.ts";

const RESOURCE = "WAF web ACL";
const SCOPE = "REGIONAL";
export const RATE_RULE = "rate-per-ip";
/** The window api.rateLimitPerIp counts over (WAF's default; 60, 120, 300 or 600 are allowed). */
export const RATE_WINDOW_SECONDS = 300;

export const webAclName = (ctx: Pick<DeployContext, "names">) => `${ctx.names.stack}-rate-limit`;

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

const visibility = (metric: string) => ({ SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: metric });

export function rateRules(limit: number): Rule[] {
  return [
    {
      Name: RATE_RULE,
      Priority: 0,
      Statement: { RateBasedStatement: { Limit: limit, EvaluationWindowSec: RATE_WINDOW_SECONDS, AggregateKeyType: "IP" } },
      Action: { Block: {} },
      VisibilityConfig: visibility(RATE_RULE),
    },
  ];
}

/** The fields deploy owns, in a form that compares: what GetWebACL reports against what the config wants. */
function owned(acl: Pick<WebACL, "DefaultAction" | "Rules">) {
  return {
    defaultAction: Object.keys(acl.DefaultAction ?? {}).sort(),
    rules: (acl.Rules ?? []).map((r) => ({
      name: r.Name,
      priority: r.Priority,
      limit: Number(r.Statement?.RateBasedStatement?.Limit),
      window: Number(r.Statement?.RateBasedStatement?.EvaluationWindowSec ?? RATE_WINDOW_SECONDS),
      key: r.Statement?.RateBasedStatement?.AggregateKeyType,
      action: Object.keys(r.Action ?? {}).sort(),
    })),
  };
}

interface Found {
  acl: WebACL & { ARN: string; Id: string; Name: string };
  lockToken: string;
}

async function findWebAcl(ctx: DeployContext): Promise<Found | undefined> {
  const Name = webAclName(ctx);
  return step("finding", RESOURCE, Name, "wafv2:ListWebACLs", async () => {
    let NextMarker: string | undefined;
    do {
      const page = await ctx.clients.wafv2.send(new ListWebACLsCommand({ Scope: SCOPE, Limit: 100, ...(NextMarker ? { NextMarker } : {}) }));
      const summary = page.WebACLs?.find((w) => w.Name === Name);
      if (summary?.Id !== undefined) {
        const got = await orAbsent("wafv2", () => ctx.clients.wafv2.send(new GetWebACLCommand({ Name, Scope: SCOPE, Id: summary.Id })));
        return got?.WebACL === undefined ? undefined : { acl: got.WebACL as Found["acl"], lockToken: got.LockToken ?? "" };
      }
      NextMarker = page.NextMarker || undefined;
    } while (NextMarker !== undefined);
    return undefined;
  });
}

const aclOfStage = (ctx: DeployContext, ResourceArn: string) =>
  step("reading the web ACL of", "stage", ResourceArn, "wafv2:GetWebACLForResource", async () =>
    (await orAbsent("wafv2", () => ctx.clients.wafv2.send(new GetWebACLForResourceCommand({ ResourceArn }))))?.WebACL,
  );

const sameRules = (actual: WebACL, desired: Pick<WebACL, "DefaultAction" | "Rules">) => JSON.stringify(owned(actual)) === JSON.stringify(owned(desired));

/**
 * UpdateWebACL takes the lock token of the version it replaces. Retried after
 * a lost answer, it is refused (WAFOptimisticLockException: the update made a
 * new version); the ACL is then read again, and the refusal counts only if the
 * rules are still not the desired ones.
 */
async function updateRules(ctx: DeployContext, found: Found, desired: Pick<WebACL, "Name" | "DefaultAction" | "Rules" | "VisibilityConfig"> & { Scope: typeof SCOPE }): Promise<void> {
  const { acl, lockToken } = found;
  const send = (LockToken: string) =>
    ctx.clients.wafv2.send(new UpdateWebACLCommand({ ...desired, Name: acl.Name, Id: acl.Id, LockToken, ...(acl.Description ? { Description: acl.Description } : {}) }));
  try {
    await send(lockToken);
  } catch (e) {
    if (errorName(e) !== "WAFOptimisticLockException") throw e;
    const latest = await findWebAcl(ctx);
    if (latest === undefined || !sameRules(latest.acl, desired)) throw e;
  }
}

export type WebAclReport = StepReport & { webAclArn?: string };

/** Ensures the web ACL and its association when api.rateLimitPerIp is set; removes them when it is not. */
export async function ensureWebAcl(ctx: DeployContext, deps: { stageArn: string }): Promise<WebAclReport> {
  const limit = ctx.config.api.rateLimitPerIp;
  if (limit === undefined) return removeWebAcl(ctx, [deps.stageArn]);
  const { wafv2 } = ctx.clients;
  const Name = webAclName(ctx);
  const changes = new Changes(ctx, RESOURCE, Name);
  const desired = { Name, Scope: SCOPE, DefaultAction: { Allow: {} }, Rules: rateRules(limit), VisibilityConfig: visibility(Name) } as const;
  const found = await findWebAcl(ctx);
  const created = found === undefined;
  let aclArn = found?.acl.ARN;
  if (found === undefined) {
    // Tags go with the create; a lost answer's retry is refused (WAFDuplicateItemException) and the ACL adopted.
    const made = await changes.apply("web ACL", "wafv2:CreateWebACL", () =>
      createOrAdopt(
        "wafv2",
        async () => (await wafv2.send(new CreateWebACLCommand({ ...desired, Description: `Requests per IP for the imgapi stack ${ctx.names.stack}`, Tags: tagList(ctx.tags) }))).Summary?.ARN,
        async () => (await findWebAcl(ctx))?.acl.ARN,
      ),
    "creating");
    aclArn = made?.value;
  } else if (!sameRules(found.acl, desired)) {
    await changes.apply(`rules (${limit} requests per IP in ${RATE_WINDOW_SECONDS} s)`, "wafv2:UpdateWebACL", () => updateRules(ctx, found, desired), "updating");
  }
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
  const found = await findWebAcl(ctx);
  if (found === undefined) return { resource: RESOURCE, name: Name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, Name);
  const stages = new Set([...stageArns.filter((a) => !a.includes("/restapis/(new)/")), ...(await findRestApis(ctx)).map((api) => stageArnOf(ctx, api.id!))]);
  for (const ResourceArn of stages) {
    if ((await aclOfStage(ctx, ResourceArn))?.ARN !== found.acl.ARN) continue;
    await changes.apply(`disassociated from ${ResourceArn}`, "wafv2:DisassociateWebACL and apigateway:SetWebACL", () => ignoreAbsent("wafv2", () => ctx.clients.wafv2.send(new DisassociateWebACLCommand({ ResourceArn }))), "disassociating");
  }
  await changes.apply("web ACL", "wafv2:DeleteWebACL", () =>
    retryWhilePropagating(ctx, DISASSOCIATION_PROPAGATION, async () => {
      // Each change of the ACL (an association too) renews its lock token.
      const latest = await findWebAcl(ctx);
      if (latest !== undefined) await ignoreAbsent("wafv2", () => ctx.clients.wafv2.send(new DeleteWebACLCommand({ Name, Scope: SCOPE, Id: latest.acl.Id, LockToken: latest.lockToken })));
    }), "deleting");
  return { resource: RESOURCE, name: Name, action: "deleted", ...(changes.list.length > 1 ? { detail: changes.list.join(", ") } : {}) };
}
