// What every resource module's ensure/remove receives: the clients, the
// configuration, the derived names, and whether this is a dry run.
import type { Config } from "../config/schema.ts";
import type { AwsClients } from "./aws-clients.ts";
import type { ResourceNames } from "./names.ts";

export type EnsureAction = "created" | "updated" | "unchanged";
export type RemoveAction = "deleted" | "absent" | "kept";

export interface StepReport {
  resource: string;
  name: string;
  action: EnsureAction | RemoveAction;
  /** Which fields drifted, or why something was kept. */
  detail?: string;
}

export interface DeployContext {
  config: Config;
  clients: AwsClients;
  names: ResourceNames;
  account: string;
  region: string;
  /** "aws", "aws-cn", "aws-us-gov": ARNs must use the right one. */
  partition: string;
  tags: Record<string, string>;
  /** In a dry run, finders run but no mutating call is sent. */
  dryRun: boolean;
  /** Progress for long steps (waiters, builds). */
  progress(message: string): void;
}

/** Runs a mutating call unless this is a dry run. */
export async function mutate<T>(ctx: Pick<DeployContext, "dryRun">, call: () => Promise<T>): Promise<T | undefined> {
  if (ctx.dryRun) return undefined;
  return call();
}

