// The usage plan that meters the API key on this API's stage (throttle and
// quota from config.api), the key (api-key.ts) and the link between them.
// The key's value is never printed: deploy gives its id and the command that
// reads it.
import {
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  DeleteUsagePlanCommand,
  GetUsagePlanCommand,
  paginateGetUsagePlans,
  UpdateUsagePlanCommand,
  type PatchOperation,
  type UsagePlan,
} from "@aws-sdk/client-api-gateway";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { STACK_TAG } from "../names.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";
import { boundKeyIds, deleteApiKeys, ensureApiKey, stackKeysOf } from "./api-key.ts";
import { DEFAULT_REVOKED_TAG, findClientPlans } from "./client-keys.ts";

const RESOURCE = "Usage plan + API key";

export interface UsagePlanOutputs {
  apiKeyId: string;
  usagePlanId: string;
  /** Prints the key's value; deploy shows this command, never the value. */
  apiKeyValueCommand: string;
}

export const apiKeyValueCommand = (apiKeyId: string) => `aws apigateway get-api-key --api-key ${apiKeyId} --include-value --query value --output text`;

/** What deploy reports for the default key after `keys revoke default`: there is none, on purpose. */
export const REVOKED_KEY = "(revoked: make one with npx tsx keys/index.ts create NAME)";

type Plan = UsagePlan & { id: string };

/** Every plan of this stack: its name and its stack tag (set at create). */
export async function findUsagePlans(ctx: DeployContext): Promise<Plan[]> {
  return step("finding", "usage plan", ctx.names.usagePlan, "apigateway:GET", async () => {
    const found: Plan[] = [];
    for await (const page of paginateGetUsagePlans({ client: ctx.clients.apigw, pageSize: 500 }, {})) {
      for (const p of page.items ?? []) if (p.id !== undefined && p.name === ctx.names.usagePlan && p.tags?.[STACK_TAG] === ctx.names.stack) found.push(p as Plan);
    }
    return found.sort((a, b) => a.id.localeCompare(b.id));
  });
}

/** UpdateUsagePlan operations for every field that differs (moto reports quota.limit as a string: compared as numbers). */
export function planPatch(ctx: Pick<DeployContext, "config" | "names">, plan: UsagePlan, restApiId: string): PatchOperation[] {
  const { throttle, quota } = ctx.config.api;
  const stage = ctx.names.stage;
  const ops: PatchOperation[] = [];
  if (Number(plan.throttle?.rateLimit) !== throttle.rateLimit) ops.push({ op: "replace", path: "/throttle/rateLimit", value: String(throttle.rateLimit) });
  if (Number(plan.throttle?.burstLimit) !== throttle.burstLimit) ops.push({ op: "replace", path: "/throttle/burstLimit", value: String(throttle.burstLimit) });
  if (Number(plan.quota?.limit) !== quota.limit) ops.push({ op: "replace", path: "/quota/limit", value: String(quota.limit) });
  if (plan.quota?.period !== quota.period) ops.push({ op: "replace", path: "/quota/period", value: quota.period });
  const stages = plan.apiStages ?? [];
  if (!stages.some((s) => s.apiId === restApiId && s.stage === stage)) ops.push({ op: "add", path: "/apiStages", value: `${restApiId}:${stage}` });
  // Stages of an API this stack no longer has (e.g. one deleted by hand).
  for (const s of stages) if (s.apiId !== restApiId || s.stage !== stage) ops.push({ op: "remove", path: "/apiStages", value: `${s.apiId}:${s.stage}` });
  return ops;
}

/**
 * API Gateway refuses to delete a plan still attached to stages ("Cannot
 * delete Usage Plan ... because there are API Stages associated with it",
 * aws/aws-sdk-js#3841): detached first. A detach retried after its answer was
 * lost is refused (the stages are gone already), so a refusal is checked
 * against the plan itself before it counts.
 */
export async function deletePlan(ctx: DeployContext, plan: Plan, changes: Changes, label: string): Promise<void> {
  const { apigw } = ctx.clients;
  const detach: PatchOperation[] = (plan.apiStages ?? []).map((s) => ({ op: "remove", path: "/apiStages", value: `${s.apiId}:${s.stage}` }));
  if (detach.length > 0) {
    await changes.apply(`${label} detached`, "apigateway:PATCH", async () => {
      try {
        await apigw.send(new UpdateUsagePlanCommand({ usagePlanId: plan.id, patchOperations: detach }));
      } catch (e) {
        const now = await orAbsent("apigateway", () => apigw.send(new GetUsagePlanCommand({ usagePlanId: plan.id })));
        if (now !== undefined && (now.apiStages ?? []).length > 0) throw e;
      }
    }, "detaching stages from");
  }
  await changes.apply(label, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => ctx.clients.apigw.send(new DeleteUsagePlanCommand({ usagePlanId: plan.id }))), "deleting");
}

/**
 * The stack's plan among those of its name and tag: the one with keys bound.
 * CreateUsagePlan is a POST the SDK retries: a lost answer leaves a second
 * plan, with no key bound, which is deleted. Two plans with keys are a real
 * conflict for a person to settle.
 */
async function settlePlans(ctx: DeployContext, plans: Plan[], changes: Changes, keepId?: string): Promise<Plan | undefined> {
  const withKeys: Plan[] = [];
  for (const plan of plans) if ((await boundKeyIds(ctx, plan.id)).length > 0) withKeys.push(plan);
  if (withKeys.length > 1) {
    throw new DeployError("finding", "usage plan", ctx.names.usagePlan, "AmbiguousUsagePlan", `${withKeys.length} plans (${withKeys.map((p) => p.id).join(", ")}) carry this name and the tag ${STACK_TAG}=${ctx.names.stack}, each with keys: delete the extra ones (aws apigateway delete-usage-plan --usage-plan-id ID) and run again.`);
  }
  const keep = withKeys[0] ?? plans.find((p) => p.id === keepId) ?? plans[0];
  for (const twin of plans.filter((p) => p.id !== keep?.id)) await deletePlan(ctx, twin, changes, `duplicate usage plan ${twin.id} deleted`);
  return keep;
}

export async function ensureUsagePlan(ctx: DeployContext, deps: { restApiId: string }): Promise<StepReport & UsagePlanOutputs> {
  const { apigw } = ctx.clients;
  const { usagePlan: planName, stage } = ctx.names;
  const changes = new Changes(ctx, RESOURCE, planName);
  let plan = await settlePlans(ctx, await findUsagePlans(ctx), changes);
  const planCreated = plan === undefined;
  if (plan === undefined) {
    const { throttle, quota } = ctx.config.api;
    // Tags go with the create only: the deployer may not PUT /tags (deploy/deployer-policy-services.json).
    const made = await changes.apply("usage plan", "apigateway:POST", () =>
      apigw.send(
        new CreateUsagePlanCommand({
          name: planName,
          description: `Rate and quota for the imgapi stack ${ctx.names.stack}`,
          apiStages: [{ apiId: deps.restApiId, stage }],
          throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
          quota: { limit: quota.limit, period: quota.period },
          tags: ctx.tags,
        }),
      ), "creating");
    if (made?.id !== undefined) plan = await settlePlans(ctx, await findUsagePlans(ctx), changes, made.id);
  } else {
    const ops = planPatch(ctx, plan, deps.restApiId);
    const planId = plan.id;
    if (ops.length > 0) {
      const label = `usage plan (${ops.map((o) => `${o.path}${o.op === "replace" ? "" : ` ${o.op} ${o.value}`}`).join(", ")})`;
      await changes.apply(label, "apigateway:PATCH", () => apigw.send(new UpdateUsagePlanCommand({ usagePlanId: planId, patchOperations: ops })), "updating");
    }
  }

  const revoked = plan?.tags?.[DEFAULT_REVOKED_TAG] === "revoked";
  const keys = await ensureApiKey(ctx, plan?.id, changes, { revoked });
  const keyId = keys.key?.id;
  const noKey = revoked && keyId === undefined;
  if (!keys.bound && !noKey) {
    // A lost answer: the retry is refused with ConflictException, and the binding it made is adopted.
    await changes.apply("key bound to plan", "apigateway:POST", () =>
      createOrAdopt(
        "apigateway",
        async () => (await apigw.send(new CreateUsagePlanKeyCommand({ usagePlanId: plan!.id, keyId: keyId!, keyType: "API_KEY" }))).id,
        async () => ((await boundKeyIds(ctx, plan!.id)).includes(keyId!) ? keyId : undefined),
      ), "binding the API key to");
  }
  return {
    ...changes.report(planCreated, changes.changed ? changes.list.join(", ") : undefined),
    apiKeyId: keyId ?? (noKey ? REVOKED_KEY : "(new)"),
    usagePlanId: plan?.id ?? "(new)",
    apiKeyValueCommand: apiKeyValueCommand(keyId ?? "API_KEY_ID"),
  };
}

export async function removeUsagePlan(ctx: DeployContext): Promise<StepReport> {
  const changes = new Changes(ctx, RESOURCE, ctx.names.usagePlan);
  // The clients' own plans (keys create NAME --quota) go with the stack.
  const plans = [...(await findUsagePlans(ctx)), ...(await findClientPlans(ctx))];
  // Keys are found through their plans, so before the plans go.
  const keys = await stackKeysOf(ctx, plans.map((p) => p.id));
  for (const plan of plans) await deletePlan(ctx, plan, changes, `usage plan ${plan.id}`);
  await deleteApiKeys(ctx, keys, changes);
  const deleted = [...(plans.length > 0 ? ["usage plan"] : []), ...(keys.length > 0 ? ["API key"] : [])];
  if (deleted.length === 0) return { resource: RESOURCE, name: ctx.names.usagePlan, action: "absent" };
  return { resource: RESOURCE, name: ctx.names.usagePlan, action: "deleted", detail: deleted.join(", ") };
}
