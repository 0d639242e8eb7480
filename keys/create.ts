// keys create NAME and keys rotate NAME: a new key for a client, bound to its
// plan (the stack's, or with --quota a plan of its own), and for a rotation
// the old key disabled and tagged with its successor's id.
import {
  CreateApiKeyCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateApiKeyCommand,
  type ApiKey,
} from "@aws-sdk/client-api-gateway";
import { UsageError } from "../deploy/cli.ts";
import type { DeployContext } from "../deploy/context.ts";
import { apiKeyArn, CLIENT_TAG, clientKeyName, clientPlanName, DEFAULT_CLIENT, DEFAULT_REVOKED_TAG, ROTATED_TAG, usagePlanArn, type Plan } from "../deploy/resources/client-keys.ts";
import { Changes } from "../deploy/toolkit/index.ts";
import { keysOf, liveKeyOf, planOf, type KeyState } from "./state.ts";
import type { Period } from "./usage.ts";

export interface KeyOutcome {
  client: string;
  /** The new key; "(new)" in a dry run. */
  keyId: string;
  /** Shown once, here: it is never listed. Absent in a dry run. */
  value?: string;
  planId: string;
  /** rotate: the key now disabled. */
  rotatedKeyId?: string;
  changes: string[];
}

export interface OwnQuota {
  limit: number;
  period: Period;
}

const clientTags = (ctx: DeployContext, client: string) => ({ ...ctx.tags, [CLIENT_TAG]: client });

/**
 * A plan of the client's own: the stack plan's stages and throttle, its own
 * quota. Its name is not the stack plan's, so deploy's plan step neither
 * adopts nor deletes it; teardown finds it by name and tags.
 */
async function createClientPlan(ctx: DeployContext, state: KeyState, client: string, quota: OwnQuota, changes: Changes): Promise<Plan | undefined> {
  const { apiStages, throttle } = state.stackPlan;
  const made = await changes.apply(`usage plan ${clientPlanName(ctx.names, client)} (${quota.limit} a ${quota.period.toLowerCase()})`, "apigateway:POST", () =>
    ctx.clients.apigw.send(
      new CreateUsagePlanCommand({
        name: clientPlanName(ctx.names, client),
        description: `Own quota of the client ${client} of the imgapi stack ${ctx.names.stack}`,
        apiStages,
        ...(throttle ? { throttle: { rateLimit: Number(throttle.rateLimit), burstLimit: Number(throttle.burstLimit) } } : {}),
        quota: { limit: quota.limit, period: quota.period },
        tags: clientTags(ctx, client),
      }),
    ), "creating");
  return made?.id === undefined ? undefined : (made as Plan);
}

/** A new enabled key for the client, bound to the plan. Dry run: recorded, nothing sent. */
async function newKey(ctx: DeployContext, client: string, planId: string | undefined, changes: Changes): Promise<ApiKey | undefined> {
  const { apigw } = ctx.clients;
  const made = await changes.apply(`API key ${clientKeyName(ctx.names, client)}`, "apigateway:POST", () =>
    apigw.send(new CreateApiKeyCommand({ name: clientKeyName(ctx.names, client), description: `x-api-key of the client ${client} of the imgapi stack ${ctx.names.stack}`, enabled: true, tags: clientTags(ctx, client) })), "creating");
  await changes.apply("key bound to plan", "apigateway:POST", () => apigw.send(new CreateUsagePlanKeyCommand({ usagePlanId: planId!, keyId: made!.id!, keyType: "API_KEY" })), "binding the API key to");
  return made;
}

export async function createClientKey(ctx: DeployContext, state: KeyState, client: string, quota: OwnQuota | undefined): Promise<KeyOutcome> {
  const live = liveKeyOf(state, client);
  if (live !== undefined) throw new UsageError(`The client "${client}" already has a key (${live.id}). Replace it with: npx tsx keys/index.ts rotate ${client}`);
  if (quota !== undefined && state.clientPlans.some((p) => p.tags?.[CLIENT_TAG] === client)) throw new UsageError(`The client "${client}" already has its own usage plan: create the key without --quota.`);
  if (quota !== undefined && client === DEFAULT_CLIENT) throw new UsageError(`The "default" client is metered by the stack's plan (config.json's api.quota): drop --quota, or pick another client name.`);
  const changes = new Changes(ctx, "API key", clientKeyName(ctx.names, client));
  const plan = quota === undefined ? planOf(state, client) : await createClientPlan(ctx, state, client, quota, changes);
  const made = await newKey(ctx, client, plan?.id, changes);
  if (client === DEFAULT_CLIENT && state.stackPlan.tags?.[DEFAULT_REVOKED_TAG] !== undefined) {
    // Deploy looks after the default key again.
    await changes.apply("default key no longer marked revoked", "apigateway:DELETE", () =>
      ctx.clients.apigw.send(new UntagResourceCommand({ resourceArn: usagePlanArn(ctx, state.stackPlan.id), tagKeys: [DEFAULT_REVOKED_TAG] })), "untagging");
  }
  return { client, keyId: made?.id ?? "(new)", ...(made?.value ? { value: made.value } : {}), planId: plan?.id ?? "(new)", changes: changes.list };
}

/**
 * The new key first, so the client is never without a working key; then the
 * old one disabled (refused at once, usage kept) and tagged with its
 * successor, which tells deploy not to re-enable it and tells a person where
 * its client went. `keys revoke NAME --rotated` deletes it once the client moved.
 */
export async function rotateClientKey(ctx: DeployContext, state: KeyState, client: string): Promise<KeyOutcome> {
  keysOf(state, client);
  const old = liveKeyOf(state, client);
  if (old === undefined) throw new UsageError(`The client "${client}" has only rotated (disabled) keys: give it a new one with npx tsx keys/index.ts create ${client}`);
  // The plan the old key is on (a key bound to none, after a half-done revoke, gets the client's plan).
  const plan = [state.stackPlan, ...state.clientPlans].find((p) => p.id === old.planIds[0]) ?? planOf(state, client);
  const changes = new Changes(ctx, "API key", clientKeyName(ctx.names, client));
  const made = await newKey(ctx, client, plan.id, changes);
  const { apigw } = ctx.clients;
  // Tagged before it is disabled: a run stopped in between leaves a key deploy will not re-enable.
  await changes.apply(`API key ${old.id} marked rotated`, "apigateway:PUT", () => apigw.send(new TagResourceCommand({ resourceArn: apiKeyArn(ctx, old.id), tags: { [ROTATED_TAG]: made!.id! } })), "tagging");
  await changes.apply(`API key ${old.id} disabled`, "apigateway:PATCH", () => apigw.send(new UpdateApiKeyCommand({ apiKey: old.id, patchOperations: [{ op: "replace", path: "/enabled", value: "false" }] })), "disabling");
  return { client, keyId: made?.id ?? "(new)", ...(made?.value ? { value: made.value } : {}), planId: plan.id, rotatedKeyId: old.id, changes: changes.list };
}
