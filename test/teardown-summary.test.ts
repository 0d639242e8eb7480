// Teardown's closing lines (issue 17 item 10): one line per kept resource with
// why, the rerun hint only for what a flag can remove, a total time, and the
// singular where there is one.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StepReport } from "../deploy/context.ts";
import { teardownSummary } from "../teardown/summary.ts";

const options = { dryRun: false, deleteData: false, deleteAuditLogs: false, seconds: 12.34 };
const logsRole: StepReport = { resource: "API Gateway logs role", name: "imgapi-apigateway-cloudwatch-logs", action: "kept", detail: "account-wide: every REST API in eu-west-1 writes its logs through it, so teardown leaves it" };
const images: StepReport = { resource: "S3 bucket (images)", name: "dev-images-1-eu-west-1", action: "kept", detail: "holds 1 object; rerun with --delete-data to delete them" };
const auditKey: StepReport = { resource: "KMS key", name: "alias/dev-audit", action: "kept", detail: "k-1 decrypts the audit logs; --delete-audit-logs schedules its deletion" };

test("nothing kept: done, with the time it took", () => {
  assert.deepEqual(teardownSummary([{ resource: "REST API", name: "dev", action: "deleted" }], options), ["Done: the stack is gone (in 12.3 s)."]);
  assert.deepEqual(teardownSummary([], { ...options, dryRun: true }), ["Dry run: nothing was sent (in 12.3 s)."]);
});

test("a resource kept by design gets its own line and no rerun hint, since no flag removes it", () => {
  assert.deepEqual(teardownSummary([logsRole], options), [
    "Kept 1 resource (in 12.3 s):",
    "  API Gateway logs role: imgapi-apigateway-cloudwatch-logs: account-wide: every REST API in eu-west-1 writes its logs through it, so teardown leaves it",
  ]);
});

test("the rerun hint names only the flags that remove something kept, and not one already given", () => {
  const lines = teardownSummary([logsRole, images, auditKey], options);
  assert.equal(lines[0], "Kept 3 resources (in 12.3 s):");
  assert.equal(lines.length, 5);
  assert.equal(lines[4], "To remove what can be removed, run again with --delete-data (images, request logs and the images key) and --delete-audit-logs (the audit trail and its key).");
  assert.equal(teardownSummary([images, auditKey], { ...options, deleteData: true }).at(-1), "To remove what can be removed, run again with --delete-audit-logs (the audit trail and its key).");
  assert.equal(teardownSummary([images], { ...options, dryRun: true })[0], "Would keep 1 resource (in 12.3 s):");
});
