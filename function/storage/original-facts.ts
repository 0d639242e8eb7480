// Changing what is stored with a checked original after the fact: its focal
// point (PUT/DELETE /images/{id}/focus) and, for an original stored before
// placeholders, its placeholder. An original checked on its way in
// (POST /images, a moved upload) keeps them in its S3 metadata, which only a
// copy of the object onto itself can change; a direct write keeps them in its
// record beside its variants (key-layout.ts).
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { INPUT_FORMATS, type InputFormat } from "../../config/constants.ts";
import { ApiError } from "../errors.ts";
import { originalKey, originalRecordKey } from "./key-layout.ts";
import { extraFields, readExtras, type OriginalFacts, type OriginalMeta } from "./object-meta.ts";
import { copyChecked } from "./checked-copy.ts";
import { isNotFound, translate } from "./s3-errors.ts";

/**
 * Rewrites a checked original's metadata by copying the object onto itself
 * with MetadataDirective REPLACE, the way S3 documents to change an object's
 * metadata (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html);
 * the bytes are not sent again. The copy is conditional on the ETag read
 * (x-amz-copy-source-if-match), so bytes or facts written meanwhile are never
 * overwritten with stale ones: the caller is asked to retry instead. With
 * resizeOnUpload, the copy's ObjectCreated event reaches the trigger, which
 * remakes the sizes whose crop changed (and finds the others up to date).
 */
export async function rewriteMetadata(s3: S3Client, bucket: string, original: OriginalMeta, etag: string): Promise<void> {
  const action = "rewriting an original's metadata";
  const { outcome, cause } = await copyChecked(s3, bucket, { key: originalKey(original.id), etag }, original, { onlyIfNoOriginal: false, action });
  if (outcome === "precondition failed") throw new ApiError("STORAGE_UNAVAILABLE", `${action}: the original changed while it was read`, { cause, retryAfter: 1 });
  if (outcome === "source gone") throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${original.id}: it was deleted meanwhile.`);
}

/** Records what checking a directly written original found, beside its variants (never under originals/). */
export async function putRecord(s3: S3Client, bucket: string, meta: OriginalMeta): Promise<void> {
  const { format, width, height, hasAlpha } = meta;
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: originalRecordKey(meta.id),
        Body: JSON.stringify({ format, width, height, hasAlpha, ...extraFields(meta) }),
        ContentType: "application/json",
      }),
    );
  } catch (e) {
    throw translate(e, "storing the original's record");
  }
}

/** A direct write's record; undefined when there is none, or it is unreadable (the original is then checked again). */
export async function getRecord(s3: S3Client, bucket: string, id: string): Promise<OriginalFacts | undefined> {
  let text: string;
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: originalRecordKey(id) }));
    text = await got.Body!.transformToString();
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw translate(e, "reading the original's record");
  }
  try {
    const r = JSON.parse(text) as { format?: unknown; width?: unknown; height?: unknown; hasAlpha?: unknown };
    if (!(INPUT_FORMATS as readonly unknown[]).includes(r.format) || typeof r.width !== "number" || typeof r.height !== "number") return undefined;
    return { format: r.format as InputFormat, width: r.width, height: r.height, hasAlpha: r.hasAlpha === true, ...readExtras(r) };
  } catch {
    return undefined;
  }
}
