// Teardown's closing lines: what it kept, one resource per line with why, and
// only the rerun that would remove some of it (--delete-data for images and
// request logs, --delete-audit-logs for the audit trail). What is kept by
// design (the account-wide API Gateway logs role, a boundary the deployer may
// not delete) gets no such hint: no flag removes it.
import type { StepReport } from "../deploy/context.ts";

export interface SummaryOptions {
  dryRun: boolean;
  deleteData: boolean;
  deleteAuditLogs: boolean;
  seconds: number;
}

export function teardownSummary(resources: StepReport[], options: SummaryOptions): string[] {
  const took = `in ${options.seconds.toFixed(1)} s`;
  const kept = resources.filter((r) => r.action === "kept");
  if (kept.length === 0) return [options.dryRun ? `Dry run: nothing was sent (${took}).` : `Done: the stack is gone (${took}).`];
  const lines = [`${options.dryRun ? "Would keep" : "Kept"} ${kept.length} resource${kept.length === 1 ? "" : "s"} (${took}):`];
  for (const r of kept) lines.push(`  ${r.resource}: ${r.name}${r.detail ? `: ${r.detail}` : ""}`);
  const hints: string[] = [];
  if (!options.deleteData && kept.some((r) => r.detail?.includes("--delete-data"))) hints.push("--delete-data (images, request logs and the images key)");
  if (!options.deleteAuditLogs && kept.some((r) => r.detail?.includes("--delete-audit-logs"))) hints.push("--delete-audit-logs (the audit trail and its key)");
  if (hints.length > 0) lines.push(`To remove what can be removed, run again with ${hints.join(" and ")}.`);
  return lines;
}
