// The bucket the handler reads and writes: originals/{id}, resized/{id}/...
// and, for presigned uploads not yet checked, uploads/{id}
// (function/storage/image-store.ts). Hardened like every bucket of the stack;
// only the Lambda role may use its objects (its inline policy and the key
// policy). Browsers reach it directly twice (a presigned PUT, the 302 to a
// large variant), so it carries the configured origins' CORS rule, and an
// upload nobody checked within a day expires.
import { imagesBucketCorsRules } from "../../config/bucket-cors.ts";
import { RESIZED_PREFIX } from "../../function/storage/key-layout.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { cdnBucketStatement } from "../policies/bucket-policies.ts";
import { bucketHasData, ensureHardenedBucket, removeHardenedBucket, type BucketReport } from "./bucket-hardening.ts";

export { bucketHasData };

const RESOURCE = "S3 bucket (images)";
/** Where presigned uploads land until the function has checked them. */
export const UNCHECKED_PREFIX = "uploads/";

/** An upload is checked on its first use or by the S3 trigger; one still unchecked after a day was never used. */
export const EXPIRE_UNCHECKED_UPLOADS = {
  ID: "expire-unchecked-uploads",
  Status: "Enabled" as const,
  Filter: { Prefix: UNCHECKED_PREFIX },
  Expiration: { Days: 1 },
};

/** cdnDistributionArn: the CDN reads resized/ through Origin Access Control (cdn-distribution.ts). */
export function ensureImagesBucket(ctx: DeployContext, deps: { keyArn: string; cdnDistributionArn?: string }): Promise<BucketReport> {
  return ensureHardenedBucket(ctx, {
    resource: RESOURCE,
    bucket: ctx.names.imagesBucket,
    keyArn: deps.keyArn,
    bucketKey: true,
    lifecycleRules: [EXPIRE_UNCHECKED_UPLOADS],
    cors: imagesBucketCorsRules(ctx.config.cors.origins),
    ...(deps.cdnDistributionArn ? { extraStatements: [cdnBucketStatement(ctx, ctx.names.imagesBucket, RESIZED_PREFIX, deps.cdnDistributionArn)] } : {}),
  });
}

/** Keeps a bucket holding images unless deleteData. */
export function removeImagesBucket(ctx: DeployContext, opts: { deleteData: boolean }): Promise<StepReport> {
  return removeHardenedBucket(ctx, RESOURCE, ctx.names.imagesBucket, opts);
}
