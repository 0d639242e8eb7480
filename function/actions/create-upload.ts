// POST /uploads: for originals above the 6 MB Lambda request limit. Answers a
// presigned S3 PUT of uploads/{id}, short-lived and bound to the declared
// Content-Type and Content-Length, so S3 itself refuses any other type or
// length. The bytes are not seen here: they are checked (sniffed type, the
// uploads byte limit, structure, pixels, frames, a full decode) when first
// resized, then moved to originals/{id}, or deleted when refused. An upload
// nobody asks for stays in uploads/, which a lifecycle rule expires.
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { MIME_TYPES } from "../image/formats.ts";
import { describeLimit } from "../image/inspect.ts";
import { bodyBytes } from "../http/request.ts";
import { json } from "../http/response.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { imageLink, sizeLink } from "./links.ts";
import { cleanName } from "./upload-image.ts";

const MAX_BODY_BYTES = 16 * 1024;
const EXAMPLE = '{"contentType": "image/jpeg", "contentLength": 20971520, "name": "photo.jpg"}';
const FIELDS = ["contentType", "contentLength", "name"];

interface UploadRequest {
  contentType: string;
  contentLength: number;
  name?: string;
}

function parseRequest(event: APIGatewayProxyEvent, settings: RuntimeSettings): UploadRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(bodyBytes(event, MAX_BODY_BYTES).toString("utf8"));
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError("INVALID_REQUEST", `The body is not valid JSON. Send ${EXAMPLE}.`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ApiError("INVALID_REQUEST", `The JSON body must be an object: ${EXAMPLE}.`);
  }
  const unknown = Object.keys(doc).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) {
    throw new ApiError("INVALID_REQUEST", `Unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(", ")}: expected ${FIELDS.join(", ")}.`);
  }
  const { contentType, contentLength, name } = doc as Record<string, unknown>;

  const allowed = settings.input.formats.map((f) => MIME_TYPES[f]);
  const type = typeof contentType === "string" ? contentType.split(";")[0]!.trim().toLowerCase() : undefined;
  if (type === undefined || !allowed.includes(type)) {
    const received = typeof contentType === "string" ? JSON.stringify(contentType.slice(0, 60)) : `${String(contentType)} of type ${typeof contentType}`;
    throw new ApiError("INVALID_CONTENT_TYPE", `Expected one of ${allowed.join(", ")} for contentType but received ${received}.`);
  }
  if (typeof contentLength !== "number" || !Number.isSafeInteger(contentLength) || contentLength < 1) {
    throw new ApiError("INVALID_REQUEST", `Expected a positive integer (the file's size in bytes) for contentLength but received ${JSON.stringify(contentLength) ?? "nothing"}.`);
  }
  if (contentLength > settings.uploads.maxBytes) {
    throw new ApiError("PAYLOAD_TOO_LARGE", `The image is ${contentLength} bytes; the limit for uploads is ${describeLimit(settings.uploads.maxBytes)}. Resize or recompress it before uploading.`);
  }
  const cleaned = cleanName(name);
  return { contentType: type, contentLength, ...(cleaned === undefined ? {} : { name: cleaned }) };
}

export async function createUpload(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  base: string,
  nowMs: number,
  /** auth "jwt": the uploader's subject, bound into the presigned PUT. */
  owner?: string,
): Promise<APIGatewayProxyResult> {
  const request = { ...parseRequest(event, settings), ...(owner === undefined ? {} : { owner }) };
  const id = randomUUID();
  const expiresIn = settings.uploads.urlExpiresSeconds;
  const url = await store.presignUpload(id, request, expiresIn);
  return json(201, {
    id,
    upload: {
      url,
      method: "PUT",
      // Content-Length is signed too: send exactly contentLength bytes (HTTP clients set the header).
      headers: { "Content-Type": request.contentType },
      expiresAt: new Date(nowMs + expiresIn * 1000).toISOString(),
    },
    links: {
      self: imageLink(base, id),
      sizes: Object.fromEntries(Object.keys(settings.sizes).map((size) => [size, sizeLink(base, id, size)])),
    },
  });
}
