// Building API Gateway proxy results: JSON, image bytes, errors, with the CORS
// headers every answer carries.
import type { APIGatewayProxyResult } from "aws-lambda";
import type { ApiError } from "../errors.ts";

export type Headers = Record<string, string>;

export function corsHeaders(requestOrigin: string | undefined, allowed: readonly string[]): Headers {
  const base: Headers = {
    "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type,X-Api-Key,Authorization,If-None-Match",
    "Access-Control-Expose-Headers": "ETag,Location",
    "Access-Control-Max-Age": "600",
  };
  if (allowed.includes("*")) return { ...base, "Access-Control-Allow-Origin": "*" };
  // A list of origins: echo the caller's when it is on the list, and tell
  // caches that the answer depends on it.
  if (requestOrigin !== undefined && allowed.includes(requestOrigin)) {
    return { ...base, "Access-Control-Allow-Origin": requestOrigin, Vary: "Origin" };
  }
  return { Vary: "Origin" };
}

export function json(statusCode: number, body: unknown, headers: Headers = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { "Content-Type": "application/json; charset=utf-8", "X-Content-Type-Options": "nosniff", ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResult(error: ApiError): APIGatewayProxyResult {
  const headers: Headers = {};
  if (error.retryAfter !== undefined) headers["Retry-After"] = String(error.retryAfter);
  return json(error.status, { error: { code: error.code, message: error.publicMessage } }, headers);
}

export function binary(data: Buffer, headers: Headers): APIGatewayProxyResult {
  return {
    statusCode: 200,
    headers: { "X-Content-Type-Options": "nosniff", ...headers },
    body: data.toString("base64"),
    isBase64Encoded: true,
  };
}
