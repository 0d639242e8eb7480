// The JWT Lambda authorizer against a real OIDC issuer on loopback (its own
// keys, discovery and JWKS over HTTP): what API Gateway gets back for a valid
// token, for each hostile token, and for each mix of scopes. The policies are
// evaluated by an IAM engine on concrete request ARNs, as API Gateway does
// when it reuses a cached policy for another method.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { createAuthorizer } from "../function/auth/token-authorizer.ts";
import type { AuthorizerResult, ScopeNames } from "../function/auth/token-policy.ts";
import { ROUTES, routeKey } from "../function/routes.ts";
import { startDevIssuer } from "../local/dev-issuer.ts";
import { hostileTokens } from "./support/jwt-tokens.ts";
import { evaluate, type Decision } from "./support/policy-eval.ts";

const ACCOUNT = "123456789012";
const PREFIX = `arn:aws:execute-api:eu-west-1:${ACCOUNT}:a1b2c3d4e5/prod/`;
const METHOD_ARN = `${PREFIX}GET/images/img-1`;
const SCOPES: ScopeNames = { read: "images:read", write: "images:write" };
const PRIVATE_ROUTES = ROUTES.filter((r) => r.access === "private");
const READ_ROUTES = PRIVATE_ROUTES.filter((r) => r.scope === "read").map(routeKey);

async function setup(t: TestContext, scopes?: ScopeNames) {
  const issuer = await startDevIssuer({ audience: "imgapi-test" });
  t.after(() => issuer.close());
  const logs: string[] = [];
  const authorize = createAuthorizer({ issuer: issuer.issuer, audience: "imgapi-test", ...(scopes ? { scopes } : {}) }, { allowLoopbackHttp: true, log: (line) => logs.push(line) });
  const call = (token: string | undefined, methodArn = METHOD_ARN) => authorize({ type: "TOKEN", methodArn, ...(token === undefined ? {} : { authorizationToken: token }) });
  return { issuer, call, logs };
}

/** The request ARN API Gateway checks for a route, with sample path values. */
const requestArn = (route: (typeof ROUTES)[number]) => `${PREFIX}${route.method}${route.resource.replace("{id}", "img-1").replace("{size}", "thumbnail")}`;

/** AWS's decision for the caller's cached policy on every private route. */
async function decisions(result: AuthorizerResult): Promise<Record<string, Decision>> {
  const entries = await Promise.all(
    PRIVATE_ROUTES.map(async (route) => {
      const decision = await evaluate({
        principal: `arn:aws:iam::${ACCOUNT}:role/api-caller`,
        action: "execute-api:Invoke",
        resource: requestArn(route),
        resourceAccount: ACCOUNT,
        identityPolicies: [result.policyDocument],
      });
      return [routeKey(route), decision] as const;
    }),
  );
  return Object.fromEntries(entries);
}

async function rejection(promise: Promise<unknown>, logs: string[]): Promise<string> {
  await assert.rejects(promise, (e: Error) => e.message === "Unauthorized");
  const line = JSON.parse(logs.at(-1)!) as { msg: string; reason: string };
  assert.equal(line.msg, "token rejected");
  return line.reason;
}

test("a valid token gets an Allow policy naming every private route of the API, principalId = sub", async (t) => {
  const { issuer, call, logs } = await setup(t);
  const token = await issuer.mint({ sub: "alice" });

  const result = await call(`Bearer ${token}`);

  assert.equal(result.principalId, "alice");
  assert.deepEqual(result.context, { sub: "alice", scope: "" });
  assert.deepEqual(result.policyDocument, {
    Version: "2012-10-17",
    Statement: [
      {
        Action: "execute-api:Invoke",
        Effect: "Allow",
        Resource: [
          `${PREFIX}POST/images`,
          `${PREFIX}GET/images/*`,
          `${PREFIX}GET/images/*/*`,
          `${PREFIX}POST/uploads`,
          `${PREFIX}DELETE/images/*`,
          `${PREFIX}PUT/images/*/focus`,
          `${PREFIX}DELETE/images/*/focus`,
        ],
      },
    ],
  });
  assert.ok(!logs.join("\n").includes(token), "the token is never logged");
});

test("the cached policy of one method allows every other private method too (API Gateway reuses it per token)", async (t) => {
  const { issuer, call } = await setup(t);
  const result = await call(`Bearer ${await issuer.mint()}`, `${PREFIX}DELETE/images/img-9/focus`);

  const decided = await decisions(result);

  assert.deepEqual(Object.values(decided), PRIVATE_ROUTES.map(() => "Allow"), JSON.stringify(decided));
});

test("each hostile token is refused with its reason, API Gateway gets Unauthorized, the token is not logged", async (t) => {
  const { issuer, call, logs } = await setup(t);
  for (const hostile of await hostileTokens(issuer)) {
    const reason = await rejection(call(`Bearer ${hostile.token}`), logs);
    assert.equal(reason, hostile.reason, hostile.name);
    assert.ok(!logs.at(-1)!.includes(hostile.token), `${hostile.name}: the token is not logged`);
  }
});

test("a missing or malformed Authorization value is refused as missing or malformed", async (t) => {
  const { issuer, call, logs } = await setup(t);
  const token = await issuer.mint();
  assert.equal(await rejection(call(undefined), logs), "missing");
  assert.equal(await rejection(call(""), logs), "missing");
  assert.equal(await rejection(call(token), logs), "malformed", "a token without the Bearer scheme");
  assert.equal(await rejection(call(`Basic ${token}`), logs), "malformed");
  assert.equal(await rejection(call("Bearer not.a.jwt"), logs), "malformed");
  assert.equal(await rejection(call(`Bearer ${"a".repeat(20_000)}`), logs), "malformed");
  assert.equal(await rejection(call(`Bearer ${await issuer.mint({ exp: undefined })}`), logs), "malformed", "a token without exp");
  assert.equal(await rejection(call("Bearer eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y3Q.dGFn"), logs), "malformed", "an encrypted token (JWE)");
  assert.equal(await rejection(call(`Bearer ${await issuer.mint({ sub: 42 })}`), logs), "no-subject", "a sub that is not a string");
  // The scheme is case-insensitive (RFC 6750 section 2.1, RFC 9110 section 11.1).
  assert.equal((await call(`bearer ${token}`)).principalId, "dev-user");
});

test("scopes: a read-only token may call the read routes and no write route", async (t) => {
  const { issuer, call } = await setup(t, SCOPES);
  const result = await call(`Bearer ${await issuer.mint({ sub: "reader", scope: "openid images:read" })}`);

  const decided = await decisions(result);

  const allowed = Object.keys(decided).filter((key) => decided[key] === "Allow");
  assert.deepEqual(allowed, READ_ROUTES);
  assert.deepEqual(result.policyDocument.Statement[0]!.Resource, [`${PREFIX}GET/images/*`, `${PREFIX}GET/images/*/*`]);
  assert.equal(result.context.scope, "openid images:read");
});

test("scopes: a write-only token (Okta's scp array) may upload, change and delete but not read", async (t) => {
  const { issuer, call } = await setup(t, SCOPES);
  const decided = await decisions(await call(`Bearer ${await issuer.mint({ scp: ["images:write"] })}`));

  for (const route of PRIVATE_ROUTES) {
    assert.equal(decided[routeKey(route)], route.scope === "write" ? "Allow" : "ImplicitDeny", routeKey(route));
  }
});

test("scopes: a valid token with neither scope gets an explicit Deny of the whole stage", async (t) => {
  const { issuer, call } = await setup(t, SCOPES);
  const result = await call(`Bearer ${await issuer.mint({ sub: "nobody", scope: "openid profile" })}`);

  assert.equal(result.principalId, "nobody");
  assert.deepEqual(result.policyDocument.Statement, [{ Action: "execute-api:Invoke", Effect: "Deny", Resource: [`${PREFIX}*/*`] }]);
  assert.deepEqual(Object.values(await decisions(result)), PRIVATE_ROUTES.map(() => "ExplicitDeny"));
});

test("scopes: Entra ID's space-separated scp string counts like scope", async (t) => {
  const { issuer, call } = await setup(t, SCOPES);
  const result = await call(`Bearer ${await issuer.mint({ scp: "images:read images:write" })}`);
  assert.equal(result.policyDocument.Statement[0]!.Resource.length, PRIVATE_ROUTES.length);
});

test("a token signed with the issuer's RS256 key is accepted as well as ES256", async (t) => {
  const { issuer, call } = await setup(t);
  const result = await call(`Bearer ${await issuer.mint({ sub: "rsa-user" }, { alg: "RS256" })}`);
  assert.equal(result.principalId, "rsa-user");
});
