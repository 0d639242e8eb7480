// npx tsx reprocess/index.ts: make every stored image's missing or outdated
// sizes (after a size changed or was added, or a bucket with originals was
// adopted) and the placeholders of originals stored before them. The work
// runs in the deployed function (direct invokes), not here; this command
// lists the originals, keeps a bounded number of invocations under way, shows
// progress, and can be stopped (Ctrl-C) and run again to resume.
import { LambdaClient } from "@aws-sdk/client-lambda";
import { S3Client } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { join } from "node:path";
import { runtimeSettingsOf } from "../config/runtime-env.ts";
import { COMMON_FLAGS, EXIT, colour, configFromFlags, readFlags, reportFailure, runAsScript, UsageError, type FlagSpec, type Flags } from "../deploy/cli.ts";
import { resourceNames } from "../deploy/names.ts";
import { progressBar } from "./progress.ts";
import { runReprocess, type Summary } from "./run.ts";
import { openState, settingsHash } from "./state.ts";

/** Exported for test/docs-commands.test.ts, which parses every command line the docs show. */
export const FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  "dry-run": { type: "boolean", description: "list what is missing or outdated; make nothing, record nothing" },
  concurrency: { type: "string", value: "n", description: "invocations under way at once, 1-100 (default 4; the function's reserved concurrency caps it)" },
  state: { type: "string", value: "path", description: "where progress is kept to resume a stopped run (default .imgapi-reprocess/<stack>.jsonl)" },
};
const USAGE = "npx tsx reprocess/index.ts [options]";
const SUMMARY = "Lists the originals in the images bucket and asks the deployed function to make every size that is missing or was made with other settings, and each missing placeholder. Ctrl-C stops after the invocations under way; run it again to resume.";

function concurrencyOf(flags: Flags): number {
  const text = flags.concurrency === undefined ? "4" : String(flags.concurrency);
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < 1 || n > 100) throw new UsageError(`Expected an integer from 1 to 100 for --concurrency but received "${text}". Run with --help to see every flag.`);
  return n;
}

function clientsOf(flags: Flags, region: string) {
  const common = {
    region,
    ...(typeof flags.profile === "string" ? { profile: flags.profile } : {}),
    ...(typeof flags["endpoint-url"] === "string" ? { endpoint: flags["endpoint-url"] } : {}),
  };
  return {
    s3: new S3Client({ ...common, ...(common.endpoint ? { forcePathStyle: true } : {}), maxAttempts: 8 }),
    // Throttling is backed off in invoke.ts, visibly and per original.
    lambda: new LambdaClient({ ...common, maxAttempts: 1 }),
    sts: new STSClient(common),
  };
}

function printSummary(s: Summary, dryRun: boolean): void {
  const lines = [
    "",
    colour.bold(s.interrupted ? "Stopped: run the same command again to resume." : dryRun ? "Dry run: nothing was made." : "Done."),
    `  originals     ${s.originals}${s.skipped > 0 ? ` (${s.skipped} finished by an earlier run, skipped)` : ""}`,
    dryRun ? `  would make    ${s.wouldMake} original(s): ${s.variants.length} variant(s), ${s.placeholders} placeholder(s)` : `  made          ${s.made} original(s): ${s.variants.length} variant(s), ${s.placeholders} placeholder(s)`,
    `  up to date    ${s.upToDate}`,
    ...(s.notFound > 0 ? [`  deleted since ${s.notFound}`] : []),
    `  refused       ${s.refused.length}`,
    ...s.refused.map((r) => colour.yellow(`    ${r.id}: ${r.code}: ${r.reason}`)),
    ...(s.failed.length > 0 ? [colour.red(`  failed        ${s.failed.length} (tried again by the next run)`), ...s.failed.map((f) => colour.red(`    ${f.id}: ${f.code}: ${f.reason}`))] : []),
    ...(s.throttled > 0 ? [colour.dim(`  throttled ${s.throttled} time(s), backed off`)] : []),
  ];
  if (dryRun) lines.push(...s.variants.map((v) => colour.dim(`    ${v}`)));
  console.log(lines.join("\n"));
}

export async function main(argv: string[]): Promise<number> {
  const flags = readFlags(argv, FLAGS, USAGE, SUMMARY);
  if (typeof flags === "number") return flags;
  const json = flags.json === true;
  const dryRun = flags["dry-run"] === true;
  let concurrency: number;
  try {
    concurrency = concurrencyOf(flags);
  } catch (e) {
    console.error((e as Error).message);
    return EXIT.usage;
  }
  const config = configFromFlags(flags);
  if (typeof config === "number") return config;
  const clients = clientsOf(flags, config.region);
  const stop = new AbortController();
  const onSignal = () => {
    if (!stop.signal.aborted) process.stderr.write("\nStopping after the invocations under way...\n");
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const account = (await clients.sts.send(new GetCallerIdentityCommand({}))).Account!;
    const names = resourceNames(config.stackName, account, config.region);
    const statePath = typeof flags.state === "string" ? flags.state : join(".imgapi-reprocess", `${config.stackName}.jsonl`);
    const state = dryRun ? undefined : openState(statePath, { bucket: names.imagesBucket, functionName: names.functionName, settings: settingsHash(runtimeSettingsOf(config)) });
    if (state?.discarded !== undefined) process.stderr.write(`${state.discarded}\n`);
    const bar = progressBar(json);
    const summary = await runReprocess({
      s3: clients.s3,
      lambda: clients.lambda,
      bucket: names.imagesBucket,
      functionName: names.functionName,
      dryRun,
      concurrency,
      ...(state === undefined ? {} : { state }),
      signal: stop.signal,
      ...(process.env.IMGAPI_REPROCESS_BACKOFF_MS ? { invoke: { backoffMs: Number(process.env.IMGAPI_REPROCESS_BACKOFF_MS) } } : {}),
      onStart: bar.start,
      onDone: bar.tick,
    });
    bar.stop();
    if (json) console.log(JSON.stringify({ ok: !summary.interrupted && summary.failed.length === 0, dryRun, stack: config.stackName, bucket: names.imagesBucket, function: names.functionName, ...summary }, null, 2));
    else printSummary(summary, dryRun);
    return summary.interrupted || summary.failed.length > 0 ? EXIT.failed : EXIT.ok;
  } catch (e) {
    return reportFailure("Reprocess", e, json);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const client of Object.values(clients)) client.destroy();
  }
}

runAsScript(import.meta.url, main);
