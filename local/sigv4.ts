// "iam" mode locally: what API Gateway does for an AWS_IAM method, checking a
// SigV4 signature (service execute-api) against one key pair the local server
// generates and prints (or takes from the environment). The signature is
// computed again with @smithy/signature-v4, the signer the AWS SDKs use, over
// exactly the headers the caller signed, and answered in API Gateway's words.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { createHash, createHmac, randomBytes, timingSafeEqual, type Hash, type Hmac } from "node:crypto";

export const LOCAL_REGION = "us-east-1";
export const SIGNING_SERVICE = "execute-api";
export const ACCESS_KEY_ID_ENV = "IMGAPI_ACCESS_KEY_ID";
export const SECRET_ACCESS_KEY_ENV = "IMGAPI_SECRET_ACCESS_KEY";
/** API Gateway refuses a signature dated more than 5 minutes from its clock, either way. */
export const MAX_SKEW_MS = 5 * 60 * 1000;

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** A fresh pair in AWS's shapes: a 20-character key id, a 40-character secret. */
export function generateCredentials(): LocalCredentials {
  const id = [...randomBytes(16)].map((b) => BASE32[b % 32]).join("");
  return { accessKeyId: `AKIA${id}`, secretAccessKey: randomBytes(30).toString("base64") };
}

/** $IMGAPI_ACCESS_KEY_ID and $IMGAPI_SECRET_ACCESS_KEY when both are set, else a fresh pair. */
export function credentialsFrom(env: NodeJS.ProcessEnv): LocalCredentials {
  const accessKeyId = env[ACCESS_KEY_ID_ENV];
  const secretAccessKey = env[SECRET_ACCESS_KEY_ENV];
  if (accessKeyId && secretAccessKey) return { accessKeyId, secretAccessKey };
  return generateCredentials();
}

type Source = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Source) =>
  typeof data === "string" ? Buffer.from(data, "utf8") : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

/** node:crypto's SHA-256 and HMAC behind the hash interface @smithy/signature-v4 takes. */
export class Sha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: Source) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export interface SignedRequest {
  method: string;
  /** The request target as received: the path, still percent-encoded, and the query. */
  url: string;
  /** Header values by lower-case name. */
  headers: Record<string, string[]>;
  body: Buffer;
}

export type Verdict = { ok: true; accessKeyId: string } | { ok: false; errorType: string; message: string };

const deny = (errorType: string, message: string): Verdict => ({ ok: false, errorType, message });
export const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/** The query as SigV4 reads it: "+" is a plus sign, not a space (unlike URLSearchParams). */
function parseQuery(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const part of query.split("&")) {
    if (part === "") continue;
    const at = part.indexOf("=");
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    const name = decode(at === -1 ? part : part.slice(0, at));
    const value = decode(at === -1 ? "" : part.slice(at + 1));
    const prev = out[name];
    out[name] = prev === undefined ? value : [...[prev].flat(), value];
  }
  return out;
}

function parseAmzDate(text: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? "");
  if (m === null) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const amzDate = (d: Date) => d.toISOString().replace(/[-:]|\.\d{3}/g, "");

/** Checks a request's Authorization header as API Gateway does for an AWS_IAM method. */
export async function verifySigV4(request: SignedRequest, credentials: LocalCredentials, now: Date = new Date()): Promise<Verdict> {
  const one = (name: string) => request.headers[name]?.at(-1);
  const authorization = one("authorization");
  if (authorization === undefined) return deny("MissingAuthenticationTokenException", "Missing Authentication Token");

  const fields = Object.fromEntries(
    authorization
      .replace(/^AWS4-HMAC-SHA256\s+/, "")
      .split(",")
      .map((p) => p.trim().split("=", 2) as [string, string?]),
  );
  const missing = [
    ...["Credential", "Signature", "SignedHeaders"].filter((f) => !authorization.startsWith("AWS4-HMAC-SHA256 ") || !fields[f]).map((f) => `Authorization header requires '${f}' parameter.`),
    ...(one("x-amz-date") === undefined ? ["Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."] : []),
  ];
  if (missing.length > 0) return deny("IncompleteSignatureException", `${missing.join(" ")} Authorization=${authorization.split(" ")[0]}`);

  const [accessKeyId = "", scopeDate = "", region = "", service = "", terminator = ""] = String(fields.Credential).split("/");
  if (accessKeyId !== credentials.accessKeyId) return deny("UnrecognizedClientException", "The security token included in the request is invalid.");
  const date = parseAmzDate(one("x-amz-date"));
  if (date === undefined) return deny("IncompleteSignatureException", `Date must be in ISO-8601 'basic format'. Got '${one("x-amz-date")}'.`);
  if (region !== LOCAL_REGION) return deny("InvalidSignatureException", `Credential should be scoped to a valid region, not '${region}'.`);
  if (service !== SIGNING_SERVICE || terminator !== "aws4_request") return deny("InvalidSignatureException", `Credential should be scoped to correct service: '${SIGNING_SERVICE}'.`);
  if (scopeDate !== amzDate(date).slice(0, 8)) {
    return deny("InvalidSignatureException", `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate(date).slice(0, 8)}'.`);
  }
  if (date.getTime() < now.getTime() - MAX_SKEW_MS) {
    return deny("InvalidSignatureException", `Signature expired: ${amzDate(date)} is now earlier than ${amzDate(new Date(now.getTime() - MAX_SKEW_MS))} (${amzDate(now)} - 5 min.)`);
  }
  if (date.getTime() > now.getTime() + MAX_SKEW_MS) {
    return deny("InvalidSignatureException", `Signature not yet current: ${amzDate(date)} is still later than ${amzDate(new Date(now.getTime() + MAX_SKEW_MS))} (${amzDate(now)} + 5 min.)`);
  }
  const signedHeaders = String(fields.SignedHeaders).toLowerCase().split(";");
  if (!signedHeaders.includes("host")) return deny("InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

  // A declared payload hash must be the body's: the signature covers the declaration only.
  const declaredHash = one("x-amz-content-sha256");
  if (declaredHash !== undefined && declaredHash !== createHash("sha256").update(request.body).digest("hex")) return deny("InvalidSignatureException", MISMATCH);

  const at = request.url.indexOf("?");
  const headers = Object.fromEntries(signedHeaders.filter((h) => request.headers[h] !== undefined).map((h) => [h, request.headers[h]!.join(",")]));
  // Loaded on first use: `npm start` imports this module before the heavy ones.
  const { SignatureV4 } = await import("@smithy/signature-v4");
  const signer = new SignatureV4({ service: SIGNING_SERVICE, region: LOCAL_REGION, credentials, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: "http:",
      hostname: (one("host") ?? "").replace(/:\d+$/, ""),
      path: at === -1 ? request.url : request.url.slice(0, at),
      query: at === -1 ? {} : parseQuery(request.url.slice(at + 1)),
      headers,
      body: request.body,
    },
    { signingDate: date, signableHeaders: new Set(signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1] ?? "";
  const given = String(fields.Signature);
  const matches = given.length === expected.length && timingSafeEqual(Buffer.from(given, "latin1"), Buffer.from(expected, "latin1"));
  return matches ? { ok: true, accessKeyId } : deny("InvalidSignatureException", MISMATCH);
}

/** Node's rawHeaders (name, value, name, value...) by lower-case name, every value kept. */
export function headersByName(rawHeaders: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) (out[rawHeaders[i]!.toLowerCase()] ??= []).push(rawHeaders[i + 1]!);
  return out;
}
