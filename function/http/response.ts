// Building API Gateway proxy results: JSON, image bytes, errors, with the CORS
// headers every answer carries.
import type { APIGatewayProxyResult } from "aws-lambda";
import type { ApiError } from "../errors.ts";

export type Headers = Record<string, string>;

export function corsHeaders(requestOrigin: string | undefined, allowed: readonly string[]): Headers {
  const base: Headers = {
    "Access-Control-Allow-Methods": "GET,POST,PUT,DELETE,OPTIONS",
    // Authorization and the X-Amz-* headers: SigV4-signed calls in "iam" mode.
    "Access-Control-Allow-Headers": "Content-Type,X-Api-Key,Authorization,If-None-Match,X-Amz-Date,X-Amz-Security-Token,X-Amz-Content-Sha256",
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

/**
 * Adds headers to a result's; Vary values are combined (an "auto" size varies
 * with Accept, a list of CORS origins with Origin), other names are replaced.
 */
export function mergeHeaders(base: APIGatewayProxyResult["headers"], added: Headers): Headers {
  const out: Headers = Object.fromEntries(Object.entries(base ?? {}).map(([k, v]) => [k, String(v)]));
  for (const [name, value] of Object.entries(added)) {
    const existing = Object.keys(out).find((k) => k.toLowerCase() === name.toLowerCase());
    if (existing !== undefined && name.toLowerCase() === "vary") {
      const values = [...new Set([...out[existing]!.split(","), ...value.split(",")].map((v) => v.trim()).filter((v) => v !== ""))];
      out[existing] = values.join(", ");
    } else {
      if (existing !== undefined) delete out[existing];
      out[name] = value;
    }
  }
  return out;
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
