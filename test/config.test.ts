// Configuration is checked once, and every problem is reported together,
// each naming the field, what was expected and what was received.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig, parseConfig } from "../config/load.ts";
import { runtimeSettingsOf, settingsFromEnv, settingsToEnv, SETTINGS_ENV } from "../config/runtime-env.ts";

const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8"));

test("config.example.json is valid as it is", () => {
  const config = parseConfig(example);
  assert.equal(config.stackName, "imgapi-dev");
  assert.deepEqual(Object.keys(config.sizes), ["thumbnail", "medium", "large"]);
  assert.equal(config.sizes.thumbnail?.fit, "cover");
});

test("every problem is reported at once, naming field, expectation and value", () => {
  const bad = {
    ...example,
    stackName: "Bad Name",
    sizes: { thumbnail: { width: "150px", height: 150, fitt: "cover" }, medium: { width: 1.5 } },
    input: { formats: ["jpeg", "svg"], maxBytes: 10_000_000 },
  };
  assert.throws(() => parseConfig(bad, "config.json"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    const problems = e.problems;
    assert.ok(problems.length >= 5, problems.join("\n"));
    assert.ok(problems.some((p) => p === 'Expected number for sizes.thumbnail.width but received "150px" of type string'), problems.join("\n"));
    assert.ok(problems.some((p) => p.includes("sizes.thumbnail.fitt") && p.startsWith("Unknown field")));
    assert.ok(problems.some((p) => p.includes("sizes.medium.width") && p.includes("1.5")));
    assert.ok(problems.some((p) => p.includes("input.formats.1") && p.includes('"svg"')));
    assert.ok(problems.some((p) => p.includes("input.maxBytes") && p.includes("10000000")));
    assert.ok(problems.some((p) => p.includes("stackName") && p.includes('"Bad Name"')));
    return true;
  });
});

test("a cover size without a height is refused", () => {
  assert.throws(() => parseConfig({ ...example, sizes: { square: { width: 100, fit: "cover" } } }), /sizes\.square\.fit/);
});

test("loadConfig: a missing file says how to create one; flags override the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "imgapi-config-"));
  assert.throws(() => loadConfig(join(dir, "nope.json")), /copy config\.example\.json/);
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(example));
  assert.equal(loadConfig(path, { region: "eu-west-1" }).region, "eu-west-1");
  writeFileSync(path, "{ not json");
  assert.throws(() => loadConfig(path), /not valid JSON/);
});

test("the handler's settings survive the trip through the environment and are checked again", () => {
  const settings = runtimeSettingsOf(parseConfig(example));
  assert.deepEqual(settingsFromEnv({ [SETTINGS_ENV]: settingsToEnv(settings) }), settings);
  assert.throws(() => settingsFromEnv({ [SETTINGS_ENV]: JSON.stringify({ sizes: { x: { width: 0 } } }) }), /sizes\.x\.width/);
  assert.throws(() => settingsFromEnv({ [SETTINGS_ENV]: "{" }), ConfigError);
  assert.deepEqual(Object.keys(settingsFromEnv({}).sizes), ["thumbnail", "medium", "large"]);
});

test("cdn: off by default; its fields need it on, a zone needs a domain, and the CDN needs public URLs", () => {
  assert.deepEqual(parseConfig(example).cdn, { enabled: false });
  const on = parseConfig({ ...example, cdn: { enabled: true, domain: "images.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ", rateLimitPerIp: 500 } });
  assert.deepEqual(on.cdn, { enabled: true, domain: "images.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ", rateLimitPerIp: 500 });
  const problems = (input: unknown) => {
    try {
      parseConfig(input, "config.json");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems;
    }
    assert.fail("expected a ConfigError");
  };
  assert.ok(problems({ ...example, cdn: { domain: "images.example.com" } }).some((p) => p.includes("cdn.enabled") && p.includes("cdn.domain")));
  assert.ok(problems({ ...example, cdn: { enabled: true, hostedZoneId: "Z0123456789ABCDEFGHIJ" } }).some((p) => p.startsWith("Expected cdn.domain with cdn.hostedZoneId")));
  assert.ok(problems({ ...example, cdn: { enabled: true }, publicUrls: { enabled: false } }).some((p) => p.includes("publicUrls.enabled")));
  for (const domain of ["https://images.example.com", "*.example.com", "Images.Example.com", "localhost"]) {
    assert.ok(problems({ ...example, cdn: { enabled: true, domain } }).some((p) => p.includes("cdn.domain")), domain);
  }
});
