// The CloudFront distribution (design: notes of issue 13; config in
// cdn-distribution-config.ts). Deploy compares every owned field with
// GetDistributionConfig and sends at most one UpdateDistribution, with the
// version it read (If-Match). Teardown disables it, waits (with progress,
// bounded by the clock) until CloudFront has deployed that, and deletes it;
// past the bound it leaves it disabled and says to run teardown again.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DeleteDistribution.html
import { randomBytes, randomUUID } from "node:crypto";
import {
  CreateDistributionWithTagsCommand,
  DeleteDistributionCommand,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  ListDistributionsCommand,
  UpdateDistributionCommand,
  type DistributionConfig,
} from "@aws-sdk/client-cloudfront";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent, tagList } from "../toolkit/index.ts";
import { desiredDistribution, driftedFields, originSecretOf, ownedFields, type DistributionDeps } from "./cdn-distribution-config.ts";
import { cdnNames, isStaleVersion } from "./cdn-names.ts";

const RESOURCE = "CloudFront distribution";
/** How long teardown waits for a disabled distribution to deploy (it usually takes a few minutes) before leaving it for the next run. */
export const DISABLE_WAIT_MS = 15 * 60_000;
const POLL_MS = 20_000;

export interface FoundDistribution {
  id: string;
  arn: string;
  domain: string;
}

/** The ARN AWS documents (global: no region): what policies name. */
export const distributionArn = (ctx: Pick<DeployContext, "partition" | "account">, id: string) => `arn:${ctx.partition}:cloudfront::${ctx.account}:distribution/${id}`;

/** The stack's distribution: the one with its comment. */
export async function findDistribution(ctx: DeployContext): Promise<FoundDistribution | undefined> {
  const comment = cdnNames(ctx).comment;
  return step("finding", RESOURCE, comment, "cloudfront:ListDistributions", async () => {
    let Marker: string | undefined;
    do {
      const page = (await ctx.clients.cloudfront.send(new ListDistributionsCommand({ ...(Marker ? { Marker } : {}) }))).DistributionList;
      const hit = page?.Items?.find((d) => d.Comment === comment);
      if (hit?.Id !== undefined) return { id: hit.Id, arn: distributionArn(ctx, hit.Id), domain: hit.DomainName ?? "" };
      Marker = page?.IsTruncated ? page.NextMarker : undefined;
    } while (Marker);
    return undefined;
  });
}

export const readDistributionConfig = (ctx: DeployContext, Id: string) =>
  step("reading", RESOURCE, Id, "cloudfront:GetDistributionConfig", () => orAbsent("cloudfront", () => ctx.clients.cloudfront.send(new GetDistributionConfigCommand({ Id }))));

/** The origin secret: 32 random bytes, base64url, made once; an existing distribution's is read back. */
export const newOriginSecret = () => randomBytes(32).toString("base64url");

export type DistributionReport = StepReport & { distribution?: FoundDistribution & { originSecret: string } };

export async function ensureDistribution(ctx: DeployContext, deps: DistributionDeps): Promise<DistributionReport> {
  const { cloudfront } = ctx.clients;
  const comment = cdnNames(ctx).comment;
  const changes = new Changes(ctx, RESOURCE, comment);
  const found = await findDistribution(ctx);
  if (found === undefined) {
    const secret = newOriginSecret();
    const desired = desiredDistribution(ctx, deps, secret, `${ctx.names.stack}-${randomUUID()}`);
    const made = await changes.apply("distribution", "cloudfront:CreateDistributionWithTags and cloudfront:TagResource", () =>
      createOrAdopt(
        "cloudfront",
        async () => {
          const d = (await cloudfront.send(new CreateDistributionWithTagsCommand({ DistributionConfigWithTags: { DistributionConfig: desired, Tags: { Items: tagList(ctx.tags) } } }))).Distribution;
          return d?.Id === undefined ? undefined : { id: d.Id, arn: distributionArn(ctx, d.Id), domain: d.DomainName ?? "" };
        },
        () => findDistribution(ctx),
      ), "creating");
    const d = made?.value;
    return { ...changes.report(true, "HTTPS only; API origin with its secret header, bucket origin through origin access control"), ...(d ? { distribution: { ...d, originSecret: secret } } : {}) };
  }
  const current = await readDistributionConfig(ctx, found.id);
  const actual = current?.DistributionConfig;
  // A secret removed by hand is replaced: the function is then told its new hash.
  const secret = originSecretOf(actual) ?? newOriginSecret();
  const desired = desiredDistribution(ctx, deps, secret, actual?.CallerReference ?? "");
  if (actual !== undefined && ownedFields(actual) !== ownedFields(desired)) {
    // The whole configuration is sent: fields deploy does not own (logging, geo restrictions) keep their values.
    const merged: DistributionConfig = { ...actual, ...desired, CallerReference: actual.CallerReference };
    await changes.apply(driftedFields(actual, desired).join(", "), "cloudfront:UpdateDistribution", async () => {
      try {
        await cloudfront.send(new UpdateDistributionCommand({ Id: found.id, IfMatch: current?.ETag, DistributionConfig: merged }));
      } catch (e) {
        const now = isStaleVersion(e) ? (await readDistributionConfig(ctx, found.id))?.DistributionConfig : undefined;
        if (now === undefined || ownedFields(now) !== ownedFields(desired)) throw e;
      }
    }, "updating");
  }
  return { ...changes.report(false), distribution: { ...found, originSecret: secret } };
}

/**
 * Disables, waits until CloudFront has deployed that, deletes. Each step is
 * found again from CloudFront, so a run stopped anywhere (or one that left it
 * disabled at the wait's bound) is finished by the next.
 */
export async function removeDistribution(ctx: DeployContext): Promise<StepReport> {
  const { cloudfront } = ctx.clients;
  const comment = cdnNames(ctx).comment;
  const found = await findDistribution(ctx);
  if (found === undefined) return { resource: RESOURCE, name: comment, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, comment);
  const current = await readDistributionConfig(ctx, found.id);
  if (current?.DistributionConfig?.Enabled) {
    const config = { ...current.DistributionConfig, Enabled: false };
    await changes.apply("disabled", "cloudfront:UpdateDistribution", () => cloudfront.send(new UpdateDistributionCommand({ Id: found.id, IfMatch: current.ETag, DistributionConfig: config })), "disabling");
  }
  if (ctx.dryRun) {
    changes.note("distribution");
    return { resource: RESOURCE, name: comment, action: "deleted", detail: changes.list.join(", ") };
  }
  const deployed = await waitUntilDeployed(ctx, found.id);
  if (deployed === undefined) return { resource: RESOURCE, name: comment, action: "absent" };
  if (deployed === false) {
    return {
      resource: RESOURCE,
      name: comment,
      action: "kept",
      detail: `disabled, but CloudFront had not finished deploying that after ${Math.round(DISABLE_WAIT_MS / 60_000)} min: run teardown again to finish (it deletes the distribution, then its key group, origin access control, cache policy and function)`,
    };
  }
  await changes.apply("distribution", "cloudfront:DeleteDistribution", () => ignoreAbsent("cloudfront", () => cloudfront.send(new DeleteDistributionCommand({ Id: found.id, IfMatch: deployed }))), "deleting");
  return { resource: RESOURCE, name: comment, action: "deleted", detail: changes.list.join(", ") };
}

/** The ETag once Status is Deployed; false at the bound; undefined if it went away meanwhile. */
async function waitUntilDeployed(ctx: DeployContext, Id: string): Promise<string | false | undefined> {
  const started = ctx.clock.now();
  for (let polls = 0; ; polls++) {
    const got = await step("reading", RESOURCE, Id, "cloudfront:GetDistribution", () => orAbsent("cloudfront", () => ctx.clients.cloudfront.send(new GetDistributionCommand({ Id }))));
    if (got === undefined) return undefined;
    if (got.Distribution?.Status === "Deployed") return got.ETag ?? "";
    const waited = ctx.clock.now() - started;
    if (waited >= DISABLE_WAIT_MS) return false;
    ctx.progress(`${polls === 0 ? "waiting for CloudFront to deploy the disabled distribution before deleting it (usually a few minutes)" : `still ${got.Distribution?.Status ?? "in progress"}`} (${Math.round(waited / 1000)} s of at most ${DISABLE_WAIT_MS / 1000} s)`);
    await ctx.clock.sleep(Math.min(POLL_MS, DISABLE_WAIT_MS - waited));
  }
}
