// Where the verifier gets the issuer's keys, and its clock: OIDC discovery
// (once, exact issuer), the JWKS (cached, refetched for a new kid after jose's
// cooldown), bounds on time and size so an unreachable or hostile issuer
// cannot hang the authorizer, and exp/nbf against an injected clock.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { createTokenVerifier, TokenRejected, type RejectReason, type VerifierOptions } from "../function/auth/jwt-verify.ts";
import { discoverJwksUri, discoveryUrl, DiscoveryError, type DiscoveryProblem } from "../function/auth/oidc-discovery.ts";
import { startDevIssuer, type DevIssuer } from "../local/dev-issuer.ts";

const AUDIENCE = "imgapi-test";
/** Well-formed enough ({"alg":"ES256"}.{}.sig) that only the key lookup is left to refuse it. */
const UNCHECKED_TOKEN = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln";

async function devIssuer(t: TestContext): Promise<DevIssuer> {
  const issuer = await startDevIssuer({ audience: AUDIENCE });
  t.after(() => issuer.close());
  return issuer;
}

/** A fetch that counts what it is asked for, by path. */
function countingFetch(): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  return { calls, fetch: (input, init) => (calls.push(new URL(String(input)).pathname), fetch(input, init)) };
}

/** An issuer-like server answering every request with the handler given; http://127.0.0.1:PORT. */
async function fakeIssuer(t: TestContext, handle: (req: IncomingMessage, res: ServerResponse, base: string) => void): Promise<string> {
  const server = createServer((req, res) => handle(req, res, base));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return base;
}

async function rejectedWith(promise: Promise<unknown>, reason: RejectReason): Promise<TokenRejected> {
  let caught: unknown;
  await promise.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof TokenRejected, `expected TokenRejected(${reason}) but got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  return caught;
}

async function discoveryProblem(promise: Promise<unknown>): Promise<DiscoveryProblem> {
  let caught: unknown;
  await promise.catch((e: unknown) => (caught = e));
  assert.ok(caught instanceof DiscoveryError, `expected a DiscoveryError but got ${String(caught)}`);
  return caught.problem;
}

const verifierOf = (issuer: string, options: VerifierOptions = {}) => createTokenVerifier({ issuer, audience: AUDIENCE }, { allowLoopbackHttp: true, ...options });

test("discovery is read once, the key set once, for many tokens", async (t) => {
  const issuer = await devIssuer(t);
  const { fetch, calls } = countingFetch();
  const verify = verifierOf(issuer.issuer, { fetch });

  for (const sub of ["a", "b", "c"]) assert.equal((await verify(`Bearer ${await issuer.mint({ sub })}`)).sub, sub);

  assert.deepEqual(calls, ["/.well-known/openid-configuration", "/jwks.json"]);
});

test("a key published after the key set was cached is picked up once jose's 30 s cooldown has passed", async (t) => {
  t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
  const issuer = await devIssuer(t);
  const { fetch, calls } = countingFetch();
  const verify = verifierOf(issuer.issuer, { fetch });
  await verify(`Bearer ${await issuer.mint()}`);
  const rotated = await issuer.mint({ sub: "after-rotation" }, { kid: await issuer.addKey("ES256") });

  // Within the cooldown an unknown kid does not refetch: made-up kids cannot make us hammer the issuer.
  await rejectedWith(verify(`Bearer ${rotated}`), "unknown-key");
  assert.equal(calls.filter((p) => p === "/jwks.json").length, 1);
  t.mock.timers.tick(30_001);
  const caller = await verify(`Bearer ${rotated}`);

  assert.equal(caller.sub, "after-rotation");
  assert.deepEqual(calls, ["/.well-known/openid-configuration", "/jwks.json", "/jwks.json"]);
});

test("an unreachable issuer rejects with jwks-unavailable, and a later token tries discovery again", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const { fetch, calls } = countingFetch();
  const verify = verifierOf(`http://127.0.0.1:${port}`, { fetch });

  const rejected = await rejectedWith(verify(`Bearer ${UNCHECKED_TOKEN}`), "jwks-unavailable");
  await rejectedWith(verify(`Bearer ${UNCHECKED_TOKEN}`), "jwks-unavailable");

  assert.match(rejected.message, /could not be fetched/);
  assert.deepEqual(calls, ["/.well-known/openid-configuration", "/.well-known/openid-configuration"], "a failed discovery is not kept");
});

test("an issuer that accepts the connection and never answers is given up on after the timeout", { timeout: 10_000 }, async (t) => {
  const issuer = await devIssuer(t);
  const token = await issuer.mint();
  const silentDiscovery = await fakeIssuer(t, () => undefined);
  // Discovery answers, the key set never does.
  const silentKeys = await fakeIssuer(t, (req, res, base) => {
    if (req.url === "/.well-known/openid-configuration") res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks.json` }));
  });

  await rejectedWith(verifierOf(silentDiscovery, { timeoutMs: 200 })(`Bearer ${token}`), "jwks-unavailable");
  await rejectedWith(verifierOf(silentKeys, { timeoutMs: 200 })(`Bearer ${token}`), "jwks-unavailable");
  assert.equal(await discoveryProblem(discoverJwksUri(silentDiscovery, { allowLoopbackHttp: true, timeoutMs: 200 })), "timeout");
});

test("discovery: the document must name exactly the configured issuer", async (t) => {
  const issuer = await devIssuer(t);
  const impostor = await fakeIssuer(t, (_req, res) => res.end(JSON.stringify({ issuer: issuer.issuer, jwks_uri: issuer.jwksUri })));

  assert.equal(await discoverJwksUri(issuer.issuer, { allowLoopbackHttp: true }), issuer.jwksUri);
  // Another server's document claiming the dev issuer, and the dev issuer under another spelling (trailing slash).
  assert.equal(await discoveryProblem(discoverJwksUri(impostor, { allowLoopbackHttp: true })), "issuer-mismatch");
  assert.equal(await discoveryProblem(discoverJwksUri(`${issuer.issuer}/`, { allowLoopbackHttp: true })), "issuer-mismatch");
  const rejected = await rejectedWith(verifierOf(impostor)(`Bearer ${await issuer.mint()}`), "jwks-unavailable");
  assert.match(rejected.message, /names issuer/);
});

test("discovery: the URL drops a terminating slash of the issuer (OIDC Discovery 1.0 section 4)", () => {
  assert.equal(discoveryUrl("https://tenant.auth0.com/"), "https://tenant.auth0.com/.well-known/openid-configuration");
  assert.equal(discoveryUrl("https://login.example.com/tenant/v2.0"), "https://login.example.com/tenant/v2.0/.well-known/openid-configuration");
});

test("discovery and the key set: https only (loopback http only when allowed), a bounded size, HTTP 200 only", async (t) => {
  const huge = "x".repeat(300 * 1024);
  const hostile = await fakeIssuer(t, (req, res, base) => {
    if (req.url === "/big/.well-known/openid-configuration") return res.end(JSON.stringify({ issuer: `${base}/big`, jwks_uri: `${base}/jwks.json`, padding: huge }));
    if (req.url === "/plain/.well-known/openid-configuration") return res.end(JSON.stringify({ issuer: `${base}/plain`, jwks_uri: "http://keys.example/jwks.json" }));
    if (req.url === "/bigkeys/.well-known/openid-configuration") return res.end(JSON.stringify({ issuer: `${base}/bigkeys`, jwks_uri: `${base}/jwks.json` }));
    // Chunked, without a Content-Length: the bound holds while reading.
    if (req.url === "/jwks.json") return (res.write(`{"keys":[],"padding":"${huge}`), res.end('"}'));
    res.writeHead(302, { Location: "https://elsewhere.example/" }).end();
  });
  const options = { allowLoopbackHttp: true };

  assert.equal(await discoveryProblem(discoverJwksUri("http://issuer.example", options)), "url");
  assert.equal(await discoveryProblem(discoverJwksUri(hostile, {})), "url");
  assert.equal(await discoveryProblem(discoverJwksUri(`${hostile}/big`, options)), "too-large");
  assert.equal(await discoveryProblem(discoverJwksUri(`${hostile}/plain`, options)), "url");
  assert.equal(await discoveryProblem(discoverJwksUri(`${hostile}/moved`, options)), "status");
  const rejected = await rejectedWith(verifierOf(`${hostile}/bigkeys`)(`Bearer ${UNCHECKED_TOKEN}`), "jwks-unavailable");
  assert.match(rejected.message, /answered more than the 262144 bytes accepted/);
});

test("exp and nbf follow the injected clock, with 60 s of tolerance", async (t) => {
  const issuer = await devIssuer(t);
  const exp = Math.floor(Date.now() / 1000) + 600;
  const token = `Bearer ${await issuer.mint({ exp, nbf: exp - 300 })}`;
  const at = (seconds: number) => verifierOf(issuer.issuer, { now: () => seconds * 1000 });

  assert.equal((await at(exp + 59)(token)).sub, "dev-user");
  await rejectedWith(at(exp + 60)(token), "expired");
  assert.equal((await at(exp - 300 - 60)(token)).sub, "dev-user");
  await rejectedWith(at(exp - 300 - 61)(token), "not-yet-valid");
});
