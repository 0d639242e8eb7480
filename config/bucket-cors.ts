// The images bucket's CORS rule, one source for both sides: deploy gives it to
// PutBucketCors, and the local S3 (local/s3/cors.ts) enforces it as S3 does.
// Browsers talk to the bucket twice: a page PUTs a large original through the
// presigned URL of POST /uploads, and follows the 302 of a large variant to a
// presigned GET. Without a rule for the page's origin, S3 answers the
// preflight with 403 and the browser blocks the upload.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CORSRule.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ManageCorsUsing.html
import type { CORSRule } from "@aws-sdk/client-s3";

/**
 * Browsers cache a preflight for at most 2 hours (Chromium) or 24 (Firefox);
 * an hour saves a preflight per upload without keeping a narrowed cors.origins
 * stale for long.
 */
export const CORS_MAX_AGE_SECONDS = 3600;

/**
 * One rule for the configured cors.origins ("*" allowed, as S3 allows it).
 * The presigned PUT carries everything else in its signed query string, so
 * the only header a page sets is Content-Type (signed, and not CORS-safelisted
 * for image types, hence the preflight); Content-Length is the browser's own.
 * ETag is exposed so a page can confirm what S3 stored.
 */
export function imagesBucketCorsRules(origins: readonly string[]): CORSRule[] {
  return [
    {
      ID: "imgapi-browser-access",
      AllowedOrigins: [...origins],
      AllowedMethods: ["PUT", "GET", "HEAD"],
      AllowedHeaders: ["Content-Type"],
      ExposeHeaders: ["ETag"],
      MaxAgeSeconds: CORS_MAX_AGE_SECONDS,
    },
  ];
}
