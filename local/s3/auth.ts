// Who may use the local S3: only requests signed (SigV4) with its own key pair,
// in the Authorization header or as a presigned URL, checked the way S3 checks
// them: the signature over the method, the path (so the key), the query and
// every signed header's value; the date and the URL's expiry; and that no
// x-amz-* header was added unsigned. Anonymous requests are refused: the
// bucket is private, as in AWS. The body's declared hash is checked once it
// has been read (server.ts); a presigned URL signs no body.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
import {
  ALGORITHM,
  authorizationFields,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  parseAmzDate,
  sameSignature,
  signature,
  stringToSign,
  UNSIGNED_PAYLOAD,
  type Scope,
} from "../sigv4-canonical.ts";
import { LOCAL_REGION, type LocalCredentials } from "../sigv4.ts";
import * as err from "./errors.ts";

export const SERVICE = "s3";
/** S3 takes a request dated up to 15 minutes from its clock, either way. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** A presigned URL lives at most 7 days (X-Amz-Expires). */
export const MAX_EXPIRES_SECONDS = 604_800;

export interface S3Request {
  method: string;
  /** The path as received, still percent-encoded. */
  rawPath: string;
  /** The query's parameters, decoded, in order. */
  query: readonly [string, string][];
  /** Header values by lower-case name. */
  headers: Readonly<Record<string, readonly string[]>>;
}

export interface Authenticated {
  presigned: boolean;
  /** What the body must hash to: a SHA-256 in hex, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
}

const AUTH_PARAMS = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"];
const CREDENTIAL_SHAPE = 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".';
const iso = (d: Date) => d.toISOString();

/** Throws the S3Error S3 would answer, or says how the request was signed. */
export function authenticate(request: S3Request, credentials: LocalCredentials, now: Date): Authenticated {
  const authorization = request.headers.authorization?.at(-1);
  const presigned = request.query.some(([name]) => name === "X-Amz-Algorithm" || name === "X-Amz-Credential");
  if (authorization !== undefined && presigned) {
    throw err.invalidArgument(
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
      { ArgumentName: "Authorization", ArgumentValue: authorization },
    );
  }
  if (presigned) return checkPresigned(request, credentials, now);
  if (authorization === undefined) throw err.accessDenied();
  return checkHeader(request, authorization, credentials, now);
}

function checkHeader(request: S3Request, authorization: string, credentials: LocalCredentials, now: Date): Authenticated {
  if (!authorization.startsWith(`${ALGORITHM} `)) throw err.invalidArgument("Unsupported Authorization Type", { ArgumentName: "Authorization", ArgumentValue: authorization });
  const fields = authorizationFields(authorization);
  if (!fields.Credential || !fields.SignedHeaders || !fields.Signature) throw err.authorizationHeaderMalformed(CREDENTIAL_SHAPE);
  const scope = readScope(fields.Credential, credentials, (m, d) => err.authorizationHeaderMalformed(m, d));
  const dateText = request.headers["x-amz-date"]?.at(-1);
  const date = parseAmzDate(dateText);
  if (date === undefined) throw err.missingDate();
  if (scope.date !== dateText!.slice(0, 8)) throw err.authorizationHeaderMalformed("Invalid credential date. Date is not the same as X-Amz-Date.");
  if (Math.abs(date.getTime() - now.getTime()) > MAX_SKEW_MS) {
    throw err.requestTimeTooSkewed({ RequestTime: iso(date), ServerTime: iso(now), MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS) });
  }
  const payloadHash = request.headers["x-amz-content-sha256"]?.at(-1);
  if (payloadHash === undefined) throw err.invalidRequest("Missing required header for this request: x-amz-content-sha256");
  if (payloadHash.startsWith("STREAMING-")) throw err.notImplemented({ Header: "x-amz-content-sha256", AdditionalMessage: "aws-chunked uploads are not implemented by the local S3" });
  if (payloadHash !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw err.invalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, or a valid sha256 value.", { ArgumentName: "x-amz-content-sha256", ArgumentValue: payloadHash });
  }
  const signedHeaders = fields.SignedHeaders.toLowerCase().split(";");
  checkSignature(request, { scope, amzDate: dateText!, signedHeaders, payloadHash, given: fields.Signature, query: request.query }, credentials);
  return { presigned: false, payloadHash };
}

function checkPresigned(request: S3Request, credentials: LocalCredentials, now: Date): Authenticated {
  const param = (name: string) => request.query.findLast(([n]) => n === name)?.[1];
  if (AUTH_PARAMS.some((name) => param(name) === undefined)) {
    throw err.authorizationQueryParametersError(
      "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
    );
  }
  if (param("X-Amz-Algorithm") !== ALGORITHM) throw err.authorizationQueryParametersError(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const scope = readScope(param("X-Amz-Credential")!, credentials, (m) => err.authorizationQueryParametersError(`Error parsing the X-Amz-Credential parameter; ${m}`));
  const dateText = param("X-Amz-Date")!;
  const date = parseAmzDate(dateText);
  if (date === undefined) throw err.authorizationQueryParametersError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  if (scope.date !== dateText.slice(0, 8)) throw err.authorizationQueryParametersError("Invalid credential date. Date is not the same as X-Amz-Date.");
  const expiresText = param("X-Amz-Expires")!;
  if (/^-\d+$/.test(expiresText)) throw err.authorizationQueryParametersError("X-Amz-Expires must be non-negative");
  if (!/^\d{1,10}$/.test(expiresText)) throw err.authorizationQueryParametersError("X-Amz-Expires should be a number");
  const expires = Number(expiresText);
  if (expires > MAX_EXPIRES_SECONDS) {
    throw err.authorizationQueryParametersError(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_EXPIRES_SECONDS} seconds`,
    );
  }
  if (date.getTime() - now.getTime() > MAX_SKEW_MS) throw err.notValidYet();
  const expiresAt = new Date(date.getTime() + expires * 1000);
  if (now.getTime() > expiresAt.getTime()) throw err.requestExpired({ "X-Amz-Expires": expiresText, Expires: iso(expiresAt), ServerTime: iso(now) });
  // A presigned URL signs no body, unless it carries a hash of it.
  const payloadHash = param("X-Amz-Content-Sha256") ?? UNSIGNED_PAYLOAD;
  const signedHeaders = param("X-Amz-SignedHeaders")!.toLowerCase().split(";");
  checkSignature(request, { scope, amzDate: dateText, signedHeaders, payloadHash, given: param("X-Amz-Signature")!, query: request.query }, credentials);
  return { presigned: true, payloadHash };
}

function readScope(credential: string, credentials: LocalCredentials, malformed: (message: string, details?: Record<string, string>) => err.S3Error): Scope {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts.some((p) => p === "")) throw malformed(CREDENTIAL_SHAPE);
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (accessKeyId !== credentials.accessKeyId) throw err.invalidAccessKeyId({ AWSAccessKeyId: accessKeyId });
  if (region !== LOCAL_REGION) throw malformed(`the region '${region}' is wrong; expecting '${LOCAL_REGION}'`, { Region: LOCAL_REGION });
  if (service !== SERVICE || terminator !== "aws4_request" || !/^\d{8}$/.test(date)) throw malformed(CREDENTIAL_SHAPE);
  return { date, region, service };
}

interface Claimed {
  scope: Scope;
  amzDate: string;
  signedHeaders: string[];
  payloadHash: string;
  given: string;
  query: readonly [string, string][];
}

function checkSignature(request: S3Request, claimed: Claimed, credentials: LocalCredentials): void {
  // Host and every x-amz-* header sent must be signed: otherwise anyone holding
  // a presigned PUT could add x-amz-copy-source or metadata to it.
  const unsigned = Object.keys(request.headers).filter((name) => (name === "host" || name.startsWith("x-amz-")) && !claimed.signedHeaders.includes(name));
  if (unsigned.length > 0) throw err.headersNotSigned({ HeadersNotSigned: unsigned.join(", ") });
  const uri = canonicalUri(request.rawPath, SERVICE);
  if (uri === undefined) throw err.invalidUri();
  const canonical = canonicalRequest({
    method: request.method,
    uri,
    query: canonicalQuery(claimed.query),
    headers: request.headers,
    signedHeaders: claimed.signedHeaders,
    payloadHash: claimed.payloadHash,
  });
  const toSign = stringToSign(claimed.amzDate, claimed.scope, canonical);
  if (!sameSignature(claimed.given, signature(credentials.secretAccessKey, claimed.scope, toSign))) {
    throw err.signatureDoesNotMatch({ AWSAccessKeyId: credentials.accessKeyId, StringToSign: toSign, SignatureProvided: claimed.given, CanonicalRequest: canonical });
  }
}
