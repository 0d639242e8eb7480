// The stack's API key, found without GetApiKeys (which lists every key of the
// account, values included with includeValues, so the deployer policy does
// not grant it): through its usage plan (GetUsagePlanKeys, then GetApiKey),
// and, for a key bound to no plan (a lost CreateApiKey answer, or a run
// stopped before the binding), through the Resource Groups Tagging API by the
// stack's tag. The key's value is never read.
import { CreateApiKeyCommand, DeleteApiKeyCommand, GetApiKeyCommand, paginateGetUsagePlanKeys, paginateGetUsagePlans, UpdateApiKeyCommand, type ApiKey } from "@aws-sdk/client-api-gateway";
import type { DeployContext } from "../context.ts";
import { step } from "../errors.ts";
import { allClientKeys, clientOf, DEFAULT_CLIENT, isRetired, taggedKeyIds, type Key } from "./client-keys.ts";
import type { Changes} from "../toolkit/index.ts";
import { ignoreAbsent, orAbsent } from "../toolkit/index.ts";

const ours = (ctx: DeployContext, key: ApiKey | undefined): key is Key => clientOf(ctx.names, key) === DEFAULT_CLIENT;

const getApiKey = (ctx: DeployContext, apiKey: string) =>
  step("reading", "API key", ctx.names.apiKey, "apigateway:GET", () => orAbsent("apigateway", () => ctx.clients.apigw.send(new GetApiKeyCommand({ apiKey, includeValue: false }))));

/** The ids of the keys bound to the plan (GetUsagePlanKeys). */
export async function boundKeyIds(ctx: DeployContext, usagePlanId: string): Promise<string[]> {
  return step("reading the keys of", "usage plan", ctx.names.usagePlan, "apigateway:GET", async () => {
    const ids: string[] = [];
    for await (const page of paginateGetUsagePlanKeys({ client: ctx.clients.apigw, pageSize: 500 }, { usagePlanId })) ids.push(...(page.items ?? []).map((k) => k.id ?? ""));
    return ids.filter(Boolean);
  });
}

const oldestFirst = (a: ApiKey, b: ApiKey) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0) || String(a.id).localeCompare(String(b.id));

export interface FoundKeys {
  /** The stack's key: bound to the plan, else the oldest unbound one. */
  key?: Key;
  bound: boolean;
  /** Unbound keys of the stack other than `key`: duplicates left by lost answers. */
  duplicates: Key[];
}

/** The stack's keys (its name and tag confirmed by GetApiKey) among these ids and those found by tag. */
async function stackKeys(ctx: DeployContext, ids: string[]): Promise<Key[]> {
  const keys: Key[] = [];
  for (const id of new Set([...ids, ...(await taggedKeyIds(ctx))])) {
    const key = await getApiKey(ctx, id);
    if (ours(ctx, key)) keys.push(key);
  }
  return keys.sort(oldestFirst);
}

/**
 * Keys retired by `keys rotate` (tagged imgapi:rotated-to) are neither the key
 * nor duplicates: deploy leaves them disabled where they are. Of the live
 * bound keys the newest is the one clients should use (a rotation's new key).
 */
export async function findApiKeys(ctx: DeployContext, usagePlanId: string | undefined): Promise<FoundKeys> {
  const boundIds = usagePlanId === undefined ? [] : await boundKeyIds(ctx, usagePlanId);
  const live = (await stackKeys(ctx, boundIds)).filter((k) => !isRetired(k));
  const key = live.filter((k) => boundIds.includes(k.id)).at(-1) ?? live[0];
  return { ...(key ? { key } : {}), bound: key !== undefined && boundIds.includes(key.id), duplicates: live.filter((k) => k.id !== key?.id && !boundIds.includes(k.id)) };
}

/**
 * The stack's key, enabled, and no other unbound key of the stack's name.
 * CreateApiKey is a POST the SDK retries: a lost answer leaves a second key
 * with the same name and tag, bound to nothing; it is found by tag and deleted.
 */
export async function ensureApiKey(ctx: DeployContext, usagePlanId: string | undefined, changes: Changes, opts: { revoked?: boolean } = {}): Promise<FoundKeys & { created: boolean }> {
  const { apigw } = ctx.clients;
  let found = await findApiKeys(ctx, usagePlanId);
  let created = false;
  // `keys revoke default` marked the plan: making a key again would undo the revocation.
  if (found.key === undefined && opts.revoked === true) return { ...found, created };
  if (found.key === undefined) {
    const made = await changes.apply("API key", "apigateway:POST", () =>
      apigw.send(new CreateApiKeyCommand({ name: ctx.names.apiKey, description: `x-api-key for the imgapi stack ${ctx.names.stack}`, enabled: true, tags: ctx.tags })), "creating the API key of");
    if (made?.id === undefined) return { bound: false, duplicates: [], created: true };
    created = true;
    // No key was bound (or one would have been found), so every other key found now is a twin.
    const twins = (await stackKeys(ctx, [])).filter((k) => k.id !== made.id && !isRetired(k));
    found = { key: { ...made, id: made.id }, bound: false, duplicates: twins };
  }
  for (const duplicate of found.duplicates) {
    if (await inSomePlan(ctx, duplicate.id)) continue;
    await changes.apply(`duplicate API key ${duplicate.id} deleted`, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => apigw.send(new DeleteApiKeyCommand({ apiKey: duplicate.id }))), "deleting");
  }
  const key = found.key!;
  if (key.enabled !== true) {
    await changes.apply("API key enabled", "apigateway:PATCH", () => apigw.send(new UpdateApiKeyCommand({ apiKey: key.id, patchOperations: [{ op: "replace", path: "/enabled", value: "true" }] })), "enabling the API key of");
  }
  return { ...found, created };
}

/** A key of the stack's name bound to another plan was bound there by someone: it is not a duplicate to delete. */
const inSomePlan = (ctx: DeployContext, keyId: string) =>
  step("reading the usage plans of", "API key", ctx.names.apiKey, "apigateway:GET", async () => {
    for await (const page of paginateGetUsagePlans({ client: ctx.clients.apigw, pageSize: 500 }, { keyId })) if ((page.items ?? []).length > 0) return true;
    return false;
  });

/** Every key of the stack, every client's: bound to any of these plans, or found by tag. */
export async function stackKeysOf(ctx: DeployContext, usagePlanIds: string[]): Promise<Key[]> {
  const boundIds: string[] = [];
  for (const planId of usagePlanIds) boundIds.push(...(await boundKeyIds(ctx, planId)));
  return allClientKeys(ctx, boundIds);
}

export async function deleteApiKeys(ctx: DeployContext, keys: Key[], changes: Changes): Promise<void> {
  for (const { id } of keys) {
    await changes.apply(`API key ${id}`, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => ctx.clients.apigw.send(new DeleteApiKeyCommand({ apiKey: id }))), "deleting the API key of");
  }
}
