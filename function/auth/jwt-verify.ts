// Checks a bearer token from any OIDC issuer (Cognito, Auth0, Okta, Google,
// Entra ID): signature against the issuer's published keys, the algorithm
// against an asymmetric allow-list, iss and aud exactly, exp (required) and
// nbf with a small clock skew, and a subject. All JOSE work is jose's; this
// file decides what to accept and names every refusal with a stable reason.
// https://www.rfc-editor.org/rfc/rfc8725 (JWT Best Current Practices)
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { boundedFetch, checkFetchUrl, DEFAULT_TIMEOUT_MS, discoverJwksUri, MAX_JWKS_BYTES, type FetchLike } from "./oidc-discovery.ts";
import { ReasonedError } from "./reasoned-error.ts";

export interface JwtSettings {
  issuer: string;
  audience: string;
  /** When absent, read once from the issuer's discovery document. */
  jwksUri?: string;
  /** The scope strings that grant "read" and "write" routes; absent: every valid token may call every route. */
  scopes?: { read: string; write: string };
}

export interface Caller {
  sub: string;
  scopes: string[];
}

export type RejectReason =
  | "missing"
  | "malformed"
  | "expired"
  | "not-yet-valid"
  | "issuer"
  | "audience"
  | "algorithm"
  | "signature"
  | "unknown-key"
  | "no-subject"
  | "jwks-unavailable";

/** A token refused, with a stable reason. The message says what was wrong and never holds the token. */
export class TokenRejected extends ReasonedError<RejectReason> {
  override readonly name = "TokenRejected";
}

export interface VerifierOptions {
  fetch?: FetchLike;
  /** Accept an http:// issuer and JWKS on loopback (local mode and tests only, never deployed). */
  allowLoopbackHttp?: boolean;
  /** The clock for exp and nbf, in ms since the epoch. */
  now?: () => number;
  /** Bound of the discovery and JWKS requests. */
  timeoutMs?: number;
  /** jose's wait before an unknown kid may fetch the key set again (default 30 s), so a flood of made-up kids cannot hammer the issuer. */
  jwksCooldownMs?: number;
}

/**
 * Asymmetric algorithms only: "none" would accept an unsigned token, and an
 * HMAC algorithm would let anyone holding the issuer's PUBLIC key sign
 * (key confusion). RFC 8725 section 3.1 and 3.2.
 */
export const ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
export const CLOCK_TOLERANCE_SECONDS = 60;
/** Larger than any real access token (Entra ID's with group claims are ~5 KB), small enough to refuse junk before parsing it. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The token of an `Authorization: Bearer <token>` header value (RFC 6750 section 2.1; the scheme is case-insensitive). */
export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === "") {
    throw new TokenRejected("missing", "no bearer token: send Authorization: Bearer <token>");
  }
  const match = /^Bearer +(\S+)\s*$/i.exec(authorization.trim());
  if (!match) throw new TokenRejected("malformed", "the Authorization header is not of the form: Bearer <token>");
  if (match[1]!.length > MAX_TOKEN_LENGTH) throw new TokenRejected("malformed", `the bearer token is longer than ${MAX_TOKEN_LENGTH} characters`);
  return match[1]!;
}

/** Scopes as OAuth servers write them: `scope`, space separated (RFC 8693 section 4.2), and `scp`, a string (Entra ID) or an array (Okta). */
export function scopesOf(payload: JWTPayload): string[] {
  const words = (v: unknown): string[] => (typeof v === "string" ? v.split(/\s+/) : Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);
  return [...new Set([...words(payload.scope), ...words(payload.scp)].filter((s) => s !== ""))];
}

export function createTokenVerifier(settings: JwtSettings, options: VerifierOptions = {}): (authorization: string | undefined) => Promise<Caller> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  let keys: Promise<JWTVerifyGetKey> | undefined;

  async function remoteKeys(): Promise<JWTVerifyGetKey> {
    const discovered = settings.jwksUri ?? (await discoverJwksUri(settings.issuer, { ...options, timeoutMs }));
    const url = checkFetchUrl(discovered, "the issuer's JWKS URI", options.allowLoopbackHttp);
    return createRemoteJWKSet(url, {
      timeoutDuration: timeoutMs,
      ...(options.jwksCooldownMs === undefined ? {} : { cooldownDuration: options.jwksCooldownMs }),
      [customFetch]: boundedFetch(MAX_JWKS_BYTES, options.fetch),
    });
  }

  /** The key set, discovered once; a failed discovery is not kept, so the next token tries again. */
  function keySet(): Promise<JWTVerifyGetKey> {
    keys ??= remoteKeys().catch((e: unknown) => {
      keys = undefined;
      throw e;
    });
    return keys;
  }

  /** jose's key lookup, with every failure to get the keys (as opposed to a kid they lack) named "jwks-unavailable". */
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await (await keySet())(header, token);
    } catch (e) {
      if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) throw e;
      throw new TokenRejected("jwks-unavailable", `the issuer's signing keys could not be fetched: ${(e as Error).message}`, { cause: e });
    }
  };

  return async function verifyToken(authorization) {
    const token = bearerToken(authorization);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: ALLOWED_ALGORITHMS,
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ["exp", "sub"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now()),
      }));
    } catch (e) {
      throw rejectionOf(e, settings);
    }
    if (typeof payload.sub !== "string" || payload.sub === "") throw new TokenRejected("no-subject", "the token's sub claim is not a non-empty string");
    return { sub: payload.sub, scopes: scopesOf(payload) };
  };
}

/** jose's error, as a refusal with a stable reason; anything else (a bug) is re-thrown. */
function rejectionOf(e: unknown, settings: JwtSettings): unknown {
  if (e instanceof TokenRejected) return e;
  const rejected = (reason: RejectReason, message: string) => new TokenRejected(reason, message, { cause: e });
  if (e instanceof errors.JWTExpired) return rejected("expired", `the token expired (exp is more than ${CLOCK_TOLERANCE_SECONDS} s in the past)`);
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf" && e.reason === "check_failed") return rejected("not-yet-valid", `the token is not valid yet (nbf is more than ${CLOCK_TOLERANCE_SECONDS} s in the future)`);
    if (e.claim === "iss") return rejected("issuer", `the token's iss is not ${settings.issuer}`);
    if (e.claim === "aud") return rejected("audience", `the token's aud does not include ${settings.audience}`);
    if (e.claim === "sub") return rejected("no-subject", "the token has no sub claim");
    return rejected("malformed", `the token's ${e.claim} claim is ${e.reason === "missing" ? "missing" : "invalid"}`);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return rejected("algorithm", `the token's algorithm is not one of ${ALLOWED_ALGORITHMS.join(", ")}`);
  // jose's messages for these name a header parameter of the token: not repeated.
  if (e instanceof errors.JOSENotSupported) return rejected("malformed", "the token uses a JOSE feature this API does not accept (a crit extension or b64)");
  if (e instanceof errors.JWSSignatureVerificationFailed) return rejected("signature", "the token's signature does not match its content");
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
    return rejected("unknown-key", "no key of the issuer's key set matches the token's kid and algorithm");
  }
  if (e instanceof errors.JOSEError) return rejected("malformed", `the token is not a valid signed JWT: ${e.message}`);
  return e;
}
