// What both buckets share: how they are found, created, hardened, emptied and
// deleted. Each setting is read, compared and written on its own, so a bucket
// created by a run that stopped before hardening it is hardened by the next.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  waitUntilBucketExists,
  type LifecycleRule,
  type ObjectIdentifier,
  type PublicAccessBlockConfiguration,
} from "@aws-sdk/client-s3";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { DeployError, errorName, isNotFound, step } from "../errors.ts";
import { bucketArn } from "../arns.ts";
import { bucketPolicy } from "../policies/bucket-policies.ts";
import { samePolicy, type PolicyStatement } from "../policies/document.ts";

export interface BucketSpec {
  /** "S3 bucket (images)": how reports and errors name it. */
  resource: string;
  bucket: string;
  keyArn: string;
  /** Statements the bucket policy adds to the TLS-only deny (the trail bucket's CloudTrail grants). */
  extraStatements?: PolicyStatement[];
}

export type BucketReport = StepReport & { outputs: { bucketName: string; bucketArn: string } };

export const PUBLIC_ACCESS_BLOCK: Required<PublicAccessBlockConfiguration> = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

export const ABORT_MULTIPART_RULE: LifecycleRule = {
  ID: "abort-incomplete-multipart-uploads",
  Status: "Enabled",
  Filter: { Prefix: "" },
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
};

/** A read that answers `undefined` when the bucket has no such configuration (S3's not-found error for it). */
async function readOrUndefined<T>(notFound: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (isNotFound(e, notFound)) return undefined;
    throw e;
  }
}

/** True when the bucket exists in this account; undefined when it does not exist at all. */
async function findBucket(ctx: DeployContext, resource: string, bucket: string): Promise<true | undefined> {
  try {
    await ctx.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (e) {
    if (isNotFound(e, "NotFound", "NoSuchBucket")) return undefined;
    if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403) {
      throw new DeployError("reading", resource, bucket, "AccessDenied", "The name belongs to another AWS account, or your identity lacks s3:ListBucket on it. Choose another stackName, or grant s3:ListBucket.", { cause: e });
    }
    throw new DeployError("reading", resource, bucket, errorName(e), `${(e as Error).message ?? ""} Fix the cause and run the same command again.`.trim(), { cause: e });
  }
}

interface Setting {
  field: string;
  permission: string;
  /** Whether the bucket already has it; not called for a bucket just created. */
  matches(): Promise<boolean>;
  write(): Promise<unknown>;
}

function settings(ctx: DeployContext, spec: BucketSpec): Setting[] {
  const { s3 } = ctx.clients;
  const Bucket = spec.bucket;
  const policy = bucketPolicy(ctx, spec);
  // Exactly our one rule, applying to the whole bucket, and nothing that expires or moves objects.
  const isOurRule = (rules: LifecycleRule[] | undefined) => {
    const rule = rules?.length === 1 ? rules[0] : undefined;
    return (
      rule !== undefined &&
      rule.ID === ABORT_MULTIPART_RULE.ID &&
      rule.Status === "Enabled" &&
      rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation === 1 &&
      !rule.Expiration &&
      !rule.Transitions?.length &&
      !rule.NoncurrentVersionExpiration &&
      !rule.NoncurrentVersionTransitions?.length &&
      !rule.Filter?.Tag &&
      !rule.Filter?.And &&
      !rule.Filter?.Prefix &&
      !rule.Prefix
    );
  };
  return [
    {
      field: "public access block",
      permission: "s3:PutBucketPublicAccessBlock",
      matches: async () => {
        const got = await readOrUndefined("NoSuchPublicAccessBlockConfiguration", () => s3.send(new GetPublicAccessBlockCommand({ Bucket })));
        const actual = got?.PublicAccessBlockConfiguration ?? {};
        return Object.entries(PUBLIC_ACCESS_BLOCK).every(([k, v]) => actual[k as keyof PublicAccessBlockConfiguration] === v);
      },
      write: () => s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: PUBLIC_ACCESS_BLOCK })),
    },
    {
      field: "object ownership",
      permission: "s3:PutBucketOwnershipControls",
      matches: async () => {
        const got = await readOrUndefined("OwnershipControlsNotFoundError", () => s3.send(new GetBucketOwnershipControlsCommand({ Bucket })));
        const rules = got?.OwnershipControls?.Rules ?? [];
        return rules.length === 1 && rules[0]?.ObjectOwnership === "BucketOwnerEnforced";
      },
      write: () => s3.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] } })),
    },
    {
      field: "default encryption",
      permission: "s3:PutEncryptionConfiguration",
      matches: async () => {
        const got = await readOrUndefined("ServerSideEncryptionConfigurationNotFoundError", () => s3.send(new GetBucketEncryptionCommand({ Bucket })));
        const rules = got?.ServerSideEncryptionConfiguration?.Rules ?? [];
        const rule = rules[0];
        return (
          rules.length === 1 &&
          rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm === "aws:kms" &&
          rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID === spec.keyArn &&
          rule.BucketKeyEnabled === true
        );
      },
      write: () =>
        s3.send(
          new PutBucketEncryptionCommand({
            Bucket,
            // The bucket key lets S3 reuse a data key for a while instead of calling KMS per object: cheaper, fewer throttles.
            ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: spec.keyArn }, BucketKeyEnabled: true }] },
          }),
        ),
    },
    {
      field: "lifecycle",
      permission: "s3:PutLifecycleConfiguration",
      matches: async () => {
        const got = await readOrUndefined("NoSuchLifecycleConfiguration", () => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })));
        return isOurRule(got?.Rules);
      },
      write: () => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: [ABORT_MULTIPART_RULE] } })),
    },
    {
      field: "tags",
      permission: "s3:PutBucketTagging",
      matches: async () => {
        const got = await readOrUndefined("NoSuchTagSet", () => s3.send(new GetBucketTaggingCommand({ Bucket })));
        const actual = Object.fromEntries((got?.TagSet ?? []).map((t) => [t.Key, t.Value]));
        return Object.entries(ctx.tags).every(([k, v]) => actual[k] === v);
      },
      // PutBucketTagging replaces the whole set: keep tags others added.
      write: async () => {
        const got = await readOrUndefined("NoSuchTagSet", () => s3.send(new GetBucketTaggingCommand({ Bucket })));
        const merged: Record<string, string> = { ...Object.fromEntries((got?.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])), ...ctx.tags };
        return s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: Object.entries(merged).map(([Key, Value]) => ({ Key, Value })) } }));
      },
    },
    {
      field: "policy",
      permission: "s3:PutBucketPolicy",
      matches: async () => {
        const got = await readOrUndefined("NoSuchBucketPolicy", () => s3.send(new GetBucketPolicyCommand({ Bucket })));
        return samePolicy(got?.Policy, policy);
      },
      write: () => s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(policy) })),
    },
  ];
}

/** Creates the bucket if missing, then brings each setting to the desired value, writing only those that differ. */
export async function ensureHardenedBucket(ctx: DeployContext, spec: BucketSpec): Promise<BucketReport> {
  const { s3 } = ctx.clients;
  const { bucket, resource } = spec;
  const outputs = { bucketName: bucket, bucketArn: bucketArn(ctx, bucket) };
  const exists = await findBucket(ctx, resource, bucket);
  if (!exists) {
    await mutate(ctx, () =>
      step("creating", resource, bucket, "s3:CreateBucket", async () => {
        await s3.send(
          new CreateBucketCommand({
            Bucket: bucket,
            ObjectOwnership: "BucketOwnerEnforced",
            // us-east-1 is the one region that refuses a LocationConstraint naming it.
            ...(ctx.region === "us-east-1" ? {} : { CreateBucketConfiguration: { LocationConstraint: ctx.region as never } }),
          }),
        );
        await waitUntilBucketExists({ client: s3, maxWaitTime: 60 }, { Bucket: bucket });
      }),
    );
  }
  const drifted: string[] = [];
  for (const setting of settings(ctx, spec)) {
    // A bucket just made has none of them yet: write them all without reading.
    if (exists && (await step("reading the settings of", resource, bucket, setting.permission.replace(":Put", ":Get"), () => setting.matches()))) continue;
    drifted.push(setting.field);
    await mutate(ctx, () => step(`setting the ${setting.field} of`, resource, bucket, setting.permission, () => setting.write()));
  }
  if (!exists) return { resource, name: bucket, action: "created", detail: "hardened: public access blocked, owner-enforced, SSE-KMS, TLS only", outputs };
  return { resource, name: bucket, action: drifted.length ? "updated" : "unchanged", ...(drifted.length ? { detail: drifted.join(", ") } : {}), outputs };
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
async function emptyBucket(ctx: DeployContext, resource: string, bucket: string): Promise<void> {
  for (;;) {
    // Always the first page: what was listed before is gone now.
    const { ids } = await step("listing the objects of", resource, bucket, "s3:ListBucketVersions", () => listVersions(ctx, bucket));
    if (ids.length === 0) return;
    const result = await step("deleting the objects of", resource, bucket, "s3:DeleteObjectVersion", () =>
      ctx.clients.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: ids.slice(0, 1000), Quiet: true } })),
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
export async function removeHardenedBucket(ctx: DeployContext, resource: string, bucket: string, opts: { deleteData: boolean }): Promise<StepReport> {
  const report = (action: StepReport["action"], detail?: string): StepReport => ({ resource, name: bucket, action, ...(detail ? { detail } : {}) });
  if (!(await findBucket(ctx, resource, bucket))) return report("absent");
  const count = await countVersions(ctx, resource, bucket);
  if (count > 0 && !opts.deleteData) return report("kept", `holds ${count} objects; rerun with --delete-data to delete them`);
  if (count > 0) await mutate(ctx, () => emptyBucket(ctx, resource, bucket));
  await mutate(ctx, () =>
    step("deleting", resource, bucket, "s3:DeleteBucket", async () => {
      try {
        await ctx.clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch (e) {
        if (!isNotFound(e, "NoSuchBucket")) throw e;
      }
    }),
  );
  return report("deleted", count > 0 ? `${ctx.dryRun ? "would delete" : "deleted"} ${count} objects` : undefined);
}
