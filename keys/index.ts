// npx tsx keys/index.ts list | create NAME | revoke NAME | rotate NAME: one
// API key per client on the stack's usage plan (auth "apiKey"), with deploy's
// flags, output and exit codes (0 done, 1 AWS failed, 2 bad usage or config).
import { destroyClients } from "../deploy/aws-clients.ts";
import { awsCliOptions, clientsFromFlags, colour, COMMON_FLAGS, configFromFlags, EXIT, parseFlags, readFlags, reportFailure, runAsScript, UsageError, type Flags, type FlagSpec } from "../deploy/cli.ts";
import { contextFor } from "../deploy/context.ts";
import { apiKeyValueCommand } from "../deploy/resources/usage-plan.ts";
import { keysTable } from "./list.ts";
import { checkClientName, COMMANDS, runKeys, type Command, type KeysRequest, type KeysResult } from "./run.ts";
import type { Period } from "./usage.ts";

export const FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  "stack-name": { type: "string", value: "name", description: "the stack whose keys these are; overrides the config file" },
  quota: { type: "string", value: "n", description: "create: give the client a usage plan of its own with this many requests per --period" },
  period: { type: "string", value: "DAY|WEEK|MONTH", description: "create: the period of --quota (default MONTH)" },
  rotated: { type: "boolean", description: "revoke: delete only the client's keys that a rotation replaced" },
};
const USAGE = "npx tsx keys/index.ts list | create NAME | revoke NAME | rotate NAME [options]";
const SUMMARY = [
  "Per-client API keys on the stack's usage plan (auth apiKey only).",
  "  list           every key: client, id, state, created, plan, usage this period (never a key's value)",
  "  create NAME    a new key for the client NAME; its value is printed once",
  "  rotate NAME    a new key for NAME on the same plan; the old one is disabled and tagged imgapi:rotated-to",
  "  revoke NAME    NAME's keys taken off their plans and deleted (with --rotated: only the rotated ones)",
].join("\n");

/** The command and its NAME, taken out of argv; the rest is flags for deploy's parser. */
function splitArgs(argv: string[]): { positionals: string[]; rest: string[] } {
  const positionals: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("-")) {
      rest.push(arg);
      const flag = FLAGS[arg.replace(/^-+/, "")];
      if (flag?.type === "string" && !arg.includes("=") && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    positionals.push(arg);
  }
  return { positionals, rest };
}

function requestFrom(positionals: string[], flags: Flags): KeysRequest {
  const [command, name, ...extra] = positionals;
  if (command === undefined || !(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`${command === undefined ? "No command" : `Unknown command ${JSON.stringify(command)}`}: expected one of ${COMMANDS.join(", ")}. Usage: ${USAGE}`);
  }
  if (extra.length > 0 || (command === "list" && name !== undefined)) throw new UsageError(`Unexpected argument ${JSON.stringify(command === "list" ? name : extra[0])}. Usage: ${USAGE}`);
  if (command !== "list") checkClientName(name, command as Command);
  if ((flags.quota !== undefined || flags.period !== undefined) && command !== "create") throw new UsageError(`--quota and --period go with create only (a client's own plan is made with its first key).`);
  if (flags.rotated === true && command !== "revoke") throw new UsageError(`--rotated goes with revoke only.`);
  let quota: KeysRequest["quota"];
  if (flags.period !== undefined && flags.quota === undefined) throw new UsageError(`--period needs --quota N.`);
  if (flags.quota !== undefined) {
    const limit = Number(flags.quota);
    if (!/^\d+$/.test(String(flags.quota)) || limit < 1) throw new UsageError(`Expected a positive integer for --quota but received ${JSON.stringify(flags.quota)}.`);
    const period = String(flags.period ?? "MONTH").toUpperCase();
    if (!["DAY", "WEEK", "MONTH"].includes(period)) throw new UsageError(`Expected DAY, WEEK or MONTH for --period but received ${JSON.stringify(flags.period)}.`);
    quota = { limit, period: period as Period };
  }
  return { command: command as Command, ...(name !== undefined ? { name } : {}), ...(quota ? { quota } : {}), ...(flags.rotated === true ? { onlyRotated: true } : {}) };
}

function printResult(result: KeysResult, flags: Flags, region: string, dryRun: boolean): void {
  if (result.command === "list") {
    console.log(result.keys.length === 0 ? "No API keys: make one with npx tsx keys/index.ts create NAME" : keysTable(result.keys));
    return;
  }
  const verb = dryRun ? "Would do" : "Done";
  console.log(`${verb}: ${result.changes.join(", ")}`);
  if (result.command === "revoke" || dryRun) return;
  console.log(`\nAPI key of ${result.client}: ${result.keyId} (plan ${result.planId})`);
  console.log(colour.bold(`  value: ${result.value ?? "(not returned)"}`));
  console.log(`It is shown only this once. Read it again with:\n  ${apiKeyValueCommand(result.keyId)} --region ${region}${awsCliOptions(flags)}`);
  if (result.command === "rotate") console.log(`\nThe old key ${result.rotatedKeyId} is disabled. Once ${result.client} uses the new one, delete it with: npx tsx keys/index.ts revoke ${result.client} --rotated`);
}

/** A command line parsed as main parses it, without running it: the docs test checks the docs' keys lines with it. Throws a UsageError. */
export function parseCommandLine(argv: string[]): KeysRequest {
  const { positionals, rest } = splitArgs(argv);
  return requestFrom(positionals, parseFlags(rest, FLAGS));
}

export async function main(argv: string[]): Promise<number> {
  const { positionals, rest } = splitArgs(argv);
  const flags = readFlags(rest, FLAGS, USAGE, SUMMARY);
  if (typeof flags === "number") return flags;
  const json = flags.json === true;
  const dryRun = flags["dry-run"] === true;
  let request: KeysRequest;
  try {
    request = requestFrom(positionals, flags);
  } catch (e) {
    return usageFailure(e, json);
  }
  const config = configFromFlags(flags);
  if (typeof config === "number") return config;
  if (config.auth !== "apiKey") return usageFailure(new UsageError(`API keys are only for auth apiKey; the stack ${config.stackName} uses auth ${config.auth} (config.json's "auth"), where no method takes a key.`), json);
  let clients: ReturnType<typeof clientsFromFlags>;
  try {
    clients = clientsFromFlags(flags, config);
  } catch (e) {
    return usageFailure(e, json);
  }
  try {
    const ctx = await contextFor({ config, clients, dryRun });
    const result = await runKeys(ctx, request);
    if (json) console.log(JSON.stringify({ ok: true, dryRun, stack: config.stackName, region: config.region, ...result }, null, 2));
    else printResult(result, flags, config.region, dryRun);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e, json);
    return reportFailure(`keys ${request.command}`, e, json);
  } finally {
    destroyClients(clients);
  }
}

/** Deploy's error shape with --json, and exit 2. */
function usageFailure(e: unknown, json: boolean): number {
  if (!(e instanceof UsageError)) throw e;
  if (json) console.log(JSON.stringify({ ok: false, error: { code: "UsageError", message: e.message } }, null, 2));
  console.error(e.message);
  return EXIT.usage;
}

runAsScript(import.meta.url, main);
