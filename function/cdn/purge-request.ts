// What one purge of an image invalidates at the CDN: every size of it on the
// public route (each Accept class, each signing window) and every large
// variant served from the bucket, as two wildcard paths.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html
import { createHash } from "node:crypto";
import { publicPath } from "../signed-urls.ts";
import { variantPrefix } from "../storage/key-layout.ts";

export interface InvalidationRequest {
  distributionId: string;
  paths: string[];
  /**
   * CloudFront creates no second invalidation for a CallerReference it has
   * seen with the same paths (it answers the first one), so a retried call
   * (the SDK's, or a retried request) does not queue a duplicate.
   * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_InvalidationBatch.html
   */
  callerReference: string;
}

/** The reference stays the same for a minute: long enough for retries, short enough that a later change purges again. */
const BUCKET_MS = 60_000;

/** Paths for one image; `reason` ("delete", "focus 0.3,0.6", "remade <tag>") keeps two different changes in one minute apart. */
export function purgeRequest(distributionId: string, id: string, reason: string, nowMs: number): InvalidationRequest {
  const reasonHash = createHash("sha256").update(reason, "utf8").digest("hex").slice(0, 16);
  return {
    distributionId,
    paths: [publicPath(id, "*"), `/${variantPrefix(id)}*`],
    callerReference: `imgapi-${id}-${reasonHash}-${Math.floor(nowMs / BUCKET_MS)}`,
  };
}
