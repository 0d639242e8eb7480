// The bucket the handler reads and writes: originals/{id} and resized/{id}/...
// (function/storage/image-store.ts). Hardened like every bucket of the stack;
// only the Lambda role may use its objects (its inline policy and the key policy).
import type { DeployContext, StepReport } from "../context.ts";
import { bucketHasData, ensureHardenedBucket, removeHardenedBucket, type BucketReport } from "./bucket-hardening.ts";

export { bucketHasData };

const RESOURCE = "S3 bucket (images)";

export function ensureImagesBucket(ctx: DeployContext, deps: { keyArn: string }): Promise<BucketReport> {
  return ensureHardenedBucket(ctx, { resource: RESOURCE, bucket: ctx.names.imagesBucket, keyArn: deps.keyArn });
}

/** Keeps a bucket holding images unless deleteData. */
export function removeImagesBucket(ctx: DeployContext, opts: { deleteData: boolean }): Promise<StepReport> {
  return removeHardenedBucket(ctx, RESOURCE, ctx.names.imagesBucket, opts);
}
