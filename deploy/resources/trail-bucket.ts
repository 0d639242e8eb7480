// The bucket CloudTrail delivers the audit logs to. Hardened like the images
// bucket; its policy lets CloudTrail (this trail only) check the bucket and
// write under AWSLogs/ACCOUNT/ (deploy/policies/bucket-policies.ts). Versioned
// and under S3 Object Lock (governance mode, config trail.retentionDays): no
// log file can be deleted or overwritten for that long by anyone who cannot
// bypass governance retention, which the deployer policy denies, so the people
// the trail audits cannot erase it, even by rewriting the bucket policy. No S3
// Bucket Key, so CloudTrail needs no kms:Decrypt on the audit key.
import type { DeployContext, StepReport } from "../context.ts";
import { trailBucketStatements } from "../policies/bucket-policies.ts";
import { ensureHardenedBucket, removeHardenedBucket, type BucketReport } from "./bucket-hardening.ts";

const RESOURCE = "S3 bucket (audit trail)";

export function ensureTrailBucket(ctx: DeployContext, deps: { keyArn: string }): Promise<BucketReport> {
  return ensureHardenedBucket(ctx, {
    resource: RESOURCE,
    bucket: ctx.names.trailBucket,
    keyArn: deps.keyArn,
    bucketKey: false,
    versioning: true,
    lockDays: ctx.config.trail.retentionDays,
    extraStatements: trailBucketStatements(ctx),
  });
}

/** Keeps a bucket holding audit logs unless deleteData. */
export function removeTrailBucket(ctx: DeployContext, opts: { deleteData: boolean }): Promise<StepReport> {
  // Locked versions go only with governance bypass: --delete-audit-logs is an administrator's step.
  return removeHardenedBucket(ctx, RESOURCE, ctx.names.trailBucket, { ...opts, bypassGovernance: true });
}
