// The keys commands on a context (the CLI's, or a test's): read the stack's
// keys once, then list, create, revoke or rotate. Usage errors (a client that
// does not exist, one that already has a key) are thrown before any change.
import { UsageError } from "../deploy/cli.ts";
import type { DeployContext } from "../deploy/context.ts";
import { createClientKey, rotateClientKey, type KeyOutcome, type OwnQuota } from "./create.ts";
import { listKeys, type ListedKey } from "./list.ts";
import { revokeClient, type RevokeOutcome } from "./revoke.ts";
import { readKeyState } from "./state.ts";

export const COMMANDS = ["list", "create", "revoke", "rotate"] as const;
export type Command = (typeof COMMANDS)[number];

export interface KeysRequest {
  command: Command;
  /** The client's name (every command but list). */
  name?: string;
  quota?: OwnQuota;
  /** revoke: only the keys a rotation replaced. */
  onlyRotated?: boolean;
  /** "Today" for the usage period (tests pass a fixed day). */
  today?: Date;
}

export type KeysResult =
  | { command: "list"; keys: ListedKey[] }
  | ({ command: "create" | "rotate" } & KeyOutcome)
  | ({ command: "revoke" } & RevokeOutcome);

/**
 * Lower-case letters, digits and dashes, to 40: it becomes part of a key's
 * and a plan's name, and API Gateway takes any name, so the limit is ours.
 */
export const CLIENT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

export function checkClientName(name: string | undefined, command: Command): string {
  if (name === undefined) throw new UsageError(`keys ${command} needs the client's name: npx tsx keys/index.ts ${command} NAME (see them with: npx tsx keys/index.ts list).`);
  if (!CLIENT_NAME.test(name)) throw new UsageError(`Expected a client name of lower-case letters, digits and dashes (at most 40) but received ${JSON.stringify(name)}.`);
  return name;
}

export async function runKeys(ctx: DeployContext, request: KeysRequest): Promise<KeysResult> {
  if (ctx.config.auth !== "apiKey") {
    throw new UsageError(`API keys are only for auth apiKey; the stack ${ctx.names.stack} uses auth ${ctx.config.auth} (config.json's "auth"), where no method takes a key.`);
  }
  const { command } = request;
  const name = command === "list" ? undefined : checkClientName(request.name, command);
  const state = await readKeyState(ctx);
  if (command === "list") return { command, keys: await listKeys(ctx, state, request.today ?? new Date()) };
  if (command === "create") return { command, ...(await createClientKey(ctx, state, name!, request.quota)) };
  if (command === "rotate") return { command, ...(await rotateClientKey(ctx, state, name!)) };
  return { command, ...(await revokeClient(ctx, state, name!, request.onlyRotated === true)) };
}
