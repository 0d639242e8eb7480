// The CDN settings deploy writes into the function's environment survive the
// trip, and a partial or malformed set is refused at cold start, naming the variable.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../config/config-error.ts";
import { CDN_KEY_PAIR_ID_ENV, CDN_URL_ENV, cdnSettingsFromEnv, cdnSettingsToEnv } from "../function/cdn/cdn-env.ts";

const settings = { url: "https://d111111abcdef8.cloudfront.net", distributionId: "E2QWRUHAPOMQZL", originSha256: "a".repeat(64), keyPairId: "K2JCJMDEHXQW5F" };

test("cdn settings: none set is no CDN; all four round-trip", () => {
  assert.equal(cdnSettingsFromEnv({}), undefined);
  assert.deepEqual(cdnSettingsFromEnv(cdnSettingsToEnv(settings)), settings);
});

test("cdn settings: a missing or malformed variable is a ConfigError naming it", () => {
  const env = cdnSettingsToEnv(settings);
  for (const [name, value] of [[CDN_KEY_PAIR_ID_ENV, ""], [CDN_URL_ENV, "http://d111111abcdef8.cloudfront.net"], [CDN_URL_ENV, "https://images.example.com/path"]] as const) {
    assert.throws(() => cdnSettingsFromEnv({ ...env, [name]: value }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.includes(name)), `${name}=${value}`);
  }
});
