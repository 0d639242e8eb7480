// npx tsx teardown/index.ts: remove everything deploy made for a stack. Safe to
// run twice. Images and audit logs are kept unless --delete-data says otherwise.
import { createInterface } from "node:readline/promises";
import { destroyClients } from "../deploy/aws-clients.ts";
import { COMMON_FLAGS, EXIT, clientsFromFlags, colour, configFromFlags, formatStep, progressPrinter, readFlags, reportFailure, runAsScript, type FlagSpec } from "../deploy/cli.ts";
import { teardown } from "./run.ts";
import { teardownSummary } from "./summary.ts";

/** Exported for test/docs-commands.test.ts, which parses every command line the docs show. */
export const FLAGS: Record<string, FlagSpec> = {
  ...COMMON_FLAGS,
  yes: { type: "boolean", description: "do not ask for confirmation (needed when stdin is not a terminal)" },
  "delete-data": { type: "boolean", description: "also delete the images bucket with every image, the request logs, and schedule the images key's deletion" },
  "delete-audit-logs": {
    type: "boolean",
    description: "also delete the audit trail's bucket with every log file and schedule the audit key's deletion (needs an identity allowed to delete audit logs: see SECURITY.md)",
  },
};
const USAGE = "npx tsx teardown/index.ts [options]";
const SUMMARY = "Removes every resource deploy made for the stack, in reverse order. Your images and request logs are kept unless --delete-data, the audit logs unless --delete-audit-logs, and so is each key that can still decrypt what is kept; the output says what was kept and why.";

async function confirm(stack: string, deleteData: boolean, deleteAuditLogs: boolean): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const what = [deleteData ? "ALL IMAGES" : "", deleteAuditLogs ? "ALL AUDIT LOGS" : ""].filter(Boolean).join(" AND ");
    const warning = what ? colour.red(` INCLUDING ${what}`) : "";
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
  const deleteAuditLogs = flags["delete-audit-logs"] === true;
  const config = configFromFlags(flags);
  if (typeof config === "number") return config;
  if (!dryRun && flags.yes !== true) {
    if (!process.stdin.isTTY) {
      console.error("Refusing to tear down without confirmation: pass --yes (stdin is not a terminal).");
      return EXIT.usage;
    }
    if (!(await confirm(config.stackName, deleteData, deleteAuditLogs))) {
      console.error("Not confirmed: nothing was removed.");
      return EXIT.usage;
    }
  }
  const clients = clientsFromFlags(flags, config);
  const started = performance.now();
  try {
    if (!json) console.log(colour.bold(`${dryRun ? "Planning teardown of" : "Tearing down"} stack ${config.stackName} in ${config.region}${deleteData ? " (with its data)" : ""}`));
    const result = await teardown({
      config,
      clients,
      dryRun,
      deleteData,
      deleteAuditLogs,
      progress: progressPrinter(json),
      onStep: (r) => {
        if (!json) console.log(formatStep(r, dryRun));
      },
    });
    if (json) {
      console.log(JSON.stringify({ ok: true, dryRun, deleteData, deleteAuditLogs, stack: config.stackName, region: config.region, resources: result.resources }, null, 2));
    } else {
      const [head, ...rest] = teardownSummary(result.resources, { dryRun, deleteData, deleteAuditLogs, seconds: (performance.now() - started) / 1000 });
      console.log(`\n${rest.length === 0 ? colour.green(head!) : colour.yellow(head!)}`);
      for (const line of rest) console.log(line);
    }
    return EXIT.ok;
  } catch (e) {
    return reportFailure("Teardown", e, json, flags);
  } finally {
    destroyClients(clients);
  }
}

runAsScript(import.meta.url, main);
