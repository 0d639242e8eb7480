// The arithmetic of AWS Signature Version 4, shared by the two local checkers
// (API Gateway's AWS_IAM methods in sigv4.ts, the local S3 in s3/auth.ts):
// the canonical request, the string to sign, the signing key and the
// signature, for header auth and for presigned (query) auth alike. Written
// from the documented algorithm; the tests sign with @smithy/signature-v4 (the
// AWS SDKs' signer) and with curl's --aws-sigv4, two independent signers.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const ALGORITHM = "AWS4-HMAC-SHA256";
/** A presigned S3 URL signs no payload: the body is not known when the URL is made. */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

export const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** RFC 3986 percent-encoding: every byte but A-Z a-z 0-9 - . _ ~ is encoded, in upper-case hex. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** decodeURIComponent, or undefined for a malformed escape. */
export function tryDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * A query string's parameters in order, decoded. "+" stays a plus sign, as
 * SigV4 reads it (unlike URLSearchParams); a malformed escape stays as sent.
 */
export function queryPairs(query: string): [string, string][] {
  return query
    .split("&")
    .filter((part) => part !== "")
    .map((part) => {
      const at = part.indexOf("=");
      const name = at === -1 ? part : part.slice(0, at);
      const value = at === -1 ? "" : part.slice(at + 1);
      return [tryDecode(name) ?? name, tryDecode(value) ?? value];
    });
}

/** The canonical query string: names and values encoded, sorted, the signature itself left out. */
export function canonicalQuery(pairs: readonly [string, string][]): string {
  return pairs
    .filter(([name]) => name.toLowerCase() !== "x-amz-signature")
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

/**
 * The canonical URI. S3 encodes each segment of the key once, as it is, with
 * no normalisation. Every other service normalises the path (no empty, "." or
 * ".." segments) and encodes the already-encoded path again, as the SDKs do.
 * Undefined for a path S3 cannot decode.
 */
export function canonicalUri(rawPath: string, service: string): string | undefined {
  if (service === "s3") {
    const segments = rawPath.split("/").map(tryDecode);
    return segments.some((s) => s === undefined) ? undefined : (segments as string[]).map(uriEncode).join("/");
  }
  const kept: string[] = [];
  for (const segment of rawPath.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") kept.pop();
    else kept.push(segment);
  }
  const normalised = `${rawPath.startsWith("/") ? "/" : ""}${kept.join("/")}${kept.length > 0 && rawPath.endsWith("/") ? "/" : ""}`;
  return uriEncode(normalised).replace(/%2F/g, "/");
}

export interface CanonicalParts {
  method: string;
  /** From canonicalUri. */
  uri: string;
  /** From canonicalQuery. */
  query: string;
  /** Header values by lower-case name, every value as received. */
  headers: Readonly<Record<string, readonly string[]>>;
  /** Lower-case names, in the order the signer listed them. */
  signedHeaders: readonly string[];
  payloadHash: string;
}

export function canonicalRequest(parts: CanonicalParts): string {
  const headerLines = parts.signedHeaders.map((name) => `${name}:${(parts.headers[name] ?? []).join(",").trim().replace(/\s+/g, " ")}\n`);
  return [parts.method, parts.uri, parts.query, headerLines.join(""), parts.signedHeaders.join(";"), parts.payloadHash].join("\n");
}

export interface Scope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export const scopeString = (scope: Scope) => `${scope.date}/${scope.region}/${scope.service}/aws4_request`;

export function stringToSign(amzDate: string, scope: Scope, canonical: string): string {
  return [ALGORITHM, amzDate, scopeString(scope), sha256Hex(canonical)].join("\n");
}

export function signature(secretAccessKey: string, scope: Scope, toSign: string): string {
  const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, scope.date), scope.region), scope.service), "aws4_request");
  return createHmac("sha256", key).update(toSign, "utf8").digest("hex");
}

/** Constant-time comparison of two hex signatures. */
export function sameSignature(given: string, expected: string): boolean {
  return given.length === expected.length && timingSafeEqual(Buffer.from(given, "latin1"), Buffer.from(expected, "latin1"));
}

/** An ISO 8601 basic-format date (20130524T000000Z), or undefined. */
export function parseAmzDate(text: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? "");
  if (m === null) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(date.getTime()) || amzDate(date) !== text ? undefined : date;
}

export const amzDate = (d: Date) => d.toISOString().replace(/[-:]|\.\d{3}/g, "");

/** "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." as name/value fields. */
export function authorizationFields(authorization: string): Record<string, string> {
  const fields = Object.create(null) as Record<string, string>;
  for (const part of authorization.replace(/^\S+\s*/, "").split(",")) {
    const at = part.indexOf("=");
    if (at > 0) fields[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return fields;
}

/**
 * Node's rawHeaders (name, value, name, value...) by lower-case name, every
 * value kept. No prototype: a header named __proto__ or constructor is just a name.
 */
export function headersByName(rawHeaders: readonly string[]): Record<string, string[]> {
  const out = Object.create(null) as Record<string, string[]>;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) (out[rawHeaders[i]!.toLowerCase()] ??= []).push(rawHeaders[i + 1]!);
  return out;
}
