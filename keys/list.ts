// keys list: every key of the stack with its client, state, plan and usage
// this period. Never a key's value: list output ends up in terminals, logs
// and tickets.
import type { DeployContext } from "../deploy/context.ts";
import type { KeyState } from "./state.ts";
import { usageThisPeriod, type Period } from "./usage.ts";

export interface ListedKey {
  name: string;
  id: string;
  enabled: boolean;
  created?: string;
  /** The plan it is bound to (its first, if several); undefined when bound to none. */
  planId?: string;
  planName?: string;
  /** The key that replaced it, for a rotated key. */
  rotatedTo?: string;
  usage?: { used?: number; limit?: number; period?: string; from: string; to: string };
}

export async function listKeys(ctx: DeployContext, state: KeyState, today: Date): Promise<ListedKey[]> {
  const plans = [state.stackPlan, ...state.clientPlans];
  const listed: ListedKey[] = [];
  for (const key of state.keys) {
    const plan = plans.find((p) => p.id === key.planIds[0]);
    const period = plan?.quota?.period as Period | undefined;
    const usage = plan === undefined ? undefined : await usageThisPeriod(ctx, plan.id, period ?? "DAY", key.id, today);
    listed.push({
      name: key.client,
      id: key.id,
      enabled: key.enabled === true,
      ...(key.createdDate ? { created: key.createdDate.toISOString() } : {}),
      ...(plan ? { planId: plan.id, planName: plan.name } : {}),
      ...(key.rotatedTo ? { rotatedTo: key.rotatedTo } : {}),
      ...(usage ? { usage: { ...usage, ...(plan?.quota?.limit !== undefined ? { limit: Number(plan.quota.limit) } : {}), ...(period ? { period } : {}) } } : {}),
    });
  }
  return listed;
}

/** One row per key, columns padded; the state says why a key is off. */
export function keysTable(keys: ListedKey[]): string {
  const rows = [
    ["NAME", "ID", "STATE", "CREATED", "PLAN", "USED THIS PERIOD"],
    ...keys.map((k) => [
      k.name,
      k.id,
      k.rotatedTo ? `${k.enabled ? "enabled" : "disabled"}, rotated to ${k.rotatedTo}` : k.enabled ? "enabled" : "disabled",
      k.created?.slice(0, 10) ?? "-",
      k.planName ?? "(none)",
      k.usage === undefined ? "-" : `${k.usage.used ?? 0}${k.usage.limit !== undefined ? ` of ${k.usage.limit}` : ""} since ${k.usage.from}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}
