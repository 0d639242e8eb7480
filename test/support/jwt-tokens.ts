// Tokens an attacker (or a careless client) sends, built against a running
// dev issuer: each is what a real attack or mistake looks like on the wire,
// with the refusal reason the verifier must give. Built with jose where jose
// can build it, by hand where jose refuses to (alg "none", a spliced payload).
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from "jose";
import type { DevIssuer } from "../../local/dev-issuer.ts";
import type { RejectReason } from "../../function/auth/jwt-verify.ts";

export interface HostileToken {
  name: string;
  reason: RejectReason;
  token: string;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The issuer's published key of an algorithm (the first one). */
export function publishedKey(issuer: DevIssuer, alg: "ES256" | "RS256"): JWK & { kid: string } {
  const key = issuer.publicJwks().keys.find((k) => k.alg === alg);
  if (key?.kid === undefined) throw new Error(`the dev issuer publishes no ${alg} key`);
  return key as JWK & { kid: string };
}

/** Signed by a key the issuer never published, with the header the caller chooses. */
async function signedByStranger(claims: Record<string, unknown>, header: Record<string, unknown>): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256");
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", ...header }).sign(privateKey);
}

/** Claims a valid token of this issuer would carry, at the time given (s). */
export function validClaims(issuer: DevIssuer, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  return { iss: issuer.issuer, aud: issuer.audience, sub: "mallory", iat: nowSeconds, exp: nowSeconds + 3600 };
}

/** Replaces the payload of a signed token and keeps its signature. */
export function withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split(".");
  return `${header}.${b64url(payload)}.${signature}`;
}

export async function hostileTokens(issuer: DevIssuer): Promise<HostileToken[]> {
  const now = Math.floor(Date.now() / 1000);
  const es = publishedKey(issuer, "ES256");
  const rs = publishedKey(issuer, "RS256");
  // The classic key confusion: the RSA public key, as PEM, used as an HMAC secret.
  const publicPem = await exportSPKI((await importJWK(rs, "RS256", { extractable: true })) as CryptoKey);
  const genuine = await issuer.mint({ sub: "alice", scope: "images:read" });
  const [, genuinePayload] = genuine.split(".");
  const claimsOfGenuine = JSON.parse(Buffer.from(genuinePayload!, "base64url").toString("utf8")) as Record<string, unknown>;
  const { publicKey: strangerPublic } = await generateKeyPair("ES256", { extractable: true });
  return [
    // 60 s of clock skew are forgiven; two minutes are not.
    { name: "expired", reason: "expired", token: await issuer.mint({ iat: now - 7200, exp: now - 120 }) },
    { name: "not yet valid", reason: "not-yet-valid", token: await issuer.mint({ nbf: now + 120 }) },
    { name: "wrong audience", reason: "audience", token: await issuer.mint({ aud: "another-api" }) },
    { name: "wrong issuer", reason: "issuer", token: await issuer.mint({ iss: "https://evil.example" }) },
    { name: "no sub", reason: "no-subject", token: await issuer.mint({ sub: undefined }) },
    { name: "alg none (unsigned)", reason: "algorithm", token: `${b64url({ alg: "none", typ: "JWT", kid: es.kid })}.${b64url(validClaims(issuer, now))}.` },
    {
      name: "HS256 signed with the issuer's public key as secret",
      reason: "algorithm",
      token: await new SignJWT(validClaims(issuer, now)).setProtectedHeader({ alg: "HS256", kid: rs.kid }).sign(new TextEncoder().encode(publicPem)),
    },
    { name: "tampered payload, original signature", reason: "signature", token: withPayload(genuine, { ...claimsOfGenuine, sub: "admin", scope: "images:read images:write" }) },
    { name: "unknown kid", reason: "unknown-key", token: await signedByStranger(validClaims(issuer, now), { kid: "made-up-kid" }) },
    { name: "another key under a known kid", reason: "signature", token: await signedByStranger(validClaims(issuer, now), { kid: es.kid }) },
    // jose never trusts a key the token carries (RFC 8725 section 3.10); without a kid it tries the issuer's ES256 key.
    { name: "embedded jwk header", reason: "signature", token: await signedByStranger(validClaims(issuer, now), { jwk: await exportJWK(strangerPublic) }) },
  ];
}
