// The handler checks its settings at cold start with config/runtime-check.ts,
// not the zod schema deploy checks config.json with. These tests hold the two
// to one answer for every JSON value: the same settings out (defaults filled
// in), or the same problems in the same order. Settings deploy writes, random
// JSON, and settings broken one field at a time, which is where the two could
// drift apart: a bound, a default, a message, which problem hides another.
// Reproduce a failure with FC_SEED=<seed> (fast-check prints it); CI runs a
// fixed seed, elsewhere each run tries new values.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../config/config-error.ts";
import { CROP_POSITIONS, INPUT_FORMATS, OUTPUT_FORMATS, SIZES_AT } from "../config/constants.ts";
import { parseRuntimeSettings } from "../config/load.ts";
import { checkRuntimeSettings } from "../config/runtime-check.ts";
import { propertySeed } from "./support/ci.ts";
import { DEFAULT_SIZES, SETTINGS_ENV, settingsFromEnv, settingsToEnv } from "../config/runtime-env.ts";

const SEED = propertySeed();
const RUNS = 400 * Math.max(1, Number(process.env.FC_RUNS ?? 1));

type Outcome = { settings: unknown } | { problems: string[] };

function outcome(check: (data: unknown, source: string) => unknown, data: unknown): Outcome {
  try {
    return { settings: check(data, SETTINGS_ENV) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    assert.equal(e.source, SETTINGS_ENV);
    return { problems: e.problems };
  }
}

/** Both checks on the value as settingsFromEnv would see it: through JSON. */
function assertAgree(value: unknown): Outcome {
  const data = JSON.parse(JSON.stringify(value) ?? "null") as unknown;
  const light = outcome(checkRuntimeSettings, structuredClone(data));
  assert.deepEqual(light, outcome(parseRuntimeSettings, structuredClone(data)), JSON.stringify(data));
  return light;
}

// ---- values ------------------------------------------------------------------

const sizeName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/);
const size = fc
  .record(
    {
      width: fc.integer({ min: 1, max: 10_000 }),
      height: fc.integer({ min: 1, max: 10_000 }),
      fit: fc.constantFrom("cover", "inside"),
      position: fc.constantFrom(...CROP_POSITIONS),
      format: fc.constantFrom(...OUTPUT_FORMATS),
      quality: fc.integer({ min: 1, max: 100 }),
      enlarge: fc.boolean(),
    },
    { requiredKeys: ["width"] },
  )
  .filter((s) => !(s.fit === "cover" && s.height === undefined))
  .filter((s) => s.position === undefined || (s.height !== undefined && s.fit !== "inside"));
const origin = fc.oneof(fc.constant("*"), fc.webUrl({ validSchemes: ["https", "http"] }));

/** Settings as deploy writes them: every rule kept, any field left to its default. */
const validSettings = fc.record(
  {
    sizes: fc.dictionary(sizeName, size, { minKeys: 1, maxKeys: 20 }),
    output: fc.record({ format: fc.constantFrom(...OUTPUT_FORMATS), quality: fc.integer({ min: 1, max: 100 }) }, { requiredKeys: [] }),
    input: fc.record(
      {
        formats: fc.uniqueArray(fc.constantFrom(...INPUT_FORMATS), { minLength: 1 }),
        maxBytes: fc.integer({ min: 1, max: 4_400_000 }),
        maxPixels: fc.integer({ min: 1, max: 268_402_689 }),
        maxFrames: fc.integer({ min: 1, max: 10_000 }),
        maxDecodeSeconds: fc.integer({ min: 1, max: 25 }),
      },
      { requiredKeys: [] },
    ),
    cors: fc.record({ origins: fc.array(origin, { minLength: 1, maxLength: 3 }) }, { requiredKeys: [] }),
    uploads: fc.record({ maxBytes: fc.integer({ min: 1, max: 5_000_000_000 }), urlExpiresSeconds: fc.integer({ min: 60, max: 3600 }) }, { requiredKeys: [] }),
    sizesAt: fc.constantFrom(...SIZES_AT),
    publicUrls: fc.record({ enabled: fc.boolean(), expiresSeconds: fc.integer({ min: 60, max: 604_800 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: ["sizes"] },
);

/** Values at and beside every bound and choice of the rules, and the wrong types. */
const EDGES = {
  numbers: [0, 1, -1, 1.5, 59, 60, 100, 101, 3600, 3601, 10_000, 10_001, 4_400_000, 4_400_001, 268_402_689, 268_402_690, 5_000_000_000, 5_000_000_001, 604_800, 604_801, 25, 26, 2 ** 53, -(2 ** 53), 1e300],
  strings: ["*", "https://app.example", "http://app.example:8080/path", " https://app.example ", "https://app.\texample", "HTTPS://APP.EXAMPLE", "ftp://app.example", "https:app.example", "https://", "app.example", "", "jpeg", "webp", "svg", "cover", "inside", "fill", "centre", "attention", "entropy", "upload", "request", "auto", "original", "A", "a-", "-a", "__proto__", "constructor"],
  others: [null, true, false, [], {}, ["jpeg"], ["jpeg", "svg"], [""], { width: 5 }, { width: 5, fit: "cover" }, { length: 0 }],
};
const edge = fc.oneof(fc.constantFrom(...EDGES.numbers), fc.constantFrom(...EDGES.strings), fc.constantFrom(...EDGES.others), fc.jsonValue({ maxDepth: 2 }));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One field replaced, removed or added somewhere in the value. */
function mutate(value: Json, path: number[], replacement: Json | undefined, addKey: string): Json | undefined {
  if (path.length === 0 || value === null || typeof value !== "object") return replacement;
  const keys = Object.keys(value);
  if (keys.length === 0) return Array.isArray(value) ? [replacement ?? null] : { [addKey]: replacement ?? null };
  const [step, ...rest] = path;
  const key = keys[step! % keys.length]!;
  const copy: Record<string, Json | undefined> = Object.fromEntries(Object.entries(value));
  const inner = mutate((value as Record<string, Json>)[key]!, rest, replacement, addKey);
  if (inner === undefined) delete copy[key];
  else copy[key] = inner;
  if (rest.length === 0 && step! % 3 === 0) copy[addKey] = replacement ?? null;
  return Array.isArray(value) ? Object.values(copy).filter((v): v is Json => v !== undefined) : (copy as Json);
}

const mutated = fc
  .tuple(validSettings, fc.array(fc.nat(40), { minLength: 0, maxLength: 4 }), fc.option(edge, { nil: undefined, freq: 6 }), fc.constantFrom("extra", "widht", "__proto__", "sizes", "fit", "height"))
  .map(([settings, path, replacement, addKey]) => mutate(settings as Json, path, replacement as Json | undefined, addKey));

function property(name: string, arbitrary: fc.Arbitrary<unknown>, predicate: (v: unknown) => void): void {
  test(name, () => fc.assert(fc.property(arbitrary, predicate), { numRuns: RUNS, seed: SEED }));
}

// ---- tests -------------------------------------------------------------------

property("settings deploy writes pass both checks, which fill in the same defaults", validSettings, (settings) => {
  const got = assertAgree(settings);
  assert.ok("settings" in got, JSON.stringify(got));
  assert.deepEqual(settingsFromEnv({ [SETTINGS_ENV]: settingsToEnv(got.settings as never) }), got.settings, "the trip through the environment changes nothing");
});

property("settings broken one field at a time: the same problems, in the same order", mutated, (value) => {
  assertAgree(value);
});

property("any JSON value: the same answer", fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.record({ sizes: fc.jsonValue({ maxDepth: 3 }) }), fc.record({ sizes: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) })), (value) => {
  assertAgree(value);
});

/** Every field of settings that set every field, each path with the value, or without it (undefined). */
function* everyFieldReplaced(value: Json, replacement: Json | undefined, path: string[] = []): Generator<[string, Json | undefined]> {
  yield [path.join("."), replacement];
  if (value === null || typeof value !== "object") return;
  for (const [key, inner] of Object.entries(value)) {
    for (const [at, changed] of everyFieldReplaced(inner, replacement, [...path, key])) {
      const copy: Record<string, Json | undefined> = Object.fromEntries(Object.entries(value));
      if (changed === undefined) delete copy[key];
      else copy[key] = changed;
      yield [at, Array.isArray(value) ? Object.values(copy).filter((v): v is Json => v !== undefined) : (copy as Json)];
    }
  }
}

test("every field, at and beside every bound, of every wrong type, or missing: the same answer", () => {
  const full = checkRuntimeSettings({
    sizes: { thumb: { width: 150, height: 150, fit: "cover", format: "jpeg", quality: 70, enlarge: true }, wide: { width: 800 } },
    cors: { origins: ["*", "https://app.example"] },
    input: { formats: ["jpeg", "png"] },
  }) as unknown as Json;
  let compared = 0;
  for (const replacement of [undefined, ...EDGES.numbers, ...EDGES.strings, ...EDGES.others] as Array<Json | undefined>) {
    for (const [path, value] of everyFieldReplaced(full, replacement)) {
      if (path === "" && value === undefined) continue;
      assertAgree(value);
      compared += 1;
    }
  }
  assert.ok(compared > 2_000, `${compared} values compared`);
});

test("the problems a hand-edited environment shows, word for word", () => {
  const cases: Array<[unknown, string[]]> = [
    [[], ["Expected object for (top level) but received [] of type array"]],
    [{}, ["Expected record for sizes but received nothing"]],
    [{ sizes: {} }, ["Expected between 1 and 20 sizes for sizes but received {} of type object"]],
    [{ sizes: { a: { width: 1.5, fit: "cover" } } }, ["Expected int for sizes.a.width but received 1.5 of type number"]],
    [{ sizes: { a: { width: 5, fit: "cover", x: 1 } } }, ["Unknown field sizes.a.x: remove it or check the spelling", `Expected fit 'cover' needs a height (a box to fill) for sizes.a.fit but received {"width":5,"fit":"cover","enlarge":false} of type object`]],
    [{ sizes: { a: { width: 5, height: 5, fit: "inside", position: "entropy" } } }, [`Expected position only with a cover crop (a height, and fit 'cover' or no fit) for sizes.a.position but received {"width":5,"height":5,"fit":"inside","position":"entropy"... of type object`]],
    [{ sizes: { a: { width: 5 } }, sizesAt: "later" }, ['Expected one of "request", "upload" for sizesAt but received "later" of type string']],
    [{ sizes: { A: { width: 0 } } }, ['Expected Invalid key in record for sizes.A but received "A" of type string']],
    [{ sizes: { a: { width: 5 } }, input: { formats: [] }, cors: { origins: ["ftp://x", 5] } }, ["Expected array to have >=1 items for input.formats but received [] of type array", 'Expected Invalid URL for cors.origins.0 but received "ftp://x" of type string', "Expected Invalid input for cors.origins.1 but received 5 of type number"]],
    [{ sizes: { a: { width: 2 ** 60 } } }, ["Expected int to be <=9007199254740991 for sizes.a.width but received 1152921504606847000 of type number", "Expected number to be <=10000 for sizes.a.width but received 1152921504606847000 of type number"]],
  ];
  for (const [value, problems] of cases) assert.deepEqual(assertAgree(value), { problems }, JSON.stringify(value));
  // JSON.parse makes "__proto__" an own key: zod skips it in the sizes, and names it anywhere else.
  assert.deepEqual(assertAgree(JSON.parse('{ "sizes": { "__proto__": { "width": 5 }, "a": { "width": 5 } } }')), assertAgree({ sizes: { a: { width: 5 } } }));
  assert.deepEqual(assertAgree(JSON.parse('{ "sizes": { "a": { "width": 5, "__proto__": 1 } }, "__proto__": {} }')), {
    problems: ["Unknown field sizes.a.__proto__: remove it or check the spelling", "Unknown field __proto__: remove it or check the spelling"],
  });
  assert.deepEqual(assertAgree({ sizes: { a: { width: 5 } }, cors: { origins: [" https://app.\texample "] } }), assertAgree({ sizes: { a: { width: 5 } }, cors: { origins: ["https://app.example"] } }), "origins are trimmed as zod trims them");
});

test("settingsFromEnv: unset means the default sizes; bad JSON is named as bad JSON, not as a wrong type", () => {
  assert.deepEqual(settingsFromEnv({}), parseRuntimeSettings({ sizes: DEFAULT_SIZES }));
  assert.throws(
    () => settingsFromEnv({ [SETTINGS_ENV]: "{ sizes" }),
    (e: unknown) => e instanceof ConfigError && e.source === SETTINGS_ENV && e.problems.length === 1 && /^not valid JSON: .*redeploy/.test(e.problems[0]!),
  );
});
