// Where images live in the bucket, and every S3 call the handler makes.
//   originals/{id}                 the upload, as sent (format sniffed)
//   resized/{id}/{size}.{ext}      each variant, with its settings tag
// S3 errors are translated here, at the call: not-found becomes `undefined`,
// throttling and timeouts become 503 (retry), anything else 502.
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { InputFormat } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";

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

export const originalKey = (id: string) => `originals/${id}`;
export const variantKey = (id: string, size: string, extension: string) => `resized/${id}/${size}.${extension}`;

const TRANSIENT = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "ThrottlingException", "TimeoutError"]);

function isNotFound(e: unknown): boolean {
  // A missing bucket is a deployment fault, not a missing image.
  if (e instanceof S3ServiceException && e.name === "NoSuchBucket") return false;
  return e instanceof NoSuchKey || e instanceof NotFound || (e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404);
}

function translate(e: unknown, action: string): ApiError {
  const name = (e as { name?: string }).name ?? "";
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const code = (e as NodeJS.ErrnoException).code;
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500) || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "ETIMEDOUT") {
    return new ApiError("STORAGE_UNAVAILABLE", `${action}: S3 is unavailable (${name || code})`, { cause: e, retryAfter: 2 });
  }
  return new ApiError("STORAGE_ERROR", `${action}: S3 refused (${name || status})`, { cause: e });
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

  async headOriginal(id: string): Promise<OriginalMeta | undefined> {
    const key = originalKey(id);
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return this.originalMeta(id, key, head.Metadata, head.ContentLength);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading the original");
    }
  }

  async getOriginal(id: string): Promise<{ meta: OriginalMeta; data: Buffer } | undefined> {
    const key = originalKey(id);
    try {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const data = Buffer.from(await got.Body!.transformToByteArray());
      return { meta: this.originalMeta(id, key, got.Metadata, data.length), data };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translate(e, "reading the original");
    }
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

  private originalMeta(id: string, key: string, meta: Record<string, string> | undefined, bytes: number | undefined): OriginalMeta {
    let name: string | undefined;
    try {
      name = meta?.name === undefined ? undefined : decodeURIComponent(meta.name);
    } catch {
      name = undefined;
    }
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
