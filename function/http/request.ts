// Reading an API Gateway REST (v1) proxy event: headers are matched without
// regard to case, and the body is decoded once, with its size checked before
// any base64 is decoded.
import type { APIGatewayProxyEvent } from "aws-lambda";
import { ApiError } from "../errors.ts";
import { describeLimit } from "../image/inspect.ts";

export function header(event: Pick<APIGatewayProxyEvent, "headers">, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

export function query(event: Pick<APIGatewayProxyEvent, "queryStringParameters">, name: string): string | undefined {
  return event.queryStringParameters?.[name] ?? undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes a base64 text decodes to, without decoding it. */
export function base64Length(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** Strict base64 (whitespace tolerated): Buffer.from would silently skip garbage. */
export function decodeBase64(text: string, what: string, maxBytes: number): Buffer {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) {
    throw new ApiError("INVALID_REQUEST", `${what} is not valid base64.`);
  }
  const length = base64Length(clean);
  if (length > maxBytes) {
    throw new ApiError("PAYLOAD_TOO_LARGE", `The image is ${length} bytes; the limit is ${describeLimit(maxBytes)}. Upload larger images through POST /uploads (a presigned S3 URL), or resize or recompress it.`);
  }
  return Buffer.from(clean, "base64");
}

/**
 * The raw request body. API Gateway base64-encodes bodies whose Content-Type
 * matches the API's binary media types (all of them, for this API).
 */
export function bodyBytes(event: Pick<APIGatewayProxyEvent, "body" | "isBase64Encoded">, maxBytes: number): Buffer {
  if (event.body === null || event.body === undefined || event.body === "") {
    throw new ApiError("INVALID_REQUEST", "The request body is empty: send the image bytes, or JSON {\"image\": \"<base64>\"}.");
  }
  if (event.isBase64Encoded) return decodeBase64(event.body, "The request body", maxBytes);
  return Buffer.from(event.body, "utf8");
}
