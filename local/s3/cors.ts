// CORS as S3 applies a bucket's CORS configuration, driven by the same
// CORSRule objects deploy gives PutBucketCors (config/bucket-cors.ts). The
// first rule matching the request's Origin, method (for a preflight, its
// Access-Control-Request-Method) and every requested header wins; a preflight
// that no rule allows is refused with 403, and the browser then blocks the
// request. A preflight needs no signature.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html (the first matching CORSRule, the match conditions)
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ManageCorsUsing.html (one "*" per AllowedOrigin and AllowedHeader; only requested headers are returned)
// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html (the preflight, 403 when CORS is not enabled)
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors-troubleshooting.html (the two 403 messages)
import type { CORSRule } from "@aws-sdk/client-s3";
import { accessForbidden, badRequest, type S3Error } from "./errors.ts";

export type CorsRules = readonly CORSRule[];

const METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"];
/** S3's answers vary with these request headers: a cache must not serve one origin's answer to another. */
export const CORS_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";
const NOT_ALLOWED =
  "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/** A pattern with at most one "*", which stands for any run of characters. */
function wildcardMatch(pattern: string, value: string, caseless: boolean): boolean {
  const [p, v] = caseless ? [pattern.toLowerCase(), value.toLowerCase()] : [pattern, value];
  const star = p.indexOf("*");
  if (star === -1) return p === v;
  const [head, tail] = [p.slice(0, star), p.slice(star + 1)];
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

function ruleFor(rules: CorsRules, origin: string, method: string, requestedHeaders: readonly string[]): { rule: CORSRule; allowedOrigin: string } | undefined {
  for (const rule of rules) {
    const allowedOrigin = (rule.AllowedOrigins ?? []).find((o) => wildcardMatch(o, origin, false));
    if (allowedOrigin === undefined || !(rule.AllowedMethods ?? []).includes(method)) continue;
    if (!requestedHeaders.every((h) => (rule.AllowedHeaders ?? []).some((a) => wildcardMatch(a, h, true)))) continue;
    return { rule, allowedOrigin };
  }
  return undefined;
}

function headersOf(rule: CORSRule, allowedOrigin: string, origin: string): Record<string, string> {
  const any = allowedOrigin === "*";
  return {
    "Access-Control-Allow-Origin": any ? "*" : origin,
    "Access-Control-Allow-Methods": (rule.AllowedMethods ?? []).join(", "),
    ...((rule.ExposeHeaders ?? []).length > 0 ? { "Access-Control-Expose-Headers": rule.ExposeHeaders!.join(", ") } : {}),
    ...(rule.MaxAgeSeconds === undefined ? {} : { "Access-Control-Max-Age": String(rule.MaxAgeSeconds) }),
    // S3 answers a named origin with credentials allowed; "*" cannot carry them.
    ...(any ? {} : { "Access-Control-Allow-Credentials": "true" }),
    Vary: CORS_VARY,
  };
}

export interface PreflightRequest {
  origin: string | undefined;
  requestMethod: string | undefined;
  requestHeaders: string | undefined;
  /** For the error document: OBJECT or BUCKET. */
  resourceType: "OBJECT" | "BUCKET";
}

/** The headers of an allowed preflight (200, no body), or the S3Error that refuses it. */
export function preflight(rules: CorsRules | undefined, request: PreflightRequest): Record<string, string> | S3Error {
  if (request.origin === undefined) return badRequest("Insufficient information. Origin request header needed.");
  const method = request.requestMethod;
  if (method === undefined || !METHODS.includes(method)) return badRequest(`Invalid Access-Control-Request-Method: ${method ?? "null"}`);
  const details = { Method: method, ResourceType: request.resourceType };
  if (rules === undefined || rules.length === 0) return accessForbidden("CORSResponse: CORS is not enabled for this bucket.", details);
  const requested = (request.requestHeaders ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  const found = ruleFor(rules, request.origin, method, requested);
  if (found === undefined) return accessForbidden(NOT_ALLOWED, details);
  return { ...headersOf(found.rule, found.allowedOrigin, request.origin), ...(requested.length > 0 ? { "Access-Control-Allow-Headers": requested.join(", ") } : {}) };
}

/**
 * The CORS headers of an actual request (any answer, errors included, so a
 * page can read why S3 refused): those of the first rule allowing its origin
 * and method; only Vary when none does, so no cache reuses the answer for an
 * origin that is allowed.
 */
export function actualRequestHeaders(rules: CorsRules | undefined, origin: string | undefined, method: string): Record<string, string> {
  if (origin === undefined || rules === undefined || rules.length === 0) return {};
  const found = ruleFor(rules, origin, method, []);
  return found === undefined ? { Vary: CORS_VARY } : headersOf(found.rule, found.allowedOrigin, origin);
}
