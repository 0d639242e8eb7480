// The error every configuration check throws (config.json read by deploy, the
// settings the handler reads at cold start), and how it shows a received
// value. Without zod, so the Lambda bundle can throw it without loading zod.

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "INVALID_CONFIG";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not valid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** `"150px" of type string`, or `nothing`: the end of every "Expected ... but received ..." problem. */
export function describeReceived(value: unknown): string {
  if (value === undefined) return "nothing";
  const shown = JSON.stringify(value);
  const text = shown === undefined ? String(value) : shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
  return `${text} of type ${Array.isArray(value) ? "array" : value === null ? "null" : typeof value}`;
}
