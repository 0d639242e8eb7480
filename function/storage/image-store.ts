// Every S3 call the handler makes, on the key layout of key-layout.ts (the
// variants' own calls in variant-objects.ts, the uploads' in uploads.ts).
// S3 errors are translated here, at the call (s3-errors.ts): not-found becomes
// `undefined`, throttling and timeouts become 503 (retry), anything else 502.
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type HeadObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { ApiError } from "../errors.ts";
import { originalKey, uploadKey, variantPrefix } from "./key-layout.ts";
import { checkedMetadata, decodeOwner, isChecked, originalMetaOf, type OriginalFacts, type OriginalMeta, type VariantMeta } from "./object-meta.ts";
import { getRecord, putRecord, rewriteMetadata } from "./original-facts.ts";
import { isNotFound, translate } from "./s3-errors.ts";
import { deleteUpload, moveUpload, presignUpload, type UploadRequest } from "./uploads.ts";
import { deleteKeys, getVariant, headVariant, listKeys, presignVariant, putVariant, type VariantBytes } from "./variant-objects.ts";

export type { OriginalFacts, OriginalMeta, VariantMeta } from "./object-meta.ts";

/** What a HEAD of an original or an upload tells: its metadata, length and ETag. */
export interface ObjectHead {
  metadata: Record<string, string> | undefined;
  bytes: number;
  etag: string;
}

export interface StoredOriginal {
  /** Format and dimensions mean something only when `posted`. */
  meta: OriginalMeta;
  /** Whether it carries the checked metadata (POST /images, a moved upload). */
  posted: boolean;
  /** Whether it is a presigned upload still under uploads/. */
  upload: boolean;
  /** The ETag of the bytes read, for moving exactly them. */
  etag: string;
  /** Undefined when the object is larger than the limit given: its body was not read. */
  data?: Buffer;
}

const headOf = (head: HeadObjectCommandOutput | undefined): ObjectHead | undefined =>
  head === undefined ? undefined : { metadata: head.Metadata, bytes: head.ContentLength ?? 0, etag: head.ETag ?? "" };

export class ImageStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putOriginal(original: Omit<OriginalMeta, "key">, data: Buffer, contentType: string): Promise<OriginalMeta> {
    const key = originalKey(original.id);
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: data,
          ContentType: contentType,
          Metadata: checkedMetadata(original),
        }),
      );
    } catch (e) {
      throw translate(e, "storing the original");
    }
    return { ...original, key };
  }

  private async head(key: string, action: string) {
    try {
      return await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, action);
    }
  }

  /** originals/{id} as HEAD reads it; undefined when there is none. */
  async headOriginal(id: string): Promise<ObjectHead | undefined> {
    return headOf(await this.head(originalKey(id), "reading the original"));
  }

  /** A presigned upload still under uploads/{id}, as HEAD reads it. */
  async headUpload(id: string): Promise<ObjectHead | undefined> {
    return headOf(await this.head(uploadKey(id), "reading an upload"));
  }

  /** Rewrites a checked original's metadata (focal point, placeholder), only if it is still the object read with this ETag. */
  rewriteOriginalMetadata(meta: OriginalMeta, etag: string): Promise<void> {
    return rewriteMetadata(this.s3, this.bucket, meta, etag);
  }

  /** Every object under resized/{id}/: the variants in every format, and a direct write's record. */
  listVariantKeys(id: string): Promise<string[]> {
    return listKeys(this.s3, this.bucket, variantPrefix(id));
  }

  /** Whose the image is (auth "jwt"): undefined when there is no such image; no owner when none was recorded. */
  async ownerOf(id: string): Promise<{ owner?: string } | undefined> {
    const head = (await this.head(originalKey(id), "reading the original")) ?? (await this.head(uploadKey(id), "reading an upload"));
    if (head === undefined) return undefined;
    const owner = decodeOwner(head.Metadata);
    return owner === undefined ? {} : { owner };
  }

  async hasOriginal(id: string): Promise<boolean> {
    return (await this.head(originalKey(id), "reading the original")) !== undefined;
  }

  /**
   * The original's bytes from originals/{id}, else from uploads/{id}, unless
   * larger than `maxBytes(posted)`: then the body is not read at all (a direct
   * write may be gigabytes).
   */
  async getOriginal(id: string, maxBytes: (posted: boolean) => number = () => Infinity): Promise<StoredOriginal | undefined> {
    return (await this.read(originalKey(id), id, false, maxBytes)) ?? this.getUpload(id, maxBytes(false));
  }

  /** A presigned upload still under uploads/{id}. */
  async getUpload(id: string, maxBytes = Infinity): Promise<StoredOriginal | undefined> {
    return this.read(uploadKey(id), id, true, () => maxBytes);
  }

  private async read(key: string, id: string, upload: boolean, maxBytes: (posted: boolean) => number): Promise<StoredOriginal | undefined> {
    try {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const posted = !upload && isChecked(got.Metadata);
      const etag = got.ETag ?? "";
      if (got.ContentLength !== undefined && got.ContentLength > maxBytes(posted)) {
        (got.Body as { destroy?: () => void } | undefined)?.destroy?.();
        return { meta: originalMetaOf(id, key, got.Metadata, got.ContentLength), posted, upload, etag };
      }
      const data = Buffer.from(await got.Body!.transformToByteArray());
      return { meta: originalMetaOf(id, key, got.Metadata, data.length), posted, upload, etag, data };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, upload ? "reading an upload" : "reading the original");
    }
  }

  /**
   * Moves a checked upload into originals/ (copy, then delete). Another
   * request may have moved the same upload first: then there is nothing to
   * do. If the upload changed since it was read, it is left for its next
   * check and the caller is asked to retry.
   */
  async promoteUpload(original: OriginalMeta, etag: string): Promise<void> {
    const result = await moveUpload(this.s3, this.bucket, original, etag);
    if (result === "moved" || (await this.hasOriginal(original.id))) return;
    if (result === "upload gone") throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${original.id}: its upload was deleted while it was checked.`);
    throw new ApiError("STORAGE_UNAVAILABLE", `moving a checked upload: the upload was replaced while it was checked`, { retryAfter: 1 });
  }

  /** Removes a refused upload. */
  async deleteUpload(id: string): Promise<void> {
    await deleteUpload(this.s3, this.bucket, id);
  }

  /** Records what checking an original found, beside its variants (never under originals/). */
  putOriginalRecord(meta: OriginalMeta): Promise<void> {
    return putRecord(this.s3, this.bucket, meta);
  }

  /** What checking a directly written original found; undefined when it was never checked (or its record is unreadable). */
  originalRecord(id: string): Promise<OriginalFacts | undefined> {
    return getRecord(this.s3, this.bucket, id);
  }

  /** Removes a rejected original (one that did not come through POST /images). */
  async deleteOriginal(id: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: originalKey(id) }));
    } catch (e) {
      throw translate(e, "deleting a rejected original");
    }
  }

  /** Deletes the original, a pending upload and every object under resized/{id}/; the keys deleted (none: no such image). */
  async deleteImage(id: string): Promise<string[]> {
    const [original, upload] = await Promise.all([this.head(originalKey(id), "reading the original"), this.head(uploadKey(id), "reading an upload")]);
    const keys = [...(original === undefined ? [] : [originalKey(id)]), ...(upload === undefined ? [] : [uploadKey(id)]), ...(await listKeys(this.s3, this.bucket, variantPrefix(id)))];
    await deleteKeys(this.s3, this.bucket, keys, "deleting an image");
    return keys;
  }

  /** Deletes variants stored for an upload that could not be moved, so none outlives a refused upload. */
  async deleteVariants(keys: string[]): Promise<void> {
    await deleteKeys(this.s3, this.bucket, keys, "deleting variants");
  }

  headVariant(key: string): Promise<VariantMeta | undefined> {
    return headVariant(this.s3, this.bucket, key);
  }

  getVariant(key: string): Promise<{ meta: VariantMeta; data: Buffer } | undefined> {
    return getVariant(this.s3, this.bucket, key);
  }

  putVariant(key: string, variant: VariantBytes, tag: string): Promise<VariantMeta> {
    return putVariant(this.s3, this.bucket, key, variant, tag);
  }

  /** A short-lived URL for a variant too large for a Lambda response. */
  presignVariant(key: string, expiresInSeconds: number): Promise<string> {
    return presignVariant(this.s3, this.bucket, key, expiresInSeconds);
  }

  /** A presigned PUT of uploads/{id}, bound to the declared type and length (uploads.ts). */
  presignUpload(id: string, upload: UploadRequest, expiresInSeconds: number): Promise<string> {
    return presignUpload(this.s3, this.bucket, id, upload, expiresInSeconds);
  }
}
