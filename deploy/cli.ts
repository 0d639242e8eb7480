// What deploy and teardown share as command-line tools: flags, help, exit
// codes, and output a person can follow (colours only on a TTY) or a script
// can parse (--json).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, loadConfig } from "../config/load.ts";
import { editDistance, nearest } from "../config/edit-distance.ts";
import { checkRegion } from "../config/regions.ts";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../config/usage-error.ts";
import { createClients, type AwsClients } from "./aws-clients.ts";
import { knownProfiles, sharedFiles } from "./aws-profiles.ts";
import type { StepReport } from "./context.ts";
import { emulatorHint } from "./emulator-hints.ts";
import { DeployError } from "./errors.ts";

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export { UsageError };

export interface FlagSpec {
  type: "string" | "boolean";
  description: string;
  value?: string;
}

export const COMMON_FLAGS: Record<string, FlagSpec> = {
  config: { type: "string", value: "path", description: "configuration file (default: config.json)" },
  profile: { type: "string", value: "name", description: "AWS profile, as the AWS CLI's --profile" },
  region: { type: "string", value: "region", description: "AWS region; overrides the config file" },
  "endpoint-url": { type: "string", value: "url", description: "send every AWS call to this endpoint (moto, LocalStack)" },
  "dry-run": { type: "boolean", description: "print the plan; send no call that changes anything" },
  json: { type: "boolean", description: "machine-readable output on stdout (one JSON document)" },
  help: { type: "boolean", description: "show this help" },
};

export function helpText(usage: string, summary: string, flags: Record<string, FlagSpec>): string {
  const rows = Object.entries(flags).map(([name, f]) => [`${name === "help" ? "-h, " : ""}--${name}${f.value ? ` <${f.value}>` : ""}`, f.description] as const);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [`Usage: ${usage}`, "", summary, "", "Options:", ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`), "", "Exit codes: 0 done, 1 failed, 2 bad usage or configuration.", ""].join("\n");
}

export function parseFlags(argv: string[], flags: Record<string, FlagSpec>): Record<string, string | boolean | undefined> {
  const options: ParseArgsConfig["options"] = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, { type: f.type, ...(name === "help" ? { short: "h" } : {}) }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError(`${explainParseError(e as Error & { code?: string }, Object.keys(flags))} Run with --help to see every flag.`);
  }
  const endpoint = values["endpoint-url"];
  if (typeof endpoint === "string" && !/^https?:\/\/[^/\s]+/i.test(endpoint)) {
    throw new UsageError(`Expected a URL with its scheme for --endpoint-url, such as http://127.0.0.1:5000, but received ${JSON.stringify(endpoint)}.`);
  }
  return values;
}

/** node:util's parse errors, said for a person: the flag they probably meant. */
function explainParseError(e: Error & { code?: string }, names: string[]): string {
  const given = /'(-{0,2}[^']+)'/.exec(e.message)?.[1] ?? "";
  const guess = closest(given.replace(/^-+/, "").replace(/=.*$/, ""), names);
  const hint = guess === undefined ? "" : ` Did you mean --${guess}?`;
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `Unknown flag ${given}.${hint}`;
  if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `Unexpected argument ${JSON.stringify(given)}: this command takes only flags (settings such as stackName live in config.json).${hint}`;
  return `${e.message.split(". ")[0]}.`;
}

/** The flag name nearest to `word` by edit distance, if it is near enough to be a typo. */
function closest(word: string, names: string[]): string | undefined {
  const { names: [best], distance } = nearest(word, names, (w, name) => Math.min(editDistance(w, name), editDistance(w, name.replaceAll("-", ""))));
  return best !== undefined && word.length > 0 && distance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

const useColour = () => process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint = (code: number, text: string) => (useColour() ? `\u001b[${code}m${text}\u001b[0m` : text);
export const colour = {
  green: (t: string) => paint(32, t),
  yellow: (t: string) => paint(33, t),
  red: (t: string) => paint(31, t),
  dim: (t: string) => paint(2, t),
  bold: (t: string) => paint(1, t),
};

const SYMBOL: Record<StepReport["action"], string> = {
  created: "+",
  updated: "~",
  unchanged: "=",
  deleted: "-",
  absent: " ",
  kept: "!",
};

/** The widest action ("would be created" in a dry run, "unchanged" otherwise) and resource type ("IAM permissions boundary"). */
const ACTION_WIDTH = { dryRun: 16, run: 9 };
const RESOURCE_WIDTH = 24;

/**
 * One line per step: the action first, in a column of fixed width (the
 * actions are a known few), then the resource type, then its name, which
 * varies with the stack (a bucket name runs to 63 characters) and so comes
 * last with the detail, where its length moves nothing after it out of line.
 */
export function formatStep(report: StepReport, dryRun: boolean): string {
  const tint = report.action === "created" || report.action === "deleted" ? colour.green : report.action === "updated" || report.action === "kept" ? colour.yellow : colour.dim;
  const action = dryRun && ["created", "updated", "deleted"].includes(report.action) ? `would be ${report.action}` : report.action;
  const detail = report.detail ? colour.dim(` (${report.detail})`) : "";
  return `${tint(SYMBOL[report.action])} ${tint(action.padEnd(dryRun ? ACTION_WIDTH.dryRun : ACTION_WIDTH.run))} ${report.resource.padEnd(RESOURCE_WIDTH)} ${report.name}${detail}`;
}

/** Progress for long steps goes to stderr, so --json stdout stays one document. */
export function progressPrinter(json: boolean): (message: string) => void {
  return (message) => {
    if (!json || process.stderr.isTTY) process.stderr.write(`${colour.dim(`  ... ${message}`)}\n`);
  };
}

export type Flags = Record<string, string | boolean | undefined>;

/** Parses the flags and answers --help: the flags to go on with, or the exit code to stop with. */
export function readFlags(argv: string[], flags: Record<string, FlagSpec>, usage: string, summary: string): Flags | number {
  let values: Flags;
  try {
    values = parseFlags(argv, flags);
  } catch (e) {
    console.error((e as Error).message);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(helpText(usage, summary, flags));
    return EXIT.ok;
  }
  return values;
}

/**
 * config.json (or --config), --region (and --stack-name, for the CLIs that
 * take it) overriding it; a bad file or an unknown region is reported and
 * exits 2 before any AWS call. A region newer than the SDK's list is used,
 * with a warning on stderr (stdout stays --json's).
 */
export function configFromFlags(flags: Flags): Config | number {
  const region = typeof flags.region === "string" ? flags.region : undefined;
  const given = region === undefined ? undefined : checkRegion(region);
  if (given?.ok === false) {
    console.error(`--region: ${given.problem}`);
    return EXIT.usage;
  }
  let config: Config;
  try {
    config = loadConfig(String(flags.config ?? "config.json"), { region, ...(typeof flags["stack-name"] === "string" ? { stackName: flags["stack-name"] } : {}) });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return EXIT.usage;
  }
  const check = given ?? checkRegion(config.region);
  if (check.ok && check.warning !== undefined) console.error(colour.yellow(`Warning: ${check.warning}`));
  return config;
}

/** One client per service for --profile and --endpoint-url, in the config's region. */
export function clientsFromFlags(flags: Flags, config: Config, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const profile = typeof flags.profile === "string" ? flags.profile : undefined;
  // Without --profile the SDK looks for AWS_PROFILE only when no access keys are in the environment.
  const named = profile ?? (env.AWS_ACCESS_KEY_ID === undefined ? env.AWS_PROFILE : undefined);
  const known = named === undefined ? [] : knownProfiles(env);
  if (named !== undefined && !known.includes(named)) {
    const files = sharedFiles(env);
    throw new UsageError(
      `No AWS profile named "${named}"${profile === undefined ? " (AWS_PROFILE)" : ""} in ${files.config} or ${files.credentials}${known.length ? `; the profiles there: ${known.join(", ")}` : " (no profiles there)"}. Set it up with: aws configure --profile ${named} (or aws configure sso), or pick one of those.`,
    );
  }
  return createClients({
    region: config.region,
    ...(typeof flags.profile === "string" ? { profile: flags.profile } : {}),
    ...(typeof flags["endpoint-url"] === "string" ? { endpoint: flags["endpoint-url"] } : {}),
  });
}

/** The AWS CLI options that reach the same account and endpoint as this run, for the commands it prints (" --profile P --endpoint-url U"). */
export function awsCliOptions(flags: Flags): string {
  const quote = (v: string) => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, "'\\''")}'`);
  return [typeof flags.profile === "string" ? ` --profile ${quote(flags.profile)}` : "", typeof flags["endpoint-url"] === "string" ? ` --endpoint-url ${quote(flags["endpoint-url"])}` : ""].join("");
}

/**
 * Reports a failed run (as JSON too with --json) and gives exit code 1. With
 * --endpoint-url, a failure an emulator causes also says how to fix the emulator.
 */
export function reportFailure(what: string, e: unknown, json: boolean, flags: Flags = {}): number {
  const endpoint = typeof flags["endpoint-url"] === "string" ? flags["endpoint-url"] : undefined;
  const extra = emulatorHint(e, endpoint);
  const message = `${e instanceof DeployError ? e.message : `${(e as Error).name}: ${(e as Error).message}`}${extra ? ` ${extra}` : ""}`;
  if (json) console.log(JSON.stringify({ ok: false, error: { code: e instanceof DeployError ? e.code : (e as Error).name, message } }, null, 2));
  console.error(colour.red(`${what} failed: ${message}`));
  if (!(e instanceof DeployError) && process.env.IMGAPI_DEBUG) console.error(e);
  return EXIT.failed;
}

/** Runs a CLI's main() when its file is the script node was started with, exiting with its code. */
export function runAsScript(moduleUrl: string, main: (argv: string[]) => Promise<number>): void {
  if (moduleUrl !== `file://${process.argv[1]}`) return;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof UsageError ? e.message : e);
      process.exit(e instanceof UsageError ? EXIT.usage : EXIT.failed);
    },
  );
}
