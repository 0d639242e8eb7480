// The cache policy of the behaviors that reach the API: the cache key is
// exactly CDN_CACHE_KEY (function/cdn/cache-key.ts): the path, the signed
// URL's expires and sig, and the Accept class the edge function leaves;
// no cookies. Entries live as long as the function's Cache-Control says
// (the URL's remaining life), up to a year. Images are compressed already:
// no gzip or brotli variants.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html
import {
  CreateCachePolicyCommand,
  DeleteCachePolicyCommand,
  GetCachePolicyCommand,
  ListCachePoliciesCommand,
  UpdateCachePolicyCommand,
  type CachePolicyConfig,
} from "@aws-sdk/client-cloudfront";
import { CDN_CACHE_KEY } from "../../function/cdn/cache-key.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";
import { cdnNames, isStaleVersion, list } from "./cdn-names.ts";

const RESOURCE = "CloudFront cache policy";
export const CACHE_TTL = { MinTTL: 0, DefaultTTL: 86_400, MaxTTL: 31_536_000 };

export function cachePolicyConfig(ctx: Pick<DeployContext, "names">): CachePolicyConfig {
  return {
    Name: cdnNames(ctx).cachePolicy,
    Comment: `imgapi ${ctx.names.stack}: signed image URLs, one entry per Accept class`,
    ...CACHE_TTL,
    ParametersInCacheKeyAndForwardedToOrigin: {
      EnableAcceptEncodingGzip: false,
      EnableAcceptEncodingBrotli: false,
      QueryStringsConfig: { QueryStringBehavior: "whitelist", QueryStrings: list([...CDN_CACHE_KEY.queryStrings]) },
      HeadersConfig: { HeaderBehavior: "whitelist", Headers: list([...CDN_CACHE_KEY.headers]) },
      CookiesConfig: { CookieBehavior: "none" },
    },
  };
}

/** What deploy owns, comparable whatever order or casing CloudFront reports (header names are case-insensitive). */
function owned(c: CachePolicyConfig | undefined) {
  const p = c?.ParametersInCacheKeyAndForwardedToOrigin;
  return JSON.stringify({
    ttl: [Number(c?.MinTTL ?? 0), Number(c?.DefaultTTL), Number(c?.MaxTTL)],
    gzip: p?.EnableAcceptEncodingGzip ?? false,
    br: p?.EnableAcceptEncodingBrotli ?? false,
    qs: [p?.QueryStringsConfig?.QueryStringBehavior, [...(p?.QueryStringsConfig?.QueryStrings?.Items ?? [])].sort()],
    headers: [p?.HeadersConfig?.HeaderBehavior, (p?.HeadersConfig?.Headers?.Items ?? []).map((h) => h.toLowerCase()).sort()],
    cookies: p?.CookiesConfig?.CookieBehavior,
  });
}

interface Found {
  id: string;
  config: CachePolicyConfig;
  etag: string;
}

export async function findCachePolicy(ctx: DeployContext): Promise<Found | undefined> {
  const name = cdnNames(ctx).cachePolicy;
  return step("finding", RESOURCE, name, "cloudfront:ListCachePolicies", async () => {
    let Marker: string | undefined;
    do {
      const page = (await ctx.clients.cloudfront.send(new ListCachePoliciesCommand({ Type: "custom", ...(Marker ? { Marker } : {}) }))).CachePolicyList;
      const hit = page?.Items?.find((i) => i.CachePolicy?.CachePolicyConfig?.Name === name)?.CachePolicy;
      if (hit?.Id !== undefined) {
        const got = await orAbsent("cloudfront", () => ctx.clients.cloudfront.send(new GetCachePolicyCommand({ Id: hit.Id })));
        const config = got?.CachePolicy?.CachePolicyConfig;
        return config === undefined ? undefined : { id: hit.Id, config, etag: got?.ETag ?? "" };
      }
      Marker = page?.NextMarker || undefined;
    } while (Marker);
    return undefined;
  });
}

export type CachePolicyReport = StepReport & { cachePolicyId: string };

export async function ensureCachePolicy(ctx: DeployContext): Promise<CachePolicyReport> {
  const desired = cachePolicyConfig(ctx);
  const changes = new Changes(ctx, RESOURCE, desired.Name!);
  const found = await findCachePolicy(ctx);
  const { cloudfront } = ctx.clients;
  if (found === undefined) {
    const made = await changes.apply("cache policy", "cloudfront:CreateCachePolicy", () =>
      createOrAdopt(
        "cloudfront",
        async () => (await cloudfront.send(new CreateCachePolicyCommand({ CachePolicyConfig: desired }))).CachePolicy?.Id,
        async () => (await findCachePolicy(ctx))?.id,
      ), "creating");
    const keys = [...CDN_CACHE_KEY.queryStrings, ...CDN_CACHE_KEY.headers].join(", ");
    return { ...changes.report(true, `cache key: path, ${keys}`), cachePolicyId: made?.value ?? "(new)" };
  }
  if (owned(found.config) !== owned(desired)) {
    await changes.apply("cache key and lifetimes", "cloudfront:UpdateCachePolicy", async () => {
      try {
        await cloudfront.send(new UpdateCachePolicyCommand({ Id: found.id, IfMatch: found.etag, CachePolicyConfig: desired }));
      } catch (e) {
        // A retried update after a lost answer: the policy has a new version already.
        const now = isStaleVersion(e) ? await findCachePolicy(ctx) : undefined;
        if (now === undefined || owned(now.config) !== owned(desired)) throw e;
      }
    }, "updating");
  }
  return { ...changes.report(false), cachePolicyId: found.id };
}

/** After the distribution: CloudFront refuses to delete a policy a behavior uses (CachePolicyInUse). */
export async function removeCachePolicy(ctx: DeployContext): Promise<StepReport> {
  const name = cdnNames(ctx).cachePolicy;
  const found = await findCachePolicy(ctx);
  if (found === undefined) return { resource: RESOURCE, name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, name);
  await changes.apply("cache policy", "cloudfront:DeleteCachePolicy", () =>
    ignoreAbsent("cloudfront", () => ctx.clients.cloudfront.send(new DeleteCachePolicyCommand({ Id: found.id, IfMatch: found.etag }))), "deleting");
  return { resource: RESOURCE, name, action: "deleted" };
}
