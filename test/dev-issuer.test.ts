// The dev issuer's browser sign-in (authorization code + PKCE, S256) as a
// page on another loopback origin uses it: the form, the redirect with code
// and state, and /token's checks (verifier, single use, lifetime, the same
// client and redirect_uri), ending in a token the authorizer's verifier takes.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { test, type TestContext } from "node:test";
import { createTokenVerifier } from "../function/auth/jwt-verify.ts";
import { CODE_LIFETIME_MS } from "../local/dev-issuer-pkce.ts";
import { startDevIssuer } from "../local/dev-issuer.ts";

const PAGE = "http://127.0.0.1:5173";
const REDIRECT_URI = `${PAGE}/demo/callback`;

async function setup(t: TestContext) {
  let clock = Date.now();
  const issuer = await startDevIssuer({ audience: "imgapi-demo", now: () => clock });
  t.after(() => issuer.close());
  const advance = (ms: number) => (clock += ms);
  return { issuer, advance };
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function authorizeParams(challenge: string, extra: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({ response_type: "code", client_id: "demo", redirect_uri: REDIRECT_URI, state: "st-42", scope: "images:read images:write", code_challenge: challenge, code_challenge_method: "S256", ...extra });
}

/** Signs in as the user, as the form does, and returns the redirect the browser follows. */
async function signIn(issuer: string, challenge: string, username = "alice"): Promise<URL> {
  const form = authorizeParams(challenge, { username });
  const response = await fetch(`${issuer}/authorize`, { method: "POST", body: form, redirect: "manual" });
  assert.equal(response.status, 302, await response.text());
  return new URL(response.headers.get("location")!);
}

async function exchange(issuer: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  const body = new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "demo", redirect_uri: REDIRECT_URI, ...extra });
  const response = await fetch(`${issuer}/token`, { method: "POST", body, headers: { Origin: PAGE } });
  return { status: response.status, cors: response.headers.get("access-control-allow-origin"), body: (await response.json()) as Record<string, string> };
}

test("PKCE: the form, the redirect with code and state, and a token the verifier accepts", async (t) => {
  const { issuer } = await setup(t);
  const { verifier, challenge } = pkcePair();

  const page = await fetch(`${issuer.issuer}/authorize?${authorizeParams(challenge).toString()}`);
  const html = await page.text();
  const back = await signIn(issuer.issuer, challenge);
  const answer = await exchange(issuer.issuer, back.searchParams.get("code")!, verifier);

  assert.equal(page.status, 200);
  assert.match(html, /<input name="username"/);
  assert.match(html, new RegExp(`name="code_challenge" value="${challenge}"`));
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
  assert.equal(back.searchParams.get("state"), "st-42");
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.cors, PAGE, "a page on another loopback origin may read the answer");
  assert.equal(answer.body.token_type, "Bearer");
  const verify = createTokenVerifier({ issuer: issuer.issuer, audience: "imgapi-demo" }, { allowLoopbackHttp: true });
  assert.deepEqual(await verify(`Bearer ${answer.body.access_token}`), { sub: "alice", scopes: ["images:read", "images:write"] });
});

test("PKCE: a wrong verifier is refused and burns the code; a used code is refused", async (t) => {
  const { issuer } = await setup(t);
  const { verifier, challenge } = pkcePair();
  const first = (await signIn(issuer.issuer, challenge)).searchParams.get("code")!;
  const second = (await signIn(issuer.issuer, challenge)).searchParams.get("code")!;

  const wrong = await exchange(issuer.issuer, first, pkcePair().verifier);
  const afterWrong = await exchange(issuer.issuer, first, verifier);
  const right = await exchange(issuer.issuer, second, verifier);
  const reused = await exchange(issuer.issuer, second, verifier);

  assert.deepEqual([wrong.status, wrong.body.error], [400, "invalid_grant"]);
  assert.match(wrong.body.error_description!, /does not match the code_challenge/);
  assert.deepEqual([afterWrong.status, afterWrong.body.error], [400, "invalid_grant"]);
  assert.equal(right.status, 200);
  assert.deepEqual([reused.status, reused.body.error], [400, "invalid_grant"]);
  assert.match(reused.body.error_description!, /unknown, already used or expired/);
});

test("PKCE: a code expires, and must come back with its own client_id and redirect_uri", async (t) => {
  const { issuer, advance } = await setup(t);
  const { verifier, challenge } = pkcePair();
  const late = (await signIn(issuer.issuer, challenge)).searchParams.get("code")!;
  const otherClient = (await signIn(issuer.issuer, challenge)).searchParams.get("code")!;
  const otherRedirect = (await signIn(issuer.issuer, challenge)).searchParams.get("code")!;

  assert.equal((await exchange(issuer.issuer, otherClient, verifier, { client_id: "other" })).body.error, "invalid_grant");
  assert.equal((await exchange(issuer.issuer, otherRedirect, verifier, { redirect_uri: `${PAGE}/elsewhere` })).body.error, "invalid_grant");
  advance(CODE_LIFETIME_MS);
  assert.equal((await exchange(issuer.issuer, late, verifier)).body.error, "invalid_grant");
});

test("PKCE: /authorize refuses plain challenges, non-loopback redirects and other response types, without redirecting", async (t) => {
  const { issuer } = await setup(t);
  const { challenge } = pkcePair();
  for (const [extra, problem] of [
    [{ code_challenge_method: "plain" }, /S256/],
    [{ code_challenge_method: "" }, /S256/],
    [{ redirect_uri: "https://evil.example/cb" }, /redirect_uri/],
    [{ response_type: "token" }, /response_type/],
    [{ code_challenge: "short" }, /code_challenge/],
  ] as const) {
    const response = await fetch(`${issuer.issuer}/authorize`, { method: "POST", body: authorizeParams(challenge, { ...extra, username: "x" }), redirect: "manual" });
    assert.equal(response.status, 400, JSON.stringify(extra));
    assert.match(await response.text(), problem);
  }
  const grant = await exchange(issuer.issuer, "x", "y", { grant_type: "password" });
  assert.equal(grant.body.error, "unsupported_grant_type");
});

test("CORS for loopback pages only; a non-loopback Host (DNS rebinding) is refused", async (t) => {
  const { issuer } = await setup(t);
  const preflight = (origin: string) => fetch(`${issuer.issuer}/token`, { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "POST" } });

  assert.equal((await preflight(PAGE)).headers.get("access-control-allow-origin"), PAGE);
  assert.equal((await preflight("https://evil.example")).headers.get("access-control-allow-origin"), null);
  const discovery = await fetch(`${issuer.issuer}/.well-known/openid-configuration`, { headers: { Origin: PAGE } });
  assert.equal(discovery.headers.get("access-control-allow-origin"), PAGE);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    request(`${issuer.issuer}/jwks.json`, { headers: { Host: "evil.example" } }, (res) => (res.resume(), resolve(res.statusCode))).on("error", reject).end();
  });
  assert.equal(status, 421);
});
