// Per-client API keys (keys/index.ts makes them) as deploy and teardown must
// see them: which key belongs to which client, which keys are retired by a
// rotation, which plans are a client's own. Deploy manages only the "default"
// client's live key on the stack's plan; teardown removes every key and plan
// of the stack, clients' included.
import { GetApiKeyCommand, paginateGetUsagePlans, type ApiKey, type UsagePlan } from "@aws-sdk/client-api-gateway";
import { paginateGetResources } from "@aws-sdk/client-resource-groups-tagging-api";
import type { DeployContext } from "../context.ts";
import { step } from "../errors.ts";
import type { ResourceNames } from "../names.ts";
import { STACK_TAG } from "../names.ts";
import { orAbsent } from "../toolkit/index.ts";

/** Whose key it is. Keys made by deploy before clients existed carry no such tag: they are "default". */
export const CLIENT_TAG = "imgapi:client";
/** On a key replaced by `keys rotate`: the id of its successor. The key stays disabled; deploy never re-enables it. */
export const ROTATED_TAG = "imgapi:rotated-to";
/** On the stack's plan once `keys revoke default` ran: deploy does not make a new default key. */
export const DEFAULT_REVOKED_TAG = "imgapi:default-key";
export const DEFAULT_CLIENT = "default";

/**
 * The Tagging API's name for API Gateway API keys ("service:resourceType").
 * https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
 */
export const API_KEY_RESOURCE_TYPE = "apigateway:apikeys";

export type Key = ApiKey & { id: string };
export type Plan = UsagePlan & { id: string };

/** The default client's key keeps deploy's name; every other client's key and plan carry the client's name. */
export const clientKeyName = (names: ResourceNames, client: string) => (client === DEFAULT_CLIENT ? names.apiKey : `${names.apiKey}-${client}`);
export const clientPlanName = (names: ResourceNames, client: string) => `${names.usagePlan}-${client}`;

/** The client a key of this stack belongs to, or undefined for a key that is not the stack's. */
export function clientOf(names: ResourceNames, key: ApiKey | undefined): string | undefined {
  if (key?.id === undefined || key.tags?.[STACK_TAG] !== names.stack) return undefined;
  const client = key.tags[CLIENT_TAG] ?? (key.name === names.apiKey ? DEFAULT_CLIENT : undefined);
  return client !== undefined && key.name === clientKeyName(names, client) ? client : undefined;
}

export const isRetired = (key: ApiKey) => key.tags?.[ROTATED_TAG] !== undefined;

/** A client's own plan (keys create NAME --quota): its name, the stack's tag and the client's. */
export function isClientPlan(names: ResourceNames, plan: UsagePlan): plan is Plan {
  const client = plan.tags?.[CLIENT_TAG];
  return plan.id !== undefined && client !== undefined && plan.tags?.[STACK_TAG] === names.stack && plan.name === clientPlanName(names, client);
}

export const apiKeyArn = (ctx: Pick<DeployContext, "partition" | "region">, id: string) => `arn:${ctx.partition}:apigateway:${ctx.region}::/apikeys/${id}`;
export const usagePlanArn = (ctx: Pick<DeployContext, "partition" | "region">, id: string) => `arn:${ctx.partition}:apigateway:${ctx.region}::/usageplans/${id}`;

/**
 * Ids of the keys carrying the stack's tag, by the Tagging API (never
 * GetApiKeys, which can read every key's value). Its index is eventually
 * consistent: callers add the ids bound to the plans they know.
 */
export async function taggedKeyIds(ctx: DeployContext): Promise<string[]> {
  return step("finding by tag", "API key", ctx.names.apiKey, "tag:GetResources", async () => {
    const ids: string[] = [];
    const filter = { TagFilters: [{ Key: STACK_TAG, Values: [ctx.names.stack] }], ResourceTypeFilters: [API_KEY_RESOURCE_TYPE] };
    for await (const page of paginateGetResources({ client: ctx.clients.tagging }, filter)) {
      for (const r of page.ResourceTagMappingList ?? []) ids.push(/\/apikeys\/([^/]+)$/.exec(r.ResourceARN ?? "")?.[1] ?? "");
    }
    return ids.filter(Boolean);
  });
}

/** GetApiKey without its value; a deleted key the tag index still lists reads as absent. */
export const readKey = (ctx: DeployContext, apiKey: string) =>
  step("reading", "API key", apiKey, "apigateway:GET", () => orAbsent("apigateway", () => ctx.clients.apigw.send(new GetApiKeyCommand({ apiKey, includeValue: false }))));

const oldestFirst = (a: ApiKey, b: ApiKey) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0) || String(a.id).localeCompare(String(b.id));

/** Every key of every client of the stack (name and tags confirmed by GetApiKey), oldest first. */
export async function allClientKeys(ctx: DeployContext, boundIds: string[] = []): Promise<Array<Key & { client: string }>> {
  const keys: Array<Key & { client: string }> = [];
  for (const id of new Set([...boundIds, ...(await taggedKeyIds(ctx))])) {
    const key = await readKey(ctx, id);
    const client = clientOf(ctx.names, key);
    if (client !== undefined) keys.push({ ...(key as Key), client });
  }
  return keys.sort(oldestFirst);
}

/** The clients' own plans of this stack (deploy's own plan has another name and is not among them). */
export async function findClientPlans(ctx: DeployContext): Promise<Plan[]> {
  return step("finding", "usage plan", `${ctx.names.usagePlan}-*`, "apigateway:GET", async () => {
    const found: Plan[] = [];
    for await (const page of paginateGetUsagePlans({ client: ctx.clients.apigw, pageSize: 500 }, {})) for (const p of page.items ?? []) if (isClientPlan(ctx.names, p)) found.push(p);
    return found.sort((a, b) => a.id.localeCompare(b.id));
  });
}
