// The Origin Access Control the distribution signs its requests to the images
// bucket with (SigV4, always), so the bucket policy can name CloudFront and
// this distribution instead of opening the bucket.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
import {
  CreateOriginAccessControlCommand,
  DeleteOriginAccessControlCommand,
  GetOriginAccessControlCommand,
  ListOriginAccessControlsCommand,
  UpdateOriginAccessControlCommand,
  type OriginAccessControlConfig,
} from "@aws-sdk/client-cloudfront";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";
import { cdnNames } from "./cdn-names.ts";

const RESOURCE = "CloudFront origin access control";

const desiredOf = (ctx: DeployContext): OriginAccessControlConfig => ({
  Name: cdnNames(ctx).originAccess,
  Description: `imgapi ${ctx.names.stack}: the CDN reads variants from the images bucket`,
  SigningProtocol: "sigv4",
  SigningBehavior: "always",
  OriginAccessControlOriginType: "s3",
});

const OWNED = ["SigningProtocol", "SigningBehavior", "OriginAccessControlOriginType"] as const;

export async function findOriginAccess(ctx: DeployContext): Promise<{ id: string; config: OriginAccessControlConfig; etag: string } | undefined> {
  const name = cdnNames(ctx).originAccess;
  return step("finding", RESOURCE, name, "cloudfront:ListOriginAccessControls", async () => {
    let Marker: string | undefined;
    do {
      const page = (await ctx.clients.cloudfront.send(new ListOriginAccessControlsCommand({ ...(Marker ? { Marker } : {}) }))).OriginAccessControlList;
      const summary = page?.Items?.find((o) => o.Name === name);
      if (summary?.Id !== undefined) {
        const got = await orAbsent("cloudfront", () => ctx.clients.cloudfront.send(new GetOriginAccessControlCommand({ Id: summary.Id })));
        const config = got?.OriginAccessControl?.OriginAccessControlConfig;
        return config === undefined ? undefined : { id: summary.Id, config, etag: got?.ETag ?? "" };
      }
      Marker = page?.IsTruncated ? page.NextMarker : undefined;
    } while (Marker);
    return undefined;
  });
}

export type OriginAccessReport = StepReport & { oacId: string };

export async function ensureOriginAccess(ctx: DeployContext): Promise<OriginAccessReport> {
  const desired = desiredOf(ctx);
  const changes = new Changes(ctx, RESOURCE, desired.Name!);
  const found = await findOriginAccess(ctx);
  if (found === undefined) {
    const made = await changes.apply("origin access control", "cloudfront:CreateOriginAccessControl", () =>
      createOrAdopt(
        "cloudfront",
        async () => (await ctx.clients.cloudfront.send(new CreateOriginAccessControlCommand({ OriginAccessControlConfig: desired }))).OriginAccessControl?.Id,
        async () => (await findOriginAccess(ctx))?.id,
      ), "creating");
    return { ...changes.report(true, "S3, SigV4, always signed"), oacId: made?.value ?? "(new)" };
  }
  const drift = OWNED.filter((f) => found.config[f] !== desired[f]);
  if (drift.length > 0) {
    await changes.apply(drift.join(", "), "cloudfront:UpdateOriginAccessControl", () =>
      ctx.clients.cloudfront.send(new UpdateOriginAccessControlCommand({ Id: found.id, IfMatch: found.etag, OriginAccessControlConfig: { ...found.config, ...desired } })), "updating");
  }
  return { ...changes.report(false), oacId: found.id };
}

/** After the distribution (CloudFront refuses to delete one still in use). */
export async function removeOriginAccess(ctx: DeployContext): Promise<StepReport> {
  const name = cdnNames(ctx).originAccess;
  const found = await findOriginAccess(ctx);
  if (found === undefined) return { resource: RESOURCE, name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, name);
  await changes.apply("origin access control", "cloudfront:DeleteOriginAccessControl", () =>
    ignoreAbsent("cloudfront", () => ctx.clients.cloudfront.send(new DeleteOriginAccessControlCommand({ Id: found.id, IfMatch: found.etag }))), "deleting");
  return { resource: RESOURCE, name, action: "deleted" };
}
