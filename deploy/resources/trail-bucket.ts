// The bucket CloudTrail delivers the audit logs to. Hardened like the images
// bucket, and its policy lets CloudTrail (for this trail only) check the bucket
// and write under AWSLogs/ACCOUNT/, as the docs require:
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
import type { DeployContext, StepReport } from "../context.ts";
import { trailBucketStatements } from "../policies/bucket-policies.ts";
import { ensureHardenedBucket, removeHardenedBucket, type BucketReport } from "./bucket-hardening.ts";

const RESOURCE = "S3 bucket (audit trail)";

export function ensureTrailBucket(ctx: DeployContext, deps: { keyArn: string }): Promise<BucketReport> {
  return ensureHardenedBucket(ctx, { resource: RESOURCE, bucket: ctx.names.trailBucket, keyArn: deps.keyArn, extraStatements: trailBucketStatements(ctx) });
}

/** Keeps a bucket holding audit logs unless deleteData. */
export function removeTrailBucket(ctx: DeployContext, opts: { deleteData: boolean }): Promise<StepReport> {
  return removeHardenedBucket(ctx, RESOURCE, ctx.names.trailBucket, opts);
}
