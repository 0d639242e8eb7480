// The CDN's rows of the stack table (cdn.enabled), after the REST API, in
// dependency order: the distribution needs the key group, the origin access
// control, the cache policy and the edge function; the function is told the
// distribution's settings last. Teardown runs them in reverse, and so may
// delete what the distribution used only once the distribution is gone.
import type { DeployContext, StepReport } from "./context.ts";
import { endpointLacksApi } from "./toolkit/index.ts";
import { ensureCachePolicy, removeCachePolicy } from "./resources/cdn-cache-policy.ts";
import { ensureCdnAlias, ensureCdnCertificate, removeCdnCertificate } from "./resources/cdn-certificate.ts";
import { ensureDistribution, removeDistribution } from "./resources/cdn-distribution.ts";
import { ensureEdgeFunction, removeEdgeFunction } from "./resources/cdn-edge-function.ts";
import { cdnSettingsOf, ensureCdnFunctionSettings } from "./resources/cdn-function-settings.ts";
import { ensureOriginAccess, removeOriginAccess } from "./resources/cdn-origin-access.ts";
import { ensureCdnSigningKey, removeCdnSigningKey } from "./resources/cdn-signing-key.ts";
import { ensureCdnWebAcl, removeCdnWebAcl } from "./resources/cdn-web-acl.ts";
import { ensureImagesBucket } from "./resources/images-bucket.ts";
import { ensureKmsKey } from "./resources/kms-key.ts";
import { ensureLambdaRolePolicy } from "./resources/lambda-role.ts";
import type { Built, Removed, StackStep } from "./stack.ts";

const DISTRIBUTION = "CDN distribution";
const enabled = (config: { cdn: { enabled: boolean } }) => config.cdn.enabled || "cdn.enabled is false";

const need = <K extends keyof Built>(built: Partial<Built>, key: K): NonNullable<Built[K]> => {
  const value = built[key];
  if (value === undefined) throw new Error(`stack step order: ${key} is used before the step that makes it`);
  return value as NonNullable<Built[K]>;
};

/**
 * One removal of the distribution per run. Deploy retires the CDN rows in
 * table order (cdn turned off), so the first of them removes the
 * distribution; teardown removes it first anyway.
 */
const distributionRemovals = new WeakMap<DeployContext, Promise<StepReport>>();
function removeDistributionOnce(ctx: DeployContext): Promise<StepReport> {
  let pending = distributionRemovals.get(ctx);
  if (pending === undefined) distributionRemovals.set(ctx, (pending = removeDistribution(ctx)));
  return pending;
}

/** What the distribution used stays while it exists (CloudFront refuses: in use). */
async function afterDistribution(ctx: DeployContext, removed: Removed, title: string, remove: () => Promise<StepReport>): Promise<StepReport> {
  const distribution = removed[DISTRIBUTION] ?? (await removeDistributionOnce(ctx));
  if (distribution.action === "kept") return { resource: title, name: ctx.names.stack, action: "kept", detail: "the disabled distribution still uses it: run teardown again to finish" };
  return remove();
}

/**
 * A distribution made by this run is named in the key, bucket and role
 * policies only now (they were written before it existed); on later runs
 * those steps already knew it, and nothing is read again.
 */
async function grantDistribution(ctx: DeployContext, built: Partial<Built>, arn: string): Promise<string[]> {
  if (built.cdnGrantedArn === arn) return [];
  const cdnDistributionArn = arn;
  const reports = [
    await ensureKmsKey(ctx, { roleArn: need(built, "roleArn"), cdnDistributionArn }),
    await ensureImagesBucket(ctx, { keyArn: need(built, "imagesKeyArn"), cdnDistributionArn }),
    await ensureLambdaRolePolicy(ctx, { keyArn: need(built, "imagesKeyArn"), cdnDistributionArn }),
  ];
  built.cdnGrantedArn = arn;
  return reports.filter((r) => r.action !== "unchanged").map((r) => `${r.resource} names it`);
}

/**
 * The certificate and the web ACL go after the distribution when the whole
 * CDN goes (teardown, or cdn turned off). With the CDN on and only
 * cdn.domain or cdn.rateLimitPerIp unset, the distribution stays: the removal
 * reports "kept" while it still names them, and the run after the
 * distribution's update finishes it.
 */
function afterDistributionIfItGoes(ctx: DeployContext, removed: Removed, title: string, configured: boolean, remove: () => Promise<StepReport>): Promise<StepReport> {
  // Not configured: the distribution never named it, and the removal finds nothing or a leftover.
  if (!configured || (ctx.config.cdn.enabled && removed[DISTRIBUTION] === undefined)) return remove();
  return afterDistribution(ctx, removed, title, remove);
}

/** A row run with the CDN off (deploy retires it instead; a direct call does the same, like the web ACL's). */
const onlyWithCdn = (row: StackStep): StackStep => ({
  ...row,
  ensure: (ctx, built, options) => {
    if (ctx.config.cdn.enabled) return row.ensure(ctx, built, options);
    return row.remove?.(ctx, options, {}) ?? Promise.resolve({ resource: row.title, name: ctx.names.stack, action: "absent" });
  },
});

/**
 * With the CDN off, a row whose API the endpoint lacks (a plain moto_server has
 * no cache policies or CloudFront Functions) holds nothing to retire.
 */
const retiredOnEmulator = (row: StackStep): StackStep => {
  const { remove } = row;
  if (remove === undefined) return row;
  return {
    ...row,
    remove: async (ctx, options, removed) => {
      try {
        return await remove(ctx, options, removed);
      } catch (e) {
        if (ctx.config.cdn.enabled || !endpointLacksApi(e)) throw e;
        return { resource: row.title, name: ctx.names.stack, action: "absent", detail: "this endpoint does not implement its API" };
      }
    },
  };
};

export const CDN_STEPS: readonly StackStep[] = ([
  {
    // In us-east-1, for the distribution's viewer certificate.
    title: "CDN certificate",
    enabled: (config) => (!config.cdn.enabled ? "cdn.enabled is false" : config.cdn.domain !== undefined || "cdn.domain is not set"),
    ensure: async (ctx, built) => {
      const r = await ensureCdnCertificate(ctx);
      if (r.certificateArn !== undefined) built.cdnCertificateArn = r.certificateArn;
      return r;
    },
    // Its validation and alias records go with it.
    remove: (ctx, _o, removed) => afterDistributionIfItGoes(ctx, removed, "CDN certificate", ctx.config.cdn.domain !== undefined, () => removeCdnCertificate(ctx)),
  },
  {
    // Scope CLOUDFRONT: the distribution names it (WebACLId); no association call.
    title: "CDN rate limit",
    enabled: (config) => (!config.cdn.enabled ? "cdn.enabled is false" : config.cdn.rateLimitPerIp !== undefined || "cdn.rateLimitPerIp is not set"),
    ensure: async (ctx, built) => {
      const r = await ensureCdnWebAcl(ctx);
      if (r.webAclArn !== undefined) built.cdnWebAclArn = r.webAclArn;
      return r;
    },
    remove: (ctx, _o, removed) => afterDistributionIfItGoes(ctx, removed, "CDN rate limit", ctx.config.cdn.rateLimitPerIp !== undefined, () => removeCdnWebAcl(ctx)),
  },
  {
    title: "CDN signing key",
    enabled,
    ensure: async (ctx, built) => {
      const r = await ensureCdnSigningKey(ctx, { keyArn: need(built, "imagesKeyArn") });
      Object.assign(built, { cdnKeyGroupId: r.keyGroupId, cdnPublicKeyId: r.publicKeyId });
      return r;
    },
    remove: (ctx, _o, removed) => afterDistribution(ctx, removed, "CDN signing key", () => removeCdnSigningKey(ctx)),
  },
  {
    title: "CDN origin access",
    enabled,
    ensure: async (ctx, built) => {
      const r = await ensureOriginAccess(ctx);
      built.cdnOacId = r.oacId;
      return r;
    },
    remove: (ctx, _o, removed) => afterDistribution(ctx, removed, "CDN origin access", () => removeOriginAccess(ctx)),
  },
  {
    title: "CDN cache policy",
    enabled,
    ensure: async (ctx, built) => {
      const r = await ensureCachePolicy(ctx);
      built.cdnCachePolicyId = r.cachePolicyId;
      return r;
    },
    remove: (ctx, _o, removed) => afterDistribution(ctx, removed, "CDN cache policy", () => removeCachePolicy(ctx)),
  },
  {
    title: "CDN edge function",
    enabled,
    ensure: async (ctx, built) => {
      const r = await ensureEdgeFunction(ctx);
      built.cdnEdgeFunctionArn = r.functionArn;
      return r;
    },
    remove: (ctx, _o, removed) => afterDistribution(ctx, removed, "CDN edge function", () => removeEdgeFunction(ctx)),
  },
  {
    title: DISTRIBUTION,
    enabled,
    ensure: async (ctx, built) => {
      const r = await ensureDistribution(ctx, {
        restApiId: need(built, "restApiId"),
        oacId: need(built, "cdnOacId"),
        cachePolicyId: need(built, "cdnCachePolicyId"),
        edgeFunctionArn: need(built, "cdnEdgeFunctionArn"),
        keyGroupId: need(built, "cdnKeyGroupId"),
        ...(built.cdnCertificateArn ? { certificateArn: built.cdnCertificateArn } : {}),
        ...(built.cdnWebAclArn ? { webAclArn: built.cdnWebAclArn } : {}),
      });
      const d = r.distribution;
      if (d === undefined) return r;
      const withCert = ctx.config.cdn.domain !== undefined && built.cdnCertificateArn !== undefined;
      const settings = cdnSettingsOf({ ...d, keyPairId: need(built, "cdnPublicKeyId"), config: withCert ? { ViewerCertificate: { ACMCertificateArn: built.cdnCertificateArn }, Aliases: { Quantity: 1, Items: [ctx.config.cdn.domain!] } } as never : undefined });
      Object.assign(built, { cdnDistributionId: d.id, cdnDistributionArn: d.arn, cdnDomain: d.domain, cdnSettings: settings });
      const granted = ctx.dryRun ? [] : await grantDistribution(ctx, built, d.arn);
      return granted.length === 0 ? r : { ...r, detail: [r.detail, ...granted].filter(Boolean).join("; ") };
    },
    remove: (ctx) => removeDistributionOnce(ctx),
  },
  {
    // The records go with the certificate's row.
    title: "CDN alias",
    enabled: (config) => (!config.cdn.enabled ? "cdn.enabled is false" : config.cdn.domain !== undefined || "cdn.domain is not set"),
    // A dry run on a fresh account has no distribution domain to point at yet.
    ensure: (ctx, built) =>
      built.cdnDomain !== undefined
        ? ensureCdnAlias(ctx, built.cdnDomain)
        : Promise.resolve<StepReport>({ resource: "CDN alias", name: ctx.config.cdn.domain!, action: ctx.config.cdn.hostedZoneId ? "created" : "unchanged", detail: "to the distribution's domain, once it exists" }),
  },
  {
    // The function goes with its own row: nothing to remove here.
    title: "CDN settings of the function",
    enabled,
    ensure: (ctx, built) => ensureCdnFunctionSettings(ctx, { settings: built.cdnSettings, signingSecretCiphertext: need(built, "ciphertext"), keyArn: need(built, "imagesKeyArn") }),
  },
] satisfies StackStep[])
  .map(onlyWithCdn)
  .map(retiredOnEmulator);
