// The variants' S3 calls, and the batched deletes and paged listings an
// image's many objects need. S3 errors are translated at the call, as in
// image-store.ts.
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ApiError } from "../errors.ts";
import { variantMetaOf, type VariantMeta } from "./object-meta.ts";
import { isNotFound, translate } from "./s3-errors.ts";

// DeleteObjects takes at most 1000 keys.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
const DELETE_BATCH = 1000;

export interface VariantBytes {
  data: Buffer;
  contentType: string;
  width: number;
  height: number;
}

export async function deleteKeys(s3: S3Client, bucket: string, keys: string[], action: string): Promise<void> {
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    let failed;
    try {
      const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      failed = out.Errors ?? [];
    } catch (e) {
      throw translate(e, action);
    }
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new ApiError("STORAGE_ERROR", `${action}: S3 refused ${failed.length} of ${batch.length} keys (first: ${first.Key}: ${first.Code})`);
    }
  }
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    try {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } catch (e) {
      throw translate(e, "listing an image's variants");
    }
  } while (token !== undefined);
  return keys;
}

export async function headVariant(s3: S3Client, bucket: string, key: string): Promise<VariantMeta | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return variantMetaOf(key, head.Metadata, head.ContentLength ?? 0, head.ContentType, head.ETag);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw translate(e, "reading a variant");
  }
}

export async function getVariant(s3: S3Client, bucket: string, key: string): Promise<{ meta: VariantMeta; data: Buffer } | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const data = Buffer.from(await got.Body!.transformToByteArray());
    return { meta: variantMetaOf(key, got.Metadata, data.length, got.ContentType, got.ETag), data };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw translate(e, "reading a variant");
  }
}

export async function putVariant(s3: S3Client, bucket: string, key: string, variant: VariantBytes, tag: string): Promise<VariantMeta> {
  try {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: variant.data,
        ContentType: variant.contentType,
        Metadata: { width: String(variant.width), height: String(variant.height), spec: tag },
      }),
    );
    return { key, contentType: variant.contentType, width: variant.width, height: variant.height, bytes: variant.data.length, tag, etag: put.ETag ?? "" };
  } catch (e) {
    throw translate(e, "storing a variant");
  }
}

/** A short-lived URL for a variant too large for a Lambda response. */
export async function presignVariant(s3: S3Client, bucket: string, key: string, expiresInSeconds: number): Promise<string> {
  // Loaded on the first large variant, as in presignUpload.
  const { getSignedUrl } = await import("@aws-sdk/s3-request-presigner");
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: expiresInSeconds });
}
