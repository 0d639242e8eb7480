// How a checked original's facts reach its S3 metadata once its bytes are
// stored: a CopyObject onto originals/{id} with MetadataDirective REPLACE (the
// way S3 documents to change an object's metadata; the bytes are not sent
// again, and one copy takes up to 5 GB:
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html). It is
// conditional on the ETag that was read (x-amz-copy-source-if-match), so bytes
// or facts written meanwhile are never overwritten with stale ones
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html).
// The callers say what each outcome means: original-facts.ts (a rewrite in
// place) and uploads.ts (a checked upload moved into originals/).
import { CopyObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MIME_TYPES } from "../image/formats.ts";
import { originalKey } from "./key-layout.ts";
import { checkedMetadata, type OriginalMeta } from "./object-meta.ts";
import { isConditionFailed, isNotFound, translate } from "./s3-errors.ts";

export type CopyOutcome = "copied" | "precondition failed" | "source gone";

/** How the copy went; S3's refusal kept as `cause` for the log. */
export interface CopyResult {
  outcome: CopyOutcome;
  cause?: unknown;
}

export async function copyChecked(
  s3: S3Client,
  bucket: string,
  from: { key: string; etag: string },
  original: OriginalMeta,
  options: { onlyIfNoOriginal: boolean; action: string },
): Promise<CopyResult> {
  try {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: originalKey(original.id),
        CopySource: `${bucket}/${from.key}`,
        CopySourceIfMatch: from.etag,
        // If-None-Match "*": an existing original is never replaced.
        ...(options.onlyIfNoOriginal ? { IfNoneMatch: "*" } : {}),
        MetadataDirective: "REPLACE",
        Metadata: checkedMetadata(original),
        ContentType: MIME_TYPES[original.format],
      }),
    );
    return { outcome: "copied" };
  } catch (e) {
    if (isConditionFailed(e)) return { outcome: "precondition failed", cause: e };
    if (isNotFound(e)) return { outcome: "source gone", cause: e };
    throw translate(e, options.action);
  }
}
