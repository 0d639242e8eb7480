// A WAF web ACL holding one rate-based rule per IP, whatever it protects: the
// API's stage (scope REGIONAL, web-acl.ts) or the CDN's distribution (scope
// CLOUDFRONT, cdn-web-acl.ts). Found by name in its scope, created with the
// stack's tags, its rules rewritten only when they differ, deleted with the
// lock token of its latest version. What is attached where stays with the caller.
// https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html
import {
  CreateWebACLCommand,
  DeleteWebACLCommand,
  GetWebACLCommand,
  ListWebACLsCommand,
  UpdateWebACLCommand,
  type CustomResponseBody,
  type RuleAction,
  type Rule,
  type WAFV2Client,
  type WebACL,
} from "@aws-sdk/client-wafv2";
import type { DeployContext } from "../context.ts";
import { errorName, step } from "../errors.ts";
import { createOrAdopt, ignoreAbsent, orAbsent, retryWhilePropagating, tagList, type Changes, type Propagation } from "../toolkit/index.ts";

export const RATE_RULE = "rate-per-ip";
/** The window a rateLimitPerIp counts over (WAF's default; 60, 120, 300 or 600 are allowed). */
export const RATE_WINDOW_SECONDS = 300;

/** One web ACL: its scope, the client that reaches that scope, and how reports name it. */
export interface AclTarget {
  scope: "REGIONAL" | "CLOUDFRONT";
  client: WAFV2Client;
  resource: string;
  name: string;
}

/** What deploy owns of the ACL. */
export interface AclDesired {
  rules: Rule[];
  customResponseBodies?: Record<string, CustomResponseBody>;
}

export interface FoundAcl {
  acl: WebACL & { ARN: string; Id: string; Name: string };
  lockToken: string;
}

const visibility = (metric: string) => ({ SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: metric });

/** One rule: at most `limit` requests per IP in any RATE_WINDOW_SECONDS, then `action` (a block by default). */
export function rateRules(limit: number, action: RuleAction = { Block: {} }): Rule[] {
  return [
    {
      Name: RATE_RULE,
      Priority: 0,
      Statement: { RateBasedStatement: { Limit: limit, EvaluationWindowSec: RATE_WINDOW_SECONDS, AggregateKeyType: "IP" } },
      Action: action,
      VisibilityConfig: visibility(RATE_RULE),
    },
  ];
}

/** The fields deploy owns, in a form that compares: what GetWebACL reports against what the config wants. */
function owned(acl: { DefaultAction?: WebACL["DefaultAction"]; Rules?: Rule[]; CustomResponseBodies?: Record<string, CustomResponseBody> }) {
  return {
    defaultAction: Object.keys(acl.DefaultAction ?? {}).sort(),
    rules: (acl.Rules ?? []).map((r) => ({
      name: r.Name,
      priority: r.Priority,
      limit: Number(r.Statement?.RateBasedStatement?.Limit),
      window: Number(r.Statement?.RateBasedStatement?.EvaluationWindowSec ?? RATE_WINDOW_SECONDS),
      key: r.Statement?.RateBasedStatement?.AggregateKeyType,
      action: Object.keys(r.Action ?? {}).sort(),
      response: r.Action?.Block?.CustomResponse ? [r.Action.Block.CustomResponse.ResponseCode, r.Action.Block.CustomResponse.CustomResponseBodyKey ?? ""] : [],
    })),
    bodies: Object.entries(acl.CustomResponseBodies ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.ContentType, v.Content]),
  };
}

const sameRules = (actual: WebACL, desired: AclDesired) =>
  JSON.stringify(owned(actual)) === JSON.stringify(owned({ DefaultAction: { Allow: {} }, Rules: desired.rules, CustomResponseBodies: desired.customResponseBodies ?? {} }));

export async function findAcl(target: AclTarget): Promise<FoundAcl | undefined> {
  const { scope: Scope, client, name: Name } = target;
  return step("finding", target.resource, Name, "wafv2:ListWebACLs", async () => {
    let NextMarker: string | undefined;
    do {
      const page = await client.send(new ListWebACLsCommand({ Scope, Limit: 100, ...(NextMarker ? { NextMarker } : {}) }));
      const summary = page.WebACLs?.find((w) => w.Name === Name);
      if (summary?.Id !== undefined) {
        const got = await orAbsent("wafv2", () => client.send(new GetWebACLCommand({ Name, Scope, Id: summary.Id })));
        return got?.WebACL === undefined ? undefined : { acl: got.WebACL as FoundAcl["acl"], lockToken: got.LockToken ?? "" };
      }
      NextMarker = page.NextMarker || undefined;
    } while (NextMarker !== undefined);
    return undefined;
  });
}

const body = (target: AclTarget, desired: AclDesired) => ({
  Name: target.name,
  Scope: target.scope,
  DefaultAction: { Allow: {} },
  Rules: desired.rules,
  ...(desired.customResponseBodies ? { CustomResponseBodies: desired.customResponseBodies } : {}),
  VisibilityConfig: visibility(target.name),
});

/**
 * Makes the ACL, or brings the found one's rules to the desired ones. Tags go
 * with the create; a lost answer's retry is refused (WAFDuplicateItemException)
 * and the ACL adopted. UpdateWebACL takes the lock token of the version it
 * replaces: retried after a lost answer it is refused (WAFOptimisticLockException),
 * and the refusal counts only if the rules read again are still not the desired ones.
 */
export async function reconcileAcl(ctx: DeployContext, target: AclTarget, changes: Changes, desired: AclDesired, opts: { description: string; ruleLabel: string }): Promise<{ arn?: string; created: boolean }> {
  const found = await findAcl(target);
  if (found === undefined) {
    const made = await changes.apply("web ACL", "wafv2:CreateWebACL", () =>
      createOrAdopt(
        "wafv2",
        async () => (await target.client.send(new CreateWebACLCommand({ ...body(target, desired), Description: opts.description, Tags: tagList(ctx.tags) }))).Summary?.ARN,
        async () => (await findAcl(target))?.acl.ARN,
      ),
    "creating");
    return { ...(made?.value ? { arn: made.value } : {}), created: true };
  }
  if (!sameRules(found.acl, desired)) {
    const { acl, lockToken } = found;
    const send = (LockToken: string) =>
      target.client.send(new UpdateWebACLCommand({ ...body(target, desired), Id: acl.Id, LockToken, ...(acl.Description ? { Description: acl.Description } : {}) }));
    await changes.apply(opts.ruleLabel, "wafv2:UpdateWebACL", async () => {
      try {
        await send(lockToken);
      } catch (e) {
        if (errorName(e) !== "WAFOptimisticLockException") throw e;
        const latest = await findAcl(target);
        if (latest === undefined || !sameRules(latest.acl, desired)) throw e;
      }
    }, "updating");
  }
  return { arn: found.acl.ARN, created: false };
}

/** Deletes the ACL with its latest lock token (each change of the ACL, an association too, renews it), retrying while `propagation` lasts. */
export async function deleteAcl(ctx: DeployContext, target: AclTarget, changes: Changes, propagation: Propagation[]): Promise<void> {
  await changes.apply("web ACL", "wafv2:DeleteWebACL", () =>
    retryWhilePropagating(ctx, propagation, async () => {
      const latest = await findAcl(target);
      if (latest !== undefined) await ignoreAbsent("wafv2", () => target.client.send(new DeleteWebACLCommand({ Name: target.name, Scope: target.scope, Id: latest.acl.Id, LockToken: latest.lockToken })));
    }), "deleting");
}
