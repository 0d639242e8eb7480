// Signed public URLs: an <img src> cannot send an API key, so GET /images/{id}
// hands out links of the form /public/images/{id}/{size}?expires=&sig= that
// serve one size until they expire. The signature is an HMAC-SHA256 over the
// method, the path (without the stage, so links survive a custom domain) and
// the expiry; any change to one of them, or to the signature, is refused.
import { createHmac, timingSafeEqual } from "node:crypto";
import { ApiError } from "./errors.ts";

/** Provides the signing secret, or undefined when the deployment has none. */
export type SigningSecret = () => Promise<Buffer | undefined>;

/** 32 bytes of HMAC-SHA256 in base64url, without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
// Unix seconds: 1-12 digits, no sign, no leading zero, nothing else.
const EXPIRES = /^[1-9][0-9]{0,11}$/;

export const publicPath = (id: string, size: string) => `/public/images/${encodeURIComponent(id)}/${encodeURIComponent(size)}`;

export function signature(secret: Buffer, method: string, path: string, expires: number): string {
  return createHmac("sha256", secret).update(`${method}\n${path}\n${expires}`, "utf8").digest("base64url");
}

/** The absolute public URL of one size, valid until `expires` (unix seconds). */
export function signedUrl(secret: Buffer, base: string, id: string, size: string, expires: number): string {
  const path = publicPath(id, size);
  return `${base}${path}?expires=${expires}&sig=${signature(secret, "GET", path, expires)}`;
}

export interface SignedRequest {
  method: string;
  path: string;
  expires: string | undefined;
  sig: string | undefined;
}

/**
 * Checks a signed request; returns its expiry (unix seconds) or throws 403.
 * The signature is checked before the expiry, so an altered expiry is a bad
 * signature, and only an untouched link can be reported as expired.
 */
export function verifySignedRequest(secret: Buffer, request: SignedRequest, nowSeconds: number): number {
  const { expires, sig } = request;
  if (expires === undefined || sig === undefined) {
    throw new ApiError("INVALID_SIGNATURE", "This URL needs its expires and sig parameters: use the publicUrl from GET /images/{id} as it is.");
  }
  // The encoded text is compared, not the decoded bytes: base64url decoding
  // ignores stray characters and the last character's spare bits, so two
  // different strings can decode alike.
  const valid =
    EXPIRES.test(expires) &&
    SIGNATURE.test(sig) &&
    timingSafeEqual(Buffer.from(signature(secret, request.method, request.path, Number(expires)), "latin1"), Buffer.from(sig, "latin1"));
  if (!valid) {
    throw new ApiError("INVALID_SIGNATURE", "The URL's signature does not match: it was altered, or signed with a secret that has since been rotated. Get a new one from GET /images/{id}.");
  }
  const expiry = Number(expires);
  if (expiry <= nowSeconds) {
    throw new ApiError("URL_EXPIRED", `This URL expired at ${new Date(expiry * 1000).toISOString()}. Get a new one from GET /images/{id}.`);
  }
  return expiry;
}
