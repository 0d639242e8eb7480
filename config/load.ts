// Reading and checking configuration: every problem is reported at once, each
// naming the field, what was expected and what was received (sharp's style).
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { ConfigError, describeReceived } from "./config-error.ts";
import { configSchema, runtimeSettingsSchema, type Config, type RuntimeSettings } from "./schema.ts";

export { ConfigError } from "./config-error.ts";

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
  const input = (issue as { input?: unknown }).input;
  // A check that words its whole problem itself (the region's "did you mean").
  if (issue.code === "custom" && issue.params?.said === "whole") return `${field}: ${issue.message}`;
  switch (issue.code) {
    case "invalid_type":
      return `Expected ${issue.expected} for ${field} but received ${describeReceived(input)}`;
    case "unrecognized_keys":
      return `Unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => [...issue.path, k].join(".")).join(", ")}: remove ${issue.keys.length > 1 ? "them" : "it"} or check the spelling`;
    case "invalid_value":
      return `Expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")} for ${field} but received ${describeReceived(input)}`;
    case "too_small":
    case "too_big":
    case "invalid_format":
    case "custom":
    default:
      return `Expected ${issue.message.replace(/^(Invalid input: expected |Too (small|big): expected )/i, "")} for ${field} but received ${describeReceived(input)}`;
  }
}

function check<S extends z.ZodType>(schema: S, data: unknown, source: string): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(source, result.error.issues.map(describeIssue));
}

export function parseConfig(data: unknown, source = "config"): Config {
  return check(configSchema, data, source);
}

export function parseRuntimeSettings(data: unknown, source = "settings"): RuntimeSettings {
  return check(runtimeSettingsSchema, data, source);
}

/** Reads and checks a config file; overrides (from flags) win over the file. */
export function loadConfig(path: string, overrides: Partial<Pick<Config, "region" | "stackName">> = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      code === "ENOENT" ? `file not found: copy config.example.json to ${path} and edit it` : `cannot read it (${code ?? String(e)})`,
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseConfig(typeof data === "object" && data !== null ? { ...data, ...defined } : data, path);
}
