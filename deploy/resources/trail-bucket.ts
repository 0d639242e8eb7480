// The bucket CloudTrail delivers the audit logs to. Hardened like the images
// bucket, and its policy lets CloudTrail (for this trail only) check the bucket
// and write under AWSLogs/ACCOUNT/, as the docs require:
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
import type { DeployContext, StepReport } from "../context.ts";
import type { PolicyStatement } from "./lambda-role.ts";
import { bucketArn, ensureHardenedBucket, removeHardenedBucket, type BucketReport } from "./bucket-hardening.ts";
import { trailArn } from "./trail.ts";

const RESOURCE = "S3 bucket (audit trail)";

/** CloudTrail's grants, scoped with aws:SourceArn to this stack's trail (no other trail may write here). */
export function trailBucketStatements(ctx: Pick<DeployContext, "partition" | "region" | "account" | "names">): PolicyStatement[] {
  const bucket = bucketArn(ctx, ctx.names.trailBucket);
  const cloudtrail = { Service: "cloudtrail.amazonaws.com" };
  const sourceArn = { "aws:SourceArn": trailArn(ctx) };
  return [
    { Sid: "CloudTrailChecksBucketAcl", Effect: "Allow", Principal: cloudtrail, Action: "s3:GetBucketAcl", Resource: bucket, Condition: { StringEquals: sourceArn } },
    {
      Sid: "CloudTrailWritesLogs",
      Effect: "Allow",
      Principal: cloudtrail,
      Action: "s3:PutObject",
      Resource: `${bucket}/AWSLogs/${ctx.account}/*`,
      Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", ...sourceArn } },
    },
  ];
}

export function ensureTrailBucket(ctx: DeployContext, deps: { keyArn: string }): Promise<BucketReport> {
  return ensureHardenedBucket(ctx, { resource: RESOURCE, bucket: ctx.names.trailBucket, keyArn: deps.keyArn, extraStatements: trailBucketStatements(ctx) });
}

/** Keeps a bucket holding audit logs unless deleteData. */
export function removeTrailBucket(ctx: DeployContext, opts: { deleteData: boolean }): Promise<StepReport> {
  return removeHardenedBucket(ctx, RESOURCE, ctx.names.trailBucket, opts);
}
