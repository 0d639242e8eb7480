// keys revoke NAME: the client's keys (or with --rotated only those a rotation
// replaced) taken off their plans and deleted; the client's own plan goes with
// its last key.
//
// Deleted rather than left disabled: a disabled key is one PATCH from working
// again (deploy used to do exactly that to the default key), while a deleted
// one cannot come back, and its value can never be read again. Taken off its
// plans first, because a key in no plan is refused by every method that
// requires a key: if the run stops between the two calls, the key is already
// useless, and running revoke again finishes the delete.
// https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteUsagePlanKey.html
// https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteApiKey.html
import { DeleteApiKeyCommand, DeleteUsagePlanKeyCommand, TagResourceCommand } from "@aws-sdk/client-api-gateway";
import { UsageError } from "../deploy/cli.ts";
import type { DeployContext } from "../deploy/context.ts";
import { clientKeyName, DEFAULT_CLIENT, DEFAULT_REVOKED_TAG, usagePlanArn } from "../deploy/resources/client-keys.ts";
import { deletePlan } from "../deploy/resources/usage-plan.ts";
import { Changes, ignoreAbsent } from "../deploy/toolkit/index.ts";
import { keysOf, type KeyState } from "./state.ts";

export interface RevokeOutcome {
  client: string;
  deletedKeyIds: string[];
  deletedPlanIds: string[];
  changes: string[];
}

export async function revokeClient(ctx: DeployContext, state: KeyState, client: string, onlyRotated: boolean): Promise<RevokeOutcome> {
  const all = keysOf(state, client);
  const doomed = onlyRotated ? all.filter((k) => k.rotatedTo !== undefined) : all;
  if (doomed.length === 0) throw new UsageError(`The client "${client}" has no rotated key to delete (its key: ${all.map((k) => k.id).join(", ")}). To revoke the client itself: npx tsx keys/index.ts revoke ${client}`);
  const { apigw } = ctx.clients;
  const changes = new Changes(ctx, "API key", clientKeyName(ctx.names, client));
  if (!onlyRotated && client === DEFAULT_CLIENT) {
    // The mark that stops deploy from making a new default key (deploy/resources/usage-plan.ts),
    // set first: a run stopped half-way must not leave deploy free to recreate it.
    await changes.apply("stack plan marked: default key revoked", "apigateway:PUT", () =>
      apigw.send(new TagResourceCommand({ resourceArn: usagePlanArn(ctx, state.stackPlan.id), tags: { [DEFAULT_REVOKED_TAG]: "revoked" } })), "tagging");
  }
  for (const key of doomed) {
    for (const usagePlanId of key.planIds) {
      await changes.apply(`API key ${key.id} off plan ${usagePlanId}`, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => apigw.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId: key.id }))), "unbinding");
    }
    await changes.apply(`API key ${key.id} deleted`, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => apigw.send(new DeleteApiKeyCommand({ apiKey: key.id }))), "deleting");
  }
  const deletedPlanIds: string[] = [];
  if (!onlyRotated) {
    for (const plan of state.clientPlans.filter((p) => doomed.some((k) => k.planIds.includes(p.id)))) {
      await deletePlan(ctx, plan, changes, `usage plan ${plan.id} deleted`);
      deletedPlanIds.push(plan.id);
    }
  }
  return { client, deletedKeyIds: doomed.map((k) => k.id), deletedPlanIds, changes: changes.list };
}
