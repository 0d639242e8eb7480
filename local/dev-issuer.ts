// An OpenID Connect issuer on loopback, for local mode (`--jwt-dev-issuer`)
// and the tests: its own keys (ES256 and RS256, made by jose at start, never
// written anywhere), the discovery document and JWKS a real issuer publishes,
// tokens minted on demand, and an authorization-code + PKCE sign-in for the
// demo page (local/dev-issuer-pkce.ts). It is a stand-in for Cognito or Auth0,
// not an identity provider: it approves whoever types a name.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet, type JWK } from "jose";
import { createPkceFlow, isLoopbackOrigin, sendJson } from "./dev-issuer-pkce.ts";

export type DevAlgorithm = "ES256" | "RS256";

export interface MintOptions {
  /** The algorithm of the issuer's key to sign with (default ES256); ignored when kid is given. */
  alg?: DevAlgorithm;
  /** A key added by addKey (or one of the first two). */
  kid?: string;
}

export interface DevIssuer {
  /** http://127.0.0.1:PORT, without a trailing slash. */
  issuer: string;
  jwksUri: string;
  audience: string;
  /**
   * A signed token: iss, aud, sub ("dev-user"), iat and exp (1 h) unless the
   * claims say otherwise; a claim given as undefined is left out.
   */
  mint(claims?: Record<string, unknown>, options?: MintOptions): Promise<string>;
  /** Generates and publishes a new key (a rotation), returning its kid. */
  addKey(alg?: DevAlgorithm): Promise<string>;
  /** The published key set, as /jwks.json serves it. */
  publicJwks(): JSONWebKeySet;
  close(): Promise<void>;
}

export interface DevIssuerOptions {
  /** 0 (default): any free port. */
  port?: number;
  audience: string;
  /** The issuer's clock in ms (iat and exp of minted tokens, expiry of sign-in codes). */
  now?: () => number;
}

interface SigningKey {
  alg: DevAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

const TOKEN_LIFETIME_SECONDS = 3600;

async function newKey(alg: DevAlgorithm): Promise<[string, SigningKey]> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return [kid, { alg, privateKey, publicJwk: { ...jwk, kid, alg, use: "sig" } }];
}

/** Loopback Host names only, so a DNS-rebinding page cannot use the issuer from another site. */
function isLoopbackHost(host: string | undefined): boolean {
  const name = (host ?? "").replace(/:\d+$/, "").toLowerCase();
  return name === "127.0.0.1" || name === "localhost" || name === "[::1]";
}

/** CORS for a page on another loopback origin (the demo): it reads discovery and the key set, and posts to /token. */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined || !isLoopbackOrigin(origin)) return {};
  return { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type", Vary: "Origin" };
}

export async function startDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const now = options.now ?? Date.now;
  const keys = new Map<string, SigningKey>([await newKey("ES256"), await newKey("RS256")]);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwksUri = `${issuer}/jwks.json`;
  const publicJwks = (): JSONWebKeySet => ({ keys: [...keys.values()].map((k) => k.publicJwk) });

  async function mint(claims: Record<string, unknown> = {}, mintOptions: MintOptions = {}): Promise<string> {
    const entry: [string, SigningKey | undefined] | undefined =
      mintOptions.kid === undefined ? [...keys].find(([, k]) => k.alg === (mintOptions.alg ?? "ES256")) : [mintOptions.kid, keys.get(mintOptions.kid)];
    const [kid, key] = entry ?? [];
    if (kid === undefined || key === undefined) throw new Error(`the dev issuer has no key ${mintOptions.kid ?? mintOptions.alg}`);
    const iat = Math.floor(now() / 1000);
    const payload: Record<string, unknown> = { iss: issuer, aud: options.audience, sub: "dev-user", iat, exp: iat + TOKEN_LIFETIME_SECONDS, jti: randomUUID(), ...claims };
    for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid, typ: "at+jwt" }).sign(key.privateKey);
  }

  const pkce = createPkceFlow({ issuer, mint, now });
  const discovery = {
    issuer,
    jwks_uri: jwksUri,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    response_types_supported: ["code"],
    grant_types_supported: ["authorization_code"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["none"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["ES256", "RS256"],
  };

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    const cors = corsHeaders(req);
    if (!isLoopbackHost(req.headers.host)) return sendJson(res, 421, { error: "invalid_request", error_description: "this issuer answers loopback names only" });
    if (req.method === "OPTIONS") {
      res.writeHead(204, { ...cors, "Access-Control-Max-Age": "600" });
      return res.end();
    }
    if (req.method === "GET" && path === "/.well-known/openid-configuration") return sendJson(res, 200, discovery, cors);
    if (req.method === "GET" && path === "/jwks.json") return sendJson(res, 200, publicJwks(), cors);
    if (path === "/authorize") return void pkce.authorize(req, res);
    if (req.method === "POST" && path === "/token") return void pkce.token(req, res, cors);
    sendJson(res, 404, { error: "not_found", error_description: `no ${req.method} ${path} here` });
  });

  return {
    issuer,
    jwksUri,
    audience: options.audience,
    mint,
    async addKey(alg = "ES256") {
      const [kid, key] = await newKey(alg);
      keys.set(kid, key);
      return kid;
    },
    publicJwks,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
