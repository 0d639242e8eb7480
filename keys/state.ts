// What the keys command reads before it does anything: the stack's plan (made
// by deploy), the clients' own plans, and every key of every client with the
// plans it is bound to. Keys are found by tag (the Tagging API) and through
// the plans' bindings, never by GetApiKeys, which can read every key's value.
import type { DeployContext } from "../deploy/context.ts";
import { boundKeyIds } from "../deploy/resources/api-key.ts";
import { allClientKeys, CLIENT_TAG, findClientPlans, isRetired, ROTATED_TAG, type Key, type Plan } from "../deploy/resources/client-keys.ts";
import { findUsagePlans } from "../deploy/resources/usage-plan.ts";
import { UsageError } from "../deploy/cli.ts";

export interface ClientKey extends Key {
  client: string;
  /** The plans of this stack it is bound to (the stack's, or the client's own). */
  planIds: string[];
  /** The id of the key that replaced it (keys rotate), if it was rotated. */
  rotatedTo?: string;
}

export interface KeyState {
  stackPlan: Plan;
  clientPlans: Plan[];
  keys: ClientKey[];
}

export async function readKeyState(ctx: DeployContext): Promise<KeyState> {
  const stackPlans = await findUsagePlans(ctx);
  // Deploy settles twins; the keys command acts only on a settled stack.
  if (stackPlans.length !== 1) {
    throw new UsageError(
      stackPlans.length === 0
        ? `The stack ${ctx.names.stack} has no usage plan (${ctx.names.usagePlan}) in ${ctx.region}: deploy it first (npx tsx deploy/index.ts), or check --config, --region and --profile.`
        : `The stack ${ctx.names.stack} has ${stackPlans.length} usage plans named ${ctx.names.usagePlan}: run npx tsx deploy/index.ts to settle them, then run this again.`,
    );
  }
  const stackPlan = stackPlans[0]!;
  const clientPlans = await findClientPlans(ctx);
  const planIdsOf = new Map<string, string[]>();
  for (const plan of [stackPlan, ...clientPlans]) {
    for (const keyId of await boundKeyIds(ctx, plan.id)) planIdsOf.set(keyId, [...(planIdsOf.get(keyId) ?? []), plan.id]);
  }
  const keys = (await allClientKeys(ctx, [...planIdsOf.keys()])).map((k): ClientKey => ({
    ...k,
    planIds: planIdsOf.get(k.id) ?? [],
    ...(isRetired(k) ? { rotatedTo: k.tags![ROTATED_TAG]! } : {}),
  }));
  return { stackPlan, clientPlans, keys };
}

export const clientNames = (state: KeyState) => [...new Set(state.keys.map((k) => k.client))].sort();

/** The key the client should use: its newest key not rotated away. */
export const liveKeyOf = (state: KeyState, client: string) => state.keys.filter((k) => k.client === client && k.rotatedTo === undefined).at(-1);

/** The client's keys, or a usage error naming the clients there are. */
export function keysOf(state: KeyState, client: string): ClientKey[] {
  const keys = state.keys.filter((k) => k.client === client);
  if (keys.length > 0) return keys;
  const names = clientNames(state);
  throw new UsageError(`No client named "${client}" has a key on the stack ${state.stackPlan.name}: ${names.length > 0 ? `the clients are ${names.join(", ")}` : "there are no client keys"}. See them with: npx tsx keys/index.ts list`);
}

/** The plan a client's new key goes on: its own plan if it has one, else the stack's. */
export const planOf = (state: KeyState, client: string): Plan => state.clientPlans.find((p) => p.tags?.[CLIENT_TAG] === client) ?? state.stackPlan;
