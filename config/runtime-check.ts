// The handler's settings checked at cold start without zod. zod was half the
// bundled handler (455 of 964 KB) and a fifth of its import time, for one
// check of a JSON value deploy has already checked with config/schema.ts. This
// is the same check written out: the same rules, defaults, problems (words,
// order, which problems hide others) and output, for every JSON value, which
// test/runtime-check.test.ts holds it to against the schema, value by value.
// It follows zod 4's semantics where they show: a wrong type or value hides
// the checks of everything around it, while a number out of bounds, an unknown
// field or a failed refinement does not.
import { describeReceived, ConfigError } from "./config-error.ts";
import { CROP_POSITIONS, INPUT_FORMATS, MAX_UPLOAD_BYTES_CEILING, OUTPUT_FORMATS, SIZES_AT } from "./constants.ts";
import type { RuntimeSettings } from "./schema.ts";

type Path = Array<string | number>;
/** continue: true lets the checks around it run; false stops even zod's length checks; undefined stops the others. */
type Issue = { path: Path; continue: boolean | undefined } & ({ expected: string; input: unknown } | { unknownKeys: string[] });
interface Result {
  value: unknown;
  issues: Issue[];
}
type Rule = (input: unknown) => Result;

const ok = (value: unknown): Result => ({ value, issues: [] });
/** A wrong type or value: zod stops checking whatever encloses it. */
const wrong = (expected: string, input: unknown, stop?: false): Result => ({ value: input, issues: [{ path: [], expected, input, continue: stop }] });
const soft = (expected: string, input: unknown): Issue => ({ path: [], expected, input, continue: true });
const stops = (issues: Issue[]) => issues.some((i) => i.continue !== true);
const under = (key: string | number, issues: Issue[]) => issues.map((i) => ({ ...i, path: [key, ...i.path] }));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function int(min: number, max: number): Rule {
  return (input) => {
    if (typeof input !== "number" || !Number.isFinite(input)) return wrong("number", input);
    if (!Number.isInteger(input)) return wrong("int", input, false);
    const issues: Issue[] = [];
    if (!Number.isSafeInteger(input)) issues.push(soft(input > 0 ? `int to be <=${Number.MAX_SAFE_INTEGER}` : `int to be >=${Number.MIN_SAFE_INTEGER}`, input));
    if (input < min) issues.push(soft(`number to be >=${min}`, input));
    if (input > max) issues.push(soft(`number to be <=${max}`, input));
    return { value: input, issues };
  };
}

const bool: Rule = (input) => (typeof input === "boolean" ? ok(input) : wrong("boolean", input));

function oneOf(values: readonly string[]): Rule {
  return (input) => (values.includes(input as string) ? ok(input) : wrong(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, input));
}

/**
 * z.array(item).min(min). zod checks the length of anything that has one, a
 * string given for the array too, unless an item's problem says to stop.
 */
function arrayOf(item: Rule, min: number): Rule {
  return (input) => {
    const results = Array.isArray(input) ? input.map(item) : [];
    const { value, issues } = Array.isArray(input) ? { value: results.map((r) => r.value), issues: results.flatMap((r, i) => under(i, r.issues)) } : wrong("array", input);
    const length = (input as { length?: unknown } | null | undefined)?.length;
    if (length !== undefined && !issues.some((i) => i.continue === false) && !((length as number) >= min)) {
      const origin = Array.isArray(input) ? "array" : typeof input === "string" ? "string" : "unknown";
      const unit = { array: " items", string: " characters", unknown: "" }[origin];
      issues.push(soft(`${origin} to ${unit ? "have" : "be"} >=${min}${unit}`, input));
    }
    return { value, issues };
  };
}

/** z.union([z.literal("*"), z.url({ protocol: /^https?$/ })]): the URL is trimmed and loses tabs and newlines, as zod's does. */
const origin: Rule = (input) => {
  if (input === "*") return ok(input);
  if (typeof input !== "string") return wrong("Invalid input", input);
  const trimmed = input.trim();
  let url: URL | undefined;
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      url = new URL(trimmed);
    } catch {
      url = undefined;
    }
  }
  if (url === undefined || !/^https?$/.test(url.protocol.replace(/:$/, ""))) return { value: input, issues: [soft("Invalid URL", input)] };
  return ok(trimmed.replace(/[\t\n\r]/g, ""));
};

type Field = { rule: Rule; presence: "required" | "optional" } | { rule: Rule; presence: "default" | "prefault"; value: () => unknown };
const required = (rule: Rule): Field => ({ rule, presence: "required" });
const optional = (rule: Rule): Field => ({ rule, presence: "optional" });
const withDefault = (rule: Rule, value: () => unknown): Field => ({ rule, presence: "default", value });
/** zod's prefault: an absent value is checked as if it were this one. */
const prefault = (rule: Rule): Field => ({ rule, presence: "prefault", value: () => ({}) });

interface Refinement {
  holds: (value: Record<string, unknown>) => boolean;
  message: string;
  path?: Path;
}

function refined(value: Record<string, unknown>, issues: Issue[], refinements: Refinement[]): Result {
  for (const r of stops(issues) ? [] : refinements) {
    if (!r.holds(value)) issues.push({ ...soft(r.message, value), path: r.path ?? [] });
  }
  return { value, issues };
}

/** z.strictObject(shape), then refinements. Fields in the shape's order, unknown fields after. */
function strictObject(shape: Record<string, Field>, refinements: Refinement[] = []): Rule {
  return (input) => {
    if (!isObject(input)) return wrong("object", input);
    const value: Record<string, unknown> = {};
    const issues: Issue[] = [];
    for (const [key, field] of Object.entries(shape)) {
      const present = key in input;
      if (field.presence === "optional" && !present) continue;
      if (field.presence === "default" && input[key] === undefined) {
        value[key] = field.value();
        continue;
      }
      const r = field.rule(field.presence === "prefault" && input[key] === undefined ? field.value() : input[key]);
      issues.push(...under(key, r.issues));
      if (r.value !== undefined || present) value[key] = r.value;
    }
    const unknown: string[] = [];
    for (const key in input) if (!Object.hasOwn(shape, key)) unknown.push(key);
    if (unknown.length > 0) issues.push({ path: [], unknownKeys: unknown, continue: true });
    return refined(value, issues, refinements);
  };
}

/** z.record(key, value), then refinements. A key that fails its pattern hides its value. */
function recordOf(keyPattern: RegExp, item: Rule, refinements: Refinement[]): Rule {
  return (input) => {
    if (!isObject(input)) return wrong("record", input);
    const value: Record<string, unknown> = {};
    const issues: Issue[] = [];
    for (const key of Object.keys(input)) {
      if (key === "__proto__") continue;
      if (!keyPattern.test(key)) {
        issues.push({ path: [key], expected: "Invalid key in record", input: key, continue: undefined });
        continue;
      }
      const r = item(input[key]);
      issues.push(...under(key, r.issues));
      value[key] = r.value;
    }
    return refined(value, issues, refinements);
  };
}

const dimension = int(1, 10_000);

const size = strictObject(
  {
    width: required(dimension),
    height: optional(dimension),
    fit: optional(oneOf(["cover", "inside"])),
    position: optional(oneOf(CROP_POSITIONS)),
    format: optional(oneOf(OUTPUT_FORMATS)),
    quality: optional(int(1, 100)),
    enlarge: withDefault(bool, () => false),
  },
  [
    { holds: (s) => !(s.fit === "cover" && s.height === undefined), message: "fit 'cover' needs a height (a box to fill)", path: ["fit"] },
    {
      holds: (s) => s.position === undefined || (s.height !== undefined && s.fit !== "inside"),
      message: "position only with a cover crop (a height, and fit 'cover' or no fit)",
      path: ["position"],
    },
  ],
);

const settings = strictObject({
  sizes: required(recordOf(/^[a-z0-9][a-z0-9-]{0,31}$/, size, [{ holds: (s) => Object.keys(s).length >= 1 && Object.keys(s).length <= 20, message: "between 1 and 20 sizes" }])),
  output: prefault(
    strictObject({
      format: withDefault(oneOf(OUTPUT_FORMATS), () => "webp"),
      quality: withDefault(int(1, 100), () => 80),
    }),
  ),
  input: prefault(
    strictObject({
      formats: withDefault(arrayOf(oneOf(INPUT_FORMATS), 1), () => [...INPUT_FORMATS]),
      maxBytes: withDefault(int(1, MAX_UPLOAD_BYTES_CEILING), () => 4_194_304),
      maxPixels: withDefault(int(1, 268_402_689), () => 40_000_000),
      maxFrames: withDefault(int(1, 10_000), () => 500),
      maxDecodeSeconds: withDefault(int(1, 25), () => 10),
    }),
  ),
  cors: prefault(strictObject({ origins: withDefault(arrayOf(origin, 1), () => ["*"]) })),
  uploads: prefault(
    strictObject({
      maxBytes: withDefault(int(1, 5_000_000_000), () => 50 * 1024 * 1024),
      urlExpiresSeconds: withDefault(int(60, 3600), () => 300),
    }),
  ),
  sizesAt: withDefault(oneOf(SIZES_AT), () => "request"),
  publicUrls: prefault(
    strictObject({
      enabled: withDefault(bool, () => true),
      expiresSeconds: withDefault(int(60, 604_800), () => 86_400),
    }),
  ),
});

/** The problem in config/load.ts's words. */
function describe(issue: Issue): string {
  if ("unknownKeys" in issue) {
    const keys = issue.unknownKeys;
    return `Unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => [...issue.path, k].join(".")).join(", ")}: remove ${keys.length > 1 ? "them" : "it"} or check the spelling`;
  }
  const field = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
  return `Expected ${issue.expected} for ${field} but received ${describeReceived(issue.input)}`;
}

/** What parseRuntimeSettings (zod) returns or throws for the same JSON value. */
export function checkRuntimeSettings(data: unknown, source = "settings"): RuntimeSettings {
  const { value, issues } = settings(data);
  if (issues.length > 0) throw new ConfigError(source, issues.map(describe));
  return value as RuntimeSettings;
}
