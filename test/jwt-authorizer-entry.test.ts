// The Lambda authorizer as it ships: its settings from the environment
// (checked at cold start, every problem at once), and its entry bundled on its
// own by esbuild, without zod or sharp, then imported and called as Lambda
// would.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { build } from "esbuild";
import { AUTHORIZER_BUILD_OPTIONS } from "../deploy/function-zip.ts";
import { ConfigError } from "../config/config-error.ts";
import { JWT_AUDIENCE_ENV, JWT_ISSUER_ENV, JWT_JWKS_URI_ENV, JWT_READ_SCOPE_ENV, JWT_WRITE_SCOPE_ENV, jwtSettingsFromEnv, jwtSettingsToEnv } from "../function/auth/authorizer-env.ts";

const METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/images/img-1";

function problemsOf(env: Record<string, string>): string[] {
  try {
    jwtSettingsFromEnv(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail("expected a ConfigError");
}

test("settings: deploy's environment reads back as the same settings", () => {
  const settings = { issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", audience: "client-1", jwksUri: "https://keys.example/jwks", scopes: { read: "images:read", write: "images:write" } };
  assert.deepEqual(jwtSettingsFromEnv(jwtSettingsToEnv(settings)), settings);
  assert.deepEqual(jwtSettingsFromEnv({ [JWT_ISSUER_ENV]: "https://tenant.auth0.com/", [JWT_AUDIENCE_ENV]: "api" }), { issuer: "https://tenant.auth0.com/", audience: "api" });
});

test("settings: an incomplete environment fails at cold start naming every problem", () => {
  assert.deepEqual(problemsOf({}), [
    `Expected an https:// URL for ${JWT_ISSUER_ENV} but received nothing: redeploy with deploy/index.ts, which sets it from config.json's jwt block`,
    `Expected a non-empty string for ${JWT_AUDIENCE_ENV} but received nothing: redeploy with deploy/index.ts, which sets it from config.json's jwt block`,
  ]);
  const problems = problemsOf({ [JWT_ISSUER_ENV]: "http://127.0.0.1:8080", [JWT_AUDIENCE_ENV]: "api", [JWT_JWKS_URI_ENV]: "keys.json", [JWT_READ_SCOPE_ENV]: "images:read" });
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.match(problems[0]!, /^JWT_ISSUER: Expected https:\/\/ for the issuer but received "http:\/\/127.0.0.1:8080"/, "deployed issuers are https, loopback included");
  assert.match(problems[1]!, /^JWT_JWKS_URI: Expected an absolute URL/);
  assert.match(problems[2]!, /^Expected JWT_WRITE_SCOPE too, since JWT_READ_SCOPE is set/);
  assert.match(problemsOf({ [JWT_ISSUER_ENV]: "https://i.example", [JWT_AUDIENCE_ENV]: "a", [JWT_READ_SCOPE_ENV]: "a b", [JWT_WRITE_SCOPE_ENV]: "w" })[0]!, /one scope without spaces for JWT_READ_SCOPE/);
});

test("the entry bundles on its own without zod or sharp, and answers Lambda's TOKEN event", async (t) => {
  // The options the deploy bundles it with (deploy/function-zip.ts), so what is tested is what ships.
  const result = await build({ ...AUTHORIZER_BUILD_OPTIONS, write: false, metafile: true });
  const inputs = Object.keys(result.metafile.inputs);
  assert.deepEqual(inputs.filter((p) => /node_modules\/(zod|sharp|@img)\//.test(p)), []);
  assert.ok(inputs.some((p) => p.includes("node_modules/jose/")), "jose is bundled");
  const dir = await mkdtemp(join(tmpdir(), "authorizer-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "authorizer.mjs");
  await writeFile(file, result.outputFiles[0]!.contents);
  t.diagnostic(`authorizer.mjs: ${result.outputFiles[0]!.contents.length} bytes`);

  // Cold start with an incomplete environment: the import itself fails, clearly.
  await assert.rejects(import(`${pathToFileURL(file).href}?cold=incomplete`), /authorizer environment is not valid:\n {2}- Expected an https:\/\/ URL for JWT_ISSUER/);
  const saved = { ...process.env };
  t.after(() => {
    for (const name of [JWT_ISSUER_ENV, JWT_AUDIENCE_ENV]) delete process.env[name];
    Object.assign(process.env, saved);
  });
  Object.assign(process.env, { [JWT_ISSUER_ENV]: "https://issuer.invalid", [JWT_AUDIENCE_ENV]: "api" });
  const { handler } = (await import(`${pathToFileURL(file).href}?cold=complete`)) as { handler: (event: unknown) => Promise<unknown> };
  const logged: string[] = [];
  t.mock.method(console, "log", (line: string) => logged.push(line));

  await assert.rejects(handler({ type: "TOKEN", authorizationToken: "", methodArn: METHOD_ARN }), { message: "Unauthorized" });
  assert.deepEqual(logged.map((l) => (JSON.parse(l) as { reason: string }).reason), ["missing"]);
});
