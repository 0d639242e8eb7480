// Where images live in the bucket, and every S3 call the handler makes.
//   originals/{id}                 the upload, as sent (format sniffed)
//   resized/{id}/{size}.{ext}      each variant, with its settings tag
//   resized/{id}/_original.json    what checking an original that did not come
//                                  through POST /images found (its format, size)
// The function writes only under resized/, except POST /images's originals:
// an S3 trigger scoped to originals/ can never fire for its own outputs.
// S3 errors are translated here, at the call (s3-errors.ts): not-found becomes
// `undefined`, throttling and timeouts become 503 (retry), anything else 502.
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { INPUT_FORMATS, type InputFormat } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { isNotFound, translate } from "./s3-errors.ts";

export interface OriginalMeta {
  id: string;
  key: string;
  format: InputFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
  bytes: number;
  name?: string;
}

export interface VariantMeta {
  key: string;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  tag: string;
  etag: string;
}

/**
 * An original that did not come through POST /images (a presigned PUT, any
 * direct write) and has not been checked yet: its format is unknown.
 */
export interface UncheckedOriginal {
  id: string;
  key: string;
  bytes: number;
  name?: string;
  unchecked: true;
}

export const isUnchecked = (o: OriginalMeta | UncheckedOriginal): o is UncheckedOriginal => "unchecked" in o;

export interface StoredOriginal {
  /** POST /images's record; format and dimensions mean something only when `posted`. */
  meta: OriginalMeta;
  /** Whether POST /images stored it (and checked it against the input limits). */
  posted: boolean;
  /** Undefined when the object is larger than the limit given: its body was not read. */
  data?: Buffer;
}

export const originalKey = (id: string) => `originals/${id}`;
export const variantPrefix = (id: string) => `resized/${id}/`;
export const variantKey = (id: string, size: string, extension: string) => `${variantPrefix(id)}${size}.${extension}`;
// "_" is not allowed in size names, so this never collides with a variant.
export const originalRecordKey = (id: string) => `${variantPrefix(id)}_original.json`;
// DeleteObjects takes at most 1000 keys.
const DELETE_BATCH = 1000;

/** POST /images writes the sniffed format into the metadata; other writers do not. */
function isPosted(meta: Record<string, string> | undefined): boolean {
  return (INPUT_FORMATS as readonly string[]).includes(meta?.format ?? "");
}

function decodeName(meta: Record<string, string> | undefined): string | undefined {
  try {
    return meta?.name === undefined ? undefined : decodeURIComponent(meta.name);
  } catch {
    return undefined;
  }
}

function metaNumber(meta: Record<string, string> | undefined, key: string): number {
  const n = Number(meta?.[key]);
  return Number.isFinite(n) ? n : 0;
}

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
          Metadata: {
            format: original.format,
            width: String(original.width),
            height: String(original.height),
            alpha: original.hasAlpha ? "1" : "0",
            // S3 metadata is ASCII only: keep the user's file name percent-encoded.
            ...(original.name === undefined ? {} : { name: encodeURIComponent(original.name) }),
          },
        }),
      );
    } catch (e) {
      throw translate(e, "storing the original");
    }
    return { ...original, key };
  }

  /**
   * The original's facts: from its metadata when POST /images stored it, else
   * from the record written when it was first checked, else unchecked.
   */
  async headOriginal(id: string): Promise<OriginalMeta | UncheckedOriginal | undefined> {
    const key = originalKey(id);
    let head;
    try {
      head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading the original");
    }
    if (isPosted(head.Metadata)) return this.originalMeta(id, key, head.Metadata, head.ContentLength);
    const name = decodeName(head.Metadata);
    const record = await this.getOriginalRecord(id);
    if (record !== undefined) return { ...record, id, key, bytes: head.ContentLength ?? 0, ...(name === undefined ? {} : { name }) };
    return { id, key, bytes: head.ContentLength ?? 0, ...(name === undefined ? {} : { name }), unchecked: true };
  }

  /**
   * The original's bytes, unless it is larger than `maxBytes(posted)`: then
   * the body is not read at all (a direct write may be gigabytes).
   */
  async getOriginal(id: string, maxBytes: (posted: boolean) => number = () => Infinity): Promise<StoredOriginal | undefined> {
    const key = originalKey(id);
    try {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const posted = isPosted(got.Metadata);
      if (got.ContentLength !== undefined && got.ContentLength > maxBytes(posted)) {
        (got.Body as { destroy?: () => void } | undefined)?.destroy?.();
        return { meta: this.originalMeta(id, key, got.Metadata, got.ContentLength), posted };
      }
      const data = Buffer.from(await got.Body!.transformToByteArray());
      return { meta: this.originalMeta(id, key, got.Metadata, data.length), posted, data };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading the original");
    }
  }

  /** Records what checking an original found, beside its variants (never under originals/). */
  async putOriginalRecord(meta: OriginalMeta): Promise<void> {
    const { format, width, height, hasAlpha } = meta;
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: originalRecordKey(meta.id),
          Body: JSON.stringify({ format, width, height, hasAlpha }),
          ContentType: "application/json",
        }),
      );
    } catch (e) {
      throw translate(e, "storing the original's record");
    }
  }

  private async getOriginalRecord(id: string): Promise<Pick<OriginalMeta, "format" | "width" | "height" | "hasAlpha"> | undefined> {
    let text: string;
    try {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: originalRecordKey(id) }));
      text = await got.Body!.transformToString();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading the original's record");
    }
    try {
      const r = JSON.parse(text) as { format?: unknown; width?: unknown; height?: unknown; hasAlpha?: unknown };
      if (!(INPUT_FORMATS as readonly unknown[]).includes(r.format) || typeof r.width !== "number" || typeof r.height !== "number") return undefined;
      return { format: r.format as InputFormat, width: r.width, height: r.height, hasAlpha: r.hasAlpha === true };
    } catch {
      return undefined; // unreadable: the original is checked again
    }
  }

  /** Removes a rejected original (one that did not come through POST /images). */
  async deleteOriginal(id: string): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: originalKey(id) }));
    } catch (e) {
      throw translate(e, "deleting a rejected original");
    }
  }

  /** Deletes the original and every object under resized/{id}/; the keys deleted (none: no such image). */
  async deleteImage(id: string): Promise<string[]> {
    const keys = [...((await this.headOriginal(id)) === undefined ? [] : [originalKey(id)]), ...(await this.listKeys(variantPrefix(id)))];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let failed;
      try {
        const out = await this.s3.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        failed = out.Errors ?? [];
      } catch (e) {
        throw translate(e, "deleting an image");
      }
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new ApiError("STORAGE_ERROR", `deleting an image: S3 refused ${failed.length} of ${batch.length} keys (first: ${first.Key}: ${first.Code})`);
      }
    }
    return keys;
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      try {
        const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } catch (e) {
        throw translate(e, "listing an image's variants");
      }
    } while (token !== undefined);
    return keys;
  }

  async headVariant(key: string): Promise<VariantMeta | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return this.variantMeta(key, head.Metadata, head.ContentLength ?? 0, head.ContentType, head.ETag);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading a variant");
    }
  }

  async getVariant(key: string): Promise<{ meta: VariantMeta; data: Buffer } | undefined> {
    try {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const data = Buffer.from(await got.Body!.transformToByteArray());
      return { meta: this.variantMeta(key, got.Metadata, data.length, got.ContentType, got.ETag), data };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading a variant");
    }
  }

  async putVariant(
    key: string,
    variant: { data: Buffer; contentType: string; width: number; height: number },
    tag: string,
  ): Promise<VariantMeta> {
    try {
      const put = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: variant.data,
          ContentType: variant.contentType,
          Metadata: { width: String(variant.width), height: String(variant.height), spec: tag },
        }),
      );
      return {
        key,
        contentType: variant.contentType,
        width: variant.width,
        height: variant.height,
        bytes: variant.data.length,
        tag,
        etag: put.ETag ?? "",
      };
    } catch (e) {
      throw translate(e, "storing a variant");
    }
  }

  /** A short-lived URL for a variant too large for a Lambda response. */
  async presignVariant(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInSeconds });
  }

  /**
   * A presigned PUT of originals/{id}. Content-Type and Content-Length are
   * signed headers: S3 refuses a PUT whose type or length differs. The name
   * travels as x-amz-meta-name in the signed query string.
   */
  async presignOriginalUpload(id: string, upload: { contentType: string; contentLength: number; name?: string }, expiresInSeconds: number): Promise<string> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: originalKey(id),
      ContentType: upload.contentType,
      ContentLength: upload.contentLength,
      ...(upload.name === undefined ? {} : { Metadata: { name: encodeURIComponent(upload.name) } }),
    });
    // The SDK (since 3.729) adds a CRC32 of the body to every PutObject, and
    // presigning hoists it into the URL: the CRC32 of an empty body, which S3
    // would hold the real upload to (BadDigest). The body is not known here.
    command.middlewareStack.add(
      (next) => (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        for (const name of Object.keys(headers)) if (/^x-amz-(checksum-|sdk-checksum-algorithm$)/i.test(name)) delete headers[name];
        return next(args);
      },
      { step: "build", priority: "low", name: "dropEmptyBodyChecksum" },
    );
    return getSignedUrl(this.s3, command, { expiresIn: expiresInSeconds, signableHeaders: new Set(["content-type", "content-length"]) });
  }

  private originalMeta(id: string, key: string, meta: Record<string, string> | undefined, bytes: number | undefined): OriginalMeta {
    const name = decodeName(meta);
    return {
      id,
      key,
      format: (meta?.format ?? "jpeg") as InputFormat,
      width: metaNumber(meta, "width"),
      height: metaNumber(meta, "height"),
      hasAlpha: meta?.alpha === "1",
      bytes: bytes ?? 0,
      ...(name === undefined ? {} : { name }),
    };
  }

  private variantMeta(
    key: string,
    meta: Record<string, string> | undefined,
    bytes: number,
    contentType: string | undefined,
    etag: string | undefined,
  ): VariantMeta {
    return {
      key,
      contentType: contentType ?? "application/octet-stream",
      width: metaNumber(meta, "width"),
      height: metaNumber(meta, "height"),
      bytes,
      tag: meta?.spec ?? "",
      etag: etag ?? "",
    };
  }
}
