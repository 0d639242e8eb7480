// Teardown: every step's remove of the stack table (deploy/stack.ts), in
// reverse order. Users' images and request logs are never deleted without
// deleteData, nor audit logs without deleteAuditLogs: a bucket holding objects
// is kept, and then so is the key that can still decrypt them.
import type { AwsClients } from "../deploy/aws-clients.ts";
import type { Config } from "../config/schema.ts";
import { contextFor, type StepReport } from "../deploy/context.ts";
import { STACK, type Removed } from "../deploy/stack.ts";
import type { Clock } from "../deploy/toolkit/propagation.ts";

export interface TeardownOptions {
  config: Config;
  clients: AwsClients;
  deleteData?: boolean;
  deleteAuditLogs?: boolean;
  dryRun?: boolean;
  progress?: (message: string) => void;
  onStep?: (report: StepReport) => void;
  clock?: Clock;
}

export async function teardown(options: TeardownOptions): Promise<{ resources: StepReport[] }> {
  const ctx = await contextFor(options);
  const run = { deleteData: options.deleteData ?? false, deleteAuditLogs: options.deleteAuditLogs ?? false };
  const resources: StepReport[] = [];
  const removed: Removed = {};
  for (const step of [...STACK].reverse()) {
    if (step.remove === undefined) continue;
    const { resource, name, action, detail } = await step.remove(ctx, run, removed);
    const line: StepReport = { resource, name, action, ...(detail ? { detail } : {}) };
    removed[step.title] = line;
    // Optional parts a stack never used get no line.
    if (step.enabled !== undefined && action === "absent") continue;
    resources.push(line);
    options.onStep?.(line);
  }
  return { resources };
}
