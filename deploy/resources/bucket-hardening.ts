// A bucket of the stack as a resource: found, created, hardened (the table of
// settings in bucket-settings.ts), emptied and deleted. Deleting keeps a bucket
// that holds data unless --delete-data says otherwise.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  waitUntilBucketExists,
  type ObjectIdentifier,
} from "@aws-sdk/client-s3";
import { bucketArn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, errorName, step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, isAbsent, reconcileSettings } from "../toolkit/index.ts";
import { bucketSettings, type BucketReport, type BucketSpec } from "./bucket-settings.ts";

export type { BucketReport, BucketSpec } from "./bucket-settings.ts";

/** DeleteObjects takes at most 1000 keys (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html). */
export const DELETE_OBJECTS_BATCH = 1000;
/** CloudTrail may deliver a last file after the trail is deleted: emptying is tried again this many times. */
const LATE_DELIVERY_ATTEMPTS = 3;

/** True when the bucket exists in this account; undefined when it does not exist at all. */
async function findBucket(ctx: DeployContext, resource: string, bucket: string): Promise<true | undefined> {
  try {
    await ctx.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (e) {
    if (isAbsent(e, "s3")) return undefined;
    if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) {
      throw new DeployError("reading", resource, bucket, "AccessDenied", "The name belongs to another AWS account, or your identity lacks s3:ListBucket on it. Choose another stackName, or grant s3:ListBucket.", { cause: e });
    }
    throw new DeployError("reading", resource, bucket, errorName(e), `${(e as Error).message ?? ""} Fix the cause and run the same command again.`.trim(), { cause: e });
  }
}

/** Creates the bucket if missing, then brings each setting to the desired value, writing only those that differ. */
export async function ensureHardenedBucket(ctx: DeployContext, spec: BucketSpec): Promise<BucketReport> {
  const { s3 } = ctx.clients;
  const { bucket, resource } = spec;
  const outputs = { bucketName: bucket, bucketArn: bucketArn(ctx, bucket) };
  const changes = new Changes(ctx, resource, bucket);
  const exists = await findBucket(ctx, resource, bucket);
  if (!exists) {
    await changes.apply("bucket", "s3:CreateBucket", async () => {
      // A lost answer: the SDK's retry is told BucketAlreadyOwnedByYou, which means it is ours already.
      await createOrAdopt(
        "s3",
        () =>
          s3.send(
            new CreateBucketCommand({
              Bucket: bucket,
              ObjectOwnership: "BucketOwnerEnforced",
              // us-east-1 is the one region that refuses a LocationConstraint naming it.
              ...(ctx.region === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: ctx.region as never } }),
            }),
          ),
        async () => ({ $metadata: {} }),
      );
      await waitUntilBucketExists({ client: s3, maxWaitTime: 60 }, { Bucket: bucket });
    }, "creating");
  }
  // A bucket just made has none of the settings yet: all are written without reading.
  await reconcileSettings(changes, bucketSettings(ctx, spec), { justCreated: !exists });
  if (!exists) return { ...changes.report(true, "hardened: public access blocked, owner-enforced, SSE-KMS, TLS only"), outputs };
  return { ...changes.report(false), outputs };
}

/** One page (up to 1000) of the bucket's object versions and delete markers. */
async function listVersions(ctx: DeployContext, bucket: string, marker?: { KeyMarker?: string; VersionIdMarker?: string }) {
  const page = await ctx.clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, ...marker }));
  const ids: ObjectIdentifier[] = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key ?? "", VersionId: v.VersionId }));
  const next = page.IsTruncated ? { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker } : undefined;
  return { ids, next };
}

/** Whether the bucket holds any object version or delete marker (false when it does not exist). */
export async function bucketHasData(ctx: DeployContext, bucket: string): Promise<boolean> {
  if (!(await findBucket(ctx, "S3 bucket", bucket))) return false;
  return step("listing the objects of", "S3 bucket", bucket, "s3:ListBucketVersions", async () => {
    const page = await ctx.clients.s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1 }));
    return (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0) > 0;
  });
}

async function countVersions(ctx: DeployContext, resource: string, bucket: string): Promise<number> {
  return step("listing the objects of", resource, bucket, "s3:ListBucketVersions", async () => {
    let count = 0;
    let marker: { KeyMarker?: string; VersionIdMarker?: string } | undefined;
    do {
      const page = await listVersions(ctx, bucket, marker);
      count += page.ids.length;
      marker = page.next;
    } while (marker);
    return count;
  });
}

/** Deletes every version and delete marker, a page (at most 1000, DeleteObjects' limit) at a time. */
async function emptyBucket(ctx: DeployContext, resource: string, bucket: string, bypassGovernance = false): Promise<void> {
  for (;;) {
    // Always the first page: what was listed before is gone now.
    const { ids } = await step("listing the objects of", resource, bucket, "s3:ListBucketVersions", () => listVersions(ctx, bucket));
    if (ids.length === 0) return;
    const result = await step("deleting the objects of", resource, bucket, "s3:DeleteObjectVersion", () =>
      ctx.clients.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: ids.slice(0, DELETE_OBJECTS_BATCH), Quiet: true }, ...(bypassGovernance ? { BypassGovernanceRetention: true } : {}) })),
    );
    const failed = result.Errors ?? [];
    if (failed.length) {
      const first = failed[0];
      throw new DeployError(
        "deleting the objects of",
        resource,
        bucket,
        first?.Code ?? "DeleteObjectsFailed",
        `${failed.length} of ${ids.length} objects were not deleted (first: ${first?.Key}: ${first?.Message}). Check the bucket policy and your s3:DeleteObject/s3:DeleteObjectVersion permissions, then run the same command again.`,
      );
    }
  }
}

/** Deletes the bucket; one that still holds objects is kept unless deleteData. */
export async function removeHardenedBucket(ctx: DeployContext, resource: string, bucket: string, opts: { deleteData: boolean; bypassGovernance?: boolean }): Promise<StepReport> {
  const report = (action: StepReport["action"], detail?: string): StepReport => ({ resource, name: bucket, action, ...(detail ? { detail } : {}) });
  if (!(await findBucket(ctx, resource, bucket))) return report("absent");
  const count = await countVersions(ctx, resource, bucket);
  const objects = `${count} object${count === 1 ? "" : "s"}`;
  if (count > 0 && !opts.deleteData) return report("kept", `holds ${objects}; rerun with --delete-data to delete them`);
  if (ctx.dryRun) return report("deleted", count > 0 ? `would delete ${objects}` : undefined);
  for (let attempt = 1; ; attempt++) {
    if (count > 0 || attempt > 1) await emptyBucket(ctx, resource, bucket, opts.bypassGovernance);
    try {
      await step("deleting", resource, bucket, "s3:DeleteBucket", () => ignoreAbsent("s3", () => ctx.clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }))));
      break;
    } catch (e) {
      // A file delivered after it was emptied (CloudTrail's last one): empty it again.
      const late = e instanceof DeployError && errorName(e.cause) === "BucketNotEmpty";
      if (!late || attempt >= LATE_DELIVERY_ATTEMPTS) throw e;
      ctx.progress(`${bucket} received objects while it was emptied; emptying it again`);
    }
  }
  return report("deleted", count > 0 ? `deleted ${objects}` : undefined);
}
