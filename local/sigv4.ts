// "iam" mode locally: what API Gateway does for an AWS_IAM method, checking a
// SigV4 signature (service execute-api) against one key pair the local server
// generates and prints (or takes from the environment), over exactly the
// headers the caller signed, and answered in API Gateway's words. The
// signature arithmetic is sigv4-canonical.ts, shared with the local S3.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { randomBytes } from "node:crypto";
import {
  ALGORITHM,
  amzDate,
  authorizationFields,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  parseAmzDate,
  queryPairs,
  sameSignature,
  sha256Hex,
  signature,
  stringToSign,
} from "./sigv4-canonical.ts";

export { headersByName } from "./sigv4-canonical.ts";

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

/** Checks a request's Authorization header as API Gateway does for an AWS_IAM method. */
export async function verifySigV4(request: SignedRequest, credentials: LocalCredentials, now: Date = new Date()): Promise<Verdict> {
  const one = (name: string) => request.headers[name]?.at(-1);
  const authorization = one("authorization");
  if (authorization === undefined) return deny("MissingAuthenticationTokenException", "Missing Authentication Token");

  const fields = authorizationFields(authorization);
  const missing = [
    ...["Credential", "Signature", "SignedHeaders"].filter((f) => !authorization.startsWith(`${ALGORITHM} `) || !fields[f]).map((f) => `Authorization header requires '${f}' parameter.`),
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
  const bodyHash = sha256Hex(request.body);
  const declaredHash = one("x-amz-content-sha256");
  if (declaredHash !== undefined && declaredHash !== bodyHash) return deny("InvalidSignatureException", MISMATCH);

  const at = request.url.indexOf("?");
  const canonical = canonicalRequest({
    method: request.method,
    uri: canonicalUri(at === -1 ? request.url : request.url.slice(0, at), SIGNING_SERVICE)!,
    query: canonicalQuery(at === -1 ? [] : queryPairs(request.url.slice(at + 1))),
    headers: request.headers,
    signedHeaders: signedHeaders.filter((h) => request.headers[h] !== undefined),
    payloadHash: bodyHash,
  });
  const scope = { date: scopeDate, region, service };
  const expected = signature(credentials.secretAccessKey, scope, stringToSign(one("x-amz-date")!, scope, canonical));
  return sameSignature(fields.Signature!, expected) ? { ok: true, accessKeyId } : deny("InvalidSignatureException", MISMATCH);
}
