// What every resource module's ensure/remove receives: the clients, the
// configuration, the derived names, and whether this is a dry run.
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { Config } from "../config/schema.ts";
import type { AwsClients } from "./aws-clients.ts";
import { step } from "./errors.ts";
import { resourceNames, stackTags, type ResourceNames } from "./names.ts";
import { realClock, type Clock } from "./toolkit/propagation.ts";

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
  /** Time for retries while AWS propagates a change (tests pass one that does not wait). */
  clock: Clock;
}

export interface ContextOptions {
  config: Config;
  clients: AwsClients;
  dryRun?: boolean;
  progress?: (message: string) => void;
  clock?: Clock;
}

/** Who and where: the account and partition from STS, for ARNs and bucket names. */
export async function contextFor(options: ContextOptions): Promise<DeployContext> {
  const { config, clients } = options;
  const identity = await step("reading", "caller identity", "sts", "sts:GetCallerIdentity", () => clients.sts.send(new GetCallerIdentityCommand({})));
  const account = identity.Account ?? "";
  const partition = identity.Arn?.split(":")[1] ?? "aws";
  return {
    config,
    clients,
    names: resourceNames(config.stackName, account, config.region),
    account,
    region: config.region,
    partition,
    tags: stackTags(config.stackName),
    dryRun: options.dryRun ?? false,
    progress: options.progress ?? (() => {}),
    clock: options.clock ?? realClock,
  };
}

