// npx tsx teardown/index.ts: remove everything deploy made for a stack. Safe to
// run twice. Images and audit logs are kept unless --delete-data says otherwise.
import { createInterface } from "node:readline/promises";
import { destroyClients } from "../deploy/aws-clients.ts";
import { COMMON_FLAGS, EXIT, clientsFromFlags, colour, configFromFlags, formatStep, progressPrinter, readFlags, reportFailure, runAsScript, type FlagSpec } from "../deploy/cli.ts";
import { teardown } from "./run.ts";

const FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  yes: { type: "boolean", description: "do not ask for confirmation (needed when stdin is not a terminal)" },
  "delete-data": { type: "boolean", description: "also empty and delete the buckets (images, audit logs) and schedule the KMS key's deletion" },
};
const USAGE = "npx tsx teardown/index.ts [options]";
const SUMMARY = "Removes every resource deploy made for the stack, in reverse order. Without --delete-data, buckets that hold objects (your images, CloudTrail's logs) and the KMS key that encrypts them are kept, and the output says so.";

async function confirm(stack: string, deleteData: boolean): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const warning = deleteData ? colour.red(" INCLUDING ALL IMAGES AND AUDIT LOGS") : "";
    const answer = await rl.question(`Remove stack ${stack}${warning}? Type the stack name to confirm: `);
    return answer.trim() === stack;
  } finally {
    rl.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const flags = readFlags(argv, FLAGS, USAGE, SUMMARY);
  if (typeof flags === "number") return flags;
  const json = flags.json === true;
  const dryRun = flags["dry-run"] === true;
  const deleteData = flags["delete-data"] === true;
  const config = configFromFlags(flags);
  if (typeof config === "number") return config;
  if (!dryRun && flags.yes !== true) {
    if (!process.stdin.isTTY) {
      console.error("Refusing to tear down without confirmation: pass --yes (stdin is not a terminal).");
      return EXIT.usage;
    }
    if (!(await confirm(config.stackName, deleteData))) {
      console.error("Not confirmed: nothing was removed.");
      return EXIT.usage;
    }
  }
  const clients = clientsFromFlags(flags, config);
  try {
    if (!json) console.log(colour.bold(`${dryRun ? "Planning teardown of" : "Tearing down"} stack ${config.stackName} in ${config.region}${deleteData ? " (with its data)" : ""}`));
    const result = await teardown({
      config,
      clients,
      dryRun,
      deleteData,
      progress: progressPrinter(json),
      onStep: (r) => {
        if (!json) console.log(formatStep(r, dryRun));
      },
    });
    const kept = result.resources.filter((r) => r.action === "kept");
    if (json) {
      console.log(JSON.stringify({ ok: true, dryRun, deleteData, stack: config.stackName, region: config.region, resources: result.resources }, null, 2));
    } else if (kept.length > 0) {
      console.log(`\n${colour.yellow(`Kept ${kept.length} resource(s)`)}: ${kept.map((r) => `${r.name} (${r.detail ?? "kept"})`).join("; ")}`);
      if (!deleteData) console.log("Run again with --delete-data to delete them and their data.");
    } else {
      console.log(`\n${colour.green(dryRun ? "Dry run: nothing was sent." : "Done: the stack is gone.")}`);
    }
    return EXIT.ok;
  } catch (e) {
    return reportFailure("Teardown", e, json);
  } finally {
    destroyClients(clients);
  }
}

runAsScript(import.meta.url, main);
