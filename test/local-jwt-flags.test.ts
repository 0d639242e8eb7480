// npm start's jwt flags: each misuse is a usage error (exit 2) naming what to
// type, and --jwt-dev-issuer starts a loopback issuer whose token the same
// authorizer code accepts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../config/usage-error.ts";
import { createAuthorizer } from "../function/auth/token-authorizer.ts";
import { jwtIssuer, parseJwtFlags } from "../local/jwt-flags.ts";

test("--auth jwt without an issuer, both issuers, or one scope: usage errors that say what to give", () => {
  assert.throws(() => parseJwtFlags({ "jwt-issuer": "https://issuer.example" }), (e: unknown) => e instanceof UsageError && /needs --jwt-issuer URL and --jwt-audience AUDIENCE \(or --jwt-dev-issuer/.test(e.message));
  assert.throws(() => parseJwtFlags({ "jwt-dev-issuer": true, "jwt-issuer": "https://issuer.example" }), (e: unknown) => e instanceof UsageError && /not both/.test(e.message));
  assert.throws(() => parseJwtFlags({ "jwt-dev-issuer": true, "jwt-scopes": "images:read" }), (e: unknown) => e instanceof UsageError && /Expected READ,WRITE/.test(e.message));
  assert.deepEqual(parseJwtFlags({ "jwt-issuer": "https://i.example", "jwt-audience": "a", "jwt-scopes": "r,w" }), { dev: false, issuer: "https://i.example", audience: "a", scopes: { read: "r", write: "w" } });
});

test("--jwt-dev-issuer: a loopback issuer and a token with both scopes, accepted by the authorizer", async (t) => {
  const issuer = await jwtIssuer({ dev: true, scopes: { read: "images:read", write: "images:write" } });
  t.after(() => issuer.close?.());
  assert.match(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  const authorize = createAuthorizer({ issuer: issuer.issuer, audience: issuer.audience, scopes: { read: "images:read", write: "images:write" } }, { allowLoopbackHttp: true, log: () => {} });
  const result = await authorize({ type: "TOKEN", authorizationToken: `Bearer ${issuer.token}`, methodArn: "arn:aws:execute-api:us-east-1:000000000000:local/local/POST/images" });
  assert.equal(result.principalId, "dev-user");
  assert.equal(result.policyDocument.Statement[0]!.Effect, "Allow");
});
