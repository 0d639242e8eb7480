// The dev issuer's sign-in for a browser page: OAuth 2.0 authorization code
// with PKCE, S256 only (RFC 7636), for a public client (no client secret). It
// approves anyone who types a name, so it redirects to loopback pages only,
// and each code is single-use and short-lived as RFC 6749 section 4.1.2 asks.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export const CODE_LIFETIME_MS = 60_000;
const MAX_FORM_BYTES = 16 * 1024;

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  sub: string;
  scope: string | undefined;
  expiresAt: number;
}

export interface PkceFlowOptions {
  issuer: string;
  mint(claims: Record<string, unknown>): Promise<string>;
  now?: () => number;
}

export function isLoopbackOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

const AUTHORIZE_PARAMS = ["response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"] as const;

/** Why an authorization request is refused, or undefined. Refused requests are not redirected: the redirect_uri may be the problem. */
function authorizeProblem(p: URLSearchParams): string | undefined {
  if (p.get("response_type") !== "code") return "response_type must be code";
  if (!p.get("client_id")) return "client_id is required";
  const redirect = p.get("redirect_uri") ?? "";
  if (!isLoopbackOrigin(redirect) || redirect.includes("#")) return "redirect_uri must be an http(s) URL on 127.0.0.1, localhost or [::1], without a fragment";
  if (p.get("code_challenge_method") !== "S256") return "code_challenge_method must be S256 (plain is not accepted)";
  if (!/^[A-Za-z0-9_-]{43}$/.test(p.get("code_challenge") ?? "")) return "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)";
  return undefined;
}

function signInPage(p: URLSearchParams): string {
  const hidden = AUTHORIZE_PARAMS.filter((n) => p.has(n))
    .map((n) => `<input type="hidden" name="${n}" value="${escapeHtml(p.get(n)!)}">`)
    .join("\n");
  return `<!doctype html><meta charset="utf-8"><title>Dev issuer sign-in</title>
<h1>Dev issuer</h1><p>Local testing only: anyone may sign in as any name.</p>
<form method="post" action="/authorize">${hidden}
<label>User name <input name="username" required maxlength="64" autofocus></label> <button>Sign in</button></form>`;
}

export function createPkceFlow(options: PkceFlowOptions) {
  const now = options.now ?? Date.now;
  const codes = new Map<string, PendingCode>();

  async function authorize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const params = req.method === "POST" ? await readForm(req) : new URL(req.url ?? "/", options.issuer).searchParams;
    if (params === undefined) return sendText(res, 400, "expected an application/x-www-form-urlencoded form of at most 16 KiB");
    const problem = authorizeProblem(params);
    if (problem !== undefined) return sendText(res, 400, `invalid authorization request: ${problem}`);
    const username = params.get("username")?.trim() ?? "";
    if (req.method !== "POST" || username === "") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'" });
      return void res.end(signInPage(params));
    }
    for (const [code, pending] of codes) if (pending.expiresAt <= now()) codes.delete(code);
    const code = randomBytes(32).toString("base64url");
    codes.set(code, {
      clientId: params.get("client_id")!,
      redirectUri: params.get("redirect_uri")!,
      challenge: params.get("code_challenge")!,
      sub: username.slice(0, 64),
      scope: params.get("scope") ?? undefined,
      expiresAt: now() + CODE_LIFETIME_MS,
    });
    const target = new URL(params.get("redirect_uri")!);
    target.searchParams.set("code", code);
    if (params.has("state")) target.searchParams.set("state", params.get("state")!);
    res.writeHead(302, { Location: target.href, "Cache-Control": "no-store" });
    res.end();
  }

  /** RFC 6749 section 4.1.3 and 5.2, with RFC 7636 section 4.6's check of the verifier. */
  async function token(req: IncomingMessage, res: ServerResponse, cors: Record<string, string>): Promise<void> {
    const refuse = (error: string, description: string) => sendJson(res, 400, { error, error_description: description }, cors);
    const form = await readForm(req);
    if (form === undefined) return refuse("invalid_request", "expected an application/x-www-form-urlencoded body of at most 16 KiB");
    if (form.get("grant_type") !== "authorization_code") return refuse("unsupported_grant_type", "grant_type must be authorization_code");
    const code = form.get("code") ?? "";
    const pending = codes.get(code);
    // Deleted at its first presentation, right or wrong: a code cannot be replayed, nor its verifier guessed twice.
    codes.delete(code);
    if (pending === undefined || pending.expiresAt <= now()) return refuse("invalid_grant", "the code is unknown, already used or expired");
    if (form.get("client_id") !== pending.clientId || form.get("redirect_uri") !== pending.redirectUri) {
      return refuse("invalid_grant", "client_id and redirect_uri must be those of the authorization request");
    }
    const verifier = form.get("code_verifier") ?? "";
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return refuse("invalid_grant", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
    const computed = Buffer.from(createHash("sha256").update(verifier, "ascii").digest("base64url"));
    const expected = Buffer.from(pending.challenge);
    if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) return refuse("invalid_grant", "code_verifier does not match the code_challenge");
    const claims = { sub: pending.sub, ...(pending.scope === undefined ? {} : { scope: pending.scope }) };
    sendJson(res, 200, { access_token: await options.mint(claims), token_type: "Bearer", expires_in: 3600, ...(pending.scope === undefined ? {} : { scope: pending.scope }) }, cors);
  }

  return {
    authorize: (req: IncomingMessage, res: ServerResponse) => authorize(req, res).catch((e: unknown) => sendText(res, 500, (e as Error).message)),
    token: (req: IncomingMessage, res: ServerResponse, cors: Record<string, string>) => token(req, res, cors).catch((e: unknown) => sendJson(res, 500, { error: "server_error", error_description: (e as Error).message }, cors)),
  };
}
