// Presigned uploads (POST /uploads) and their one-way trip: a PUT lands in
// uploads/{id}; once checked it is moved to originals/{id} with the checked
// facts as metadata, or deleted. So originals/ only ever holds bytes that
// were checked, and whatever stays in uploads/ a lifecycle rule expires.
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { uploadKey } from "./key-layout.ts";
import { ownerField, type OriginalMeta } from "./object-meta.ts";
import { copyChecked } from "./checked-copy.ts";
import { translate } from "./s3-errors.ts";

export interface UploadRequest {
  contentType: string;
  contentLength: number;
  name?: string;
  /** auth "jwt": the uploader's subject, bound into the URL so the PUT cannot claim another. */
  owner?: string;
}

/**
 * A presigned PUT of uploads/{id}. Content-Type and Content-Length are
 * signed headers: S3 refuses a PUT whose type or length differs. The name
 * and owner travel as x-amz-meta-name and -owner in the signed query string,
 * so a client cannot change them either.
 */
export async function presignUpload(s3: S3Client, bucket: string, id: string, upload: UploadRequest, expiresInSeconds: number): Promise<string> {
  // Loaded on the first presigned URL: a cold start that makes none does not pay for it.
  const { getSignedUrl } = await import("@aws-sdk/s3-request-presigner");
  const command = new PutObjectCommand({
    Bucket: bucket,
    Key: uploadKey(id),
    ContentType: upload.contentType,
    ContentLength: upload.contentLength,
    Metadata: { ...(upload.name === undefined ? {} : { name: encodeURIComponent(upload.name) }), ...ownerField(upload.owner) },
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
  return getSignedUrl(s3, command, { expiresIn: expiresInSeconds, signableHeaders: new Set(["content-type", "content-length"]) });
}

/** How a move went: moved, the upload changed or an original appeared meanwhile, or the upload is gone. */
export type MoveResult = "moved" | "precondition failed" | "upload gone";

/**
 * Copies the checked upload to originals/{id} with its checked metadata,
 * then deletes the upload. The copy is conditional (S3 conditional requests,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html):
 * x-amz-copy-source-if-match on the ETag that was read, so bytes PUT again
 * through the still-valid URL after the check are never copied unchecked,
 * and If-None-Match "*", so an existing original is never replaced. One
 * CopyObject copies up to 5 GB, above uploads.maxBytes' ceiling
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
 */
export async function moveUpload(s3: S3Client, bucket: string, original: OriginalMeta, etag: string): Promise<MoveResult> {
  const { outcome } = await copyChecked(s3, bucket, { key: uploadKey(original.id), etag }, original, { onlyIfNoOriginal: true, action: "moving a checked upload" });
  if (outcome === "precondition failed") return outcome;
  if (outcome === "source gone") return "upload gone";
  await deleteUpload(s3, bucket, original.id);
  return "moved";
}

export async function deleteUpload(s3: S3Client, bucket: string, id: string): Promise<void> {
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: uploadKey(id) }));
  } catch (e) {
    throw translate(e, "deleting an upload");
  }
}
