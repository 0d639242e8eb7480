// The CDN's per-client rate limit (config cdn.rateLimitPerIp): a WAF web ACL of
// scope CLOUDFRONT (served by us-east-1 only) with the same rate-based rule as
// the stage's (web-acl.ts), answering over the limit with 429 and the API's
// error body, so a client handles one shape whether the stage or the edge
// refused it. Nothing is associated here: the distribution names the ACL in
// its WebACLId (CloudFront has no AssociateWebACL), reading built.cdnWebAclArn.
// https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html (Scope)
// https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-response-for-blocked-requests.html
import { gatewayErrorBody } from "../../function/http/gateway-errors.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, errorName } from "../errors.ts";
import { Changes, type Propagation } from "../toolkit/index.ts";
import { deleteAcl, findAcl, RATE_WINDOW_SECONDS, rateRules, reconcileAcl, type AclDesired, type AclTarget } from "./web-acl-store.ts";

const RESOURCE = "CDN web ACL";
export const RATE_LIMITED_BODY_KEY = "rate-limited";
/** What the edge answers over the limit: Too Many Requests, in the API's error shape (the stage's WAF_FILTERED body). */
export const RATE_LIMITED_STATUS = 429;
export const RATE_LIMITED_BODY = gatewayErrorBody("WAF_FILTERED", "");

export const cdnWebAclName = (ctx: Pick<DeployContext, "names">) => `${ctx.names.stack}-cdn-rate-limit`;

const target = (ctx: DeployContext): AclTarget => ({ scope: "CLOUDFRONT", client: ctx.clients.wafv2Cdn, resource: RESOURCE, name: cdnWebAclName(ctx) });

export function cdnAclDesired(limit: number): AclDesired {
  return {
    rules: rateRules(limit, { Block: { CustomResponse: { ResponseCode: RATE_LIMITED_STATUS, CustomResponseBodyKey: RATE_LIMITED_BODY_KEY } } }),
    customResponseBodies: { [RATE_LIMITED_BODY_KEY]: { ContentType: "APPLICATION_JSON", Content: RATE_LIMITED_BODY } },
  };
}

/**
 * "You can't delete a web ACL if it's still associated with a resource"
 * (WAFAssociatedItemException): for scope CLOUDFRONT, while a distribution's
 * WebACLId names it. A distribution that dropped it (or was deleted) a moment
 * ago may still hold it while CloudFront deploys the change.
 * https://docs.aws.amazon.com/waf/latest/APIReference/API_DeleteWebACL.html
 */
export const DISTRIBUTION_RELEASE: Propagation = {
  what: "the CloudFront distribution's release of the web ACL",
  source: "https://docs.aws.amazon.com/waf/latest/APIReference/API_DeleteWebACL.html",
  timeoutMs: 60_000,
  matches: (e) => errorName(e) === "WAFAssociatedItemException",
};

export type CdnWebAclReport = StepReport & { webAclArn?: string };

/** The CLOUDFRONT web ACL with the rate rule at cdn.rateLimitPerIp; removed when that is unset. */
export async function ensureCdnWebAcl(ctx: DeployContext): Promise<CdnWebAclReport> {
  const limit = ctx.config.cdn.rateLimitPerIp;
  if (limit === undefined) return removeCdnWebAcl(ctx);
  const changes = new Changes(ctx, RESOURCE, cdnWebAclName(ctx));
  const { arn, created } = await reconcileAcl(ctx, target(ctx), changes, cdnAclDesired(limit), {
    description: `Requests per IP at the CDN of the imgapi stack ${ctx.names.stack}`,
    ruleLabel: `rules (${limit} requests per IP in ${RATE_WINDOW_SECONDS} s)`,
  });
  const detail = created ? `${limit} requests per IP in ${RATE_WINDOW_SECONDS} s, then ${RATE_LIMITED_STATUS}` : undefined;
  return { ...changes.report(created, detail), ...(arn ? { webAclArn: arn } : {}) };
}

/**
 * Deletes the ACL. Teardown removes the distribution first; when a
 * distribution still names the ACL (teardown left it disabled, or a deploy
 * unset the limit before the distribution step drops it) the ACL is kept and
 * the report says why and what finishes it.
 */
export async function removeCdnWebAcl(ctx: DeployContext): Promise<CdnWebAclReport> {
  const name = cdnWebAclName(ctx);
  const found = await findAcl(target(ctx));
  if (found === undefined) return { resource: RESOURCE, name, action: "absent" };
  try {
    await deleteAcl(ctx, target(ctx), new Changes(ctx, RESOURCE, name), [DISTRIBUTION_RELEASE]);
  } catch (e) {
    if (!(e instanceof DeployError && errorName(e.cause) === "WAFAssociatedItemException")) throw e;
    return {
      resource: RESOURCE,
      name,
      action: "kept",
      detail: `a CloudFront distribution still uses it (WAFAssociatedItemException): it is deleted by the next run once the distribution no longer names it in WebACLId (after teardown deletes the distribution, run teardown again)`,
      webAclArn: found.acl.ARN,
    };
  }
  return { resource: RESOURCE, name, action: "deleted" };
}
