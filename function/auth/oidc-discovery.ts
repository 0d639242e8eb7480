// Finding an issuer's signing keys: OpenID Connect Discovery, and the one
// fetch both it and the JWKS download go through, bounded in time and size so
// a slow or hostile issuer cannot hold an authorizer past its own timeout or
// fill its memory. Only https, except a loopback issuer in local mode.
// https://openid.net/specs/openid-connect-discovery-1_0.html
import { ReasonedError } from "./reasoned-error.ts";

export type FetchLike = typeof fetch;

export interface FetchOptions {
  fetch?: FetchLike;
  /** Accept http:// on 127.0.0.1, [::1] and localhost (local mode and tests only). */
  allowLoopbackHttp?: boolean;
  /** Bound of one request, body included. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 5_000;
/** Real discovery documents are 1-3 KB (Google, Entra ID, Cognito, Okta). */
export const MAX_DISCOVERY_BYTES = 64 * 1024;
/** Entra ID's key set, with x5c certificate chains, is about 10 KB. */
export const MAX_JWKS_BYTES = 256 * 1024;

export type DiscoveryProblem = "url" | "unreachable" | "timeout" | "status" | "too-large" | "invalid-document" | "issuer-mismatch";

export class DiscoveryError extends ReasonedError<DiscoveryProblem> {
  override readonly name = "DiscoveryError";
  /** What went wrong finding the key set. */
  get problem(): DiscoveryProblem {
    return this.reason;
  }
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** The URL, when it may be fetched: https, or http on a loopback host when allowed. */
export function checkFetchUrl(value: string, what: string, allowLoopbackHttp = false): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DiscoveryError("url", `Expected an absolute URL for ${what} but received ${JSON.stringify(value)}`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && allowLoopbackHttp && LOOPBACK_HOSTS.has(url.hostname)) return url;
  const allowed = allowLoopbackHttp ? "https:// (or http:// on 127.0.0.1, [::1] or localhost)" : "https://";
  throw new DiscoveryError("url", `Expected ${allowed} for ${what} but received ${JSON.stringify(value)}`);
}

/**
 * A fetch whose answer is read in full, up to maxBytes, before it is handed
 * back: jose reads the JWKS with response.json(), which has no bound.
 * Redirects are not followed (as jose does for the JWKS): an issuer's
 * documents are served where it says they are.
 */
export function boundedFetch(maxBytes: number, fetchImpl: FetchLike = fetch): FetchLike {
  return async function fetchBounded(input, init) {
    const response = await fetchImpl(input, { ...init, redirect: "manual" });
    if (response.status !== 200) {
      // Only the status matters then (both callers refuse anything but 200).
      await response.body?.cancel();
      return new Response(null, { status: response.status });
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new DiscoveryError("too-large", `${String(input)} answered ${declared} bytes, more than the ${maxBytes} bytes accepted`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new DiscoveryError("too-large", `${String(input)} answered more than the ${maxBytes} bytes accepted`);
        chunks.push(chunk);
      }
    }
    return new Response(Buffer.concat(chunks), { status: 200 });
  };
}

/** The document URL: OIDC Discovery 1.0 section 4 removes a terminating "/" of the issuer before appending. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
}

/**
 * The issuer's jwks_uri, from its discovery document. The document must name
 * exactly the configured issuer (section 4.3: "MUST be identical"), so a
 * document served for another issuer cannot hand us its keys.
 */
export async function discoverJwksUri(issuer: string, options: FetchOptions = {}): Promise<string> {
  const url = checkFetchUrl(discoveryUrl(issuer), "the issuer's discovery document", options.allowLoopbackHttp);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await boundedFetch(MAX_DISCOVERY_BYTES, options.fetch)(url.href, { signal, headers: { accept: "application/json" } });
  } catch (e) {
    if (e instanceof DiscoveryError) throw e;
    if (signal.aborted) throw new DiscoveryError("timeout", `fetching ${url.href}: no answer within ${timeoutMs} ms`, { cause: e });
    throw new DiscoveryError("unreachable", `fetching ${url.href}: ${(e as Error).message}`, { cause: e });
  }
  if (response.status !== 200) {
    throw new DiscoveryError("status", `fetching ${url.href}: expected HTTP 200 but received ${response.status}`);
  }
  let document: unknown;
  try {
    document = await response.json();
  } catch (e) {
    throw new DiscoveryError("invalid-document", `${url.href} is not JSON`, { cause: e });
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new DiscoveryError("invalid-document", `${url.href} is not a JSON object`);
  }
  const { issuer: named, jwks_uri: jwksUri } = document as Record<string, unknown>;
  if (named !== issuer) {
    throw new DiscoveryError("issuer-mismatch", `${url.href} names issuer ${JSON.stringify(named)}, not the configured ${JSON.stringify(issuer)}: check the issuer URL (exact, trailing slash included)`);
  }
  if (typeof jwksUri !== "string") throw new DiscoveryError("invalid-document", `${url.href} has no jwks_uri`);
  return checkFetchUrl(jwksUri, "the issuer's jwks_uri", options.allowLoopbackHttp).href;
}
