// The API key callers send in x-api-key, the usage plan that meters it on this
// API's stage (throttle and quota from config.api), and the link between them.
// The key's value is never printed: deploy gives its id and the command that
// reads it.
import {
  CreateApiKeyCommand,
  CreateUsagePlanCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanCommand,
  paginateGetApiKeys,
  paginateGetUsagePlanKeys,
  paginateGetUsagePlans,
  TagResourceCommand,
  UpdateApiKeyCommand,
  UpdateUsagePlanCommand,
  type ApiKey,
  type PatchOperation,
  type UsagePlan,
} from "@aws-sdk/client-api-gateway";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { DeployError, isNotFound, step } from "../errors.ts";
import { STACK_TAG } from "../names.ts";

const RESOURCE = "Usage plan + API key";

export interface UsagePlanOutputs {
  apiKeyId: string;
  usagePlanId: string;
  /** Prints the key's value; deploy shows this command, never the value. */
  apiKeyValueCommand: string;
}

export const apiKeyValueCommand = (apiKeyId: string) => `aws apigateway get-api-key --api-key ${apiKeyId} --include-value --query value --output text`;

const ours = (ctx: DeployContext, item: { name?: string; tags?: Record<string, string> }, name: string) => item.name === name && item.tags?.[STACK_TAG] === ctx.names.stack;

function single<T extends { id?: string }>(ctx: DeployContext, kind: string, name: string, found: T[]): T | undefined {
  if (found.length > 1) {
    throw new DeployError("finding", kind, name, "Ambiguous", `${found.length} of them (${found.map((f) => f.id).join(", ")}) carry this name and the tag ${STACK_TAG}=${ctx.names.stack}: delete the extra ones and run again.`);
  }
  return found[0];
}

export async function findApiKey(ctx: DeployContext): Promise<ApiKey | undefined> {
  const name = ctx.names.apiKey;
  const found = await step("finding", "API key", name, "apigateway:GET", async () => {
    const items: ApiKey[] = [];
    // nameQuery matches by prefix: the exact name and our tag decide.
    for await (const page of paginateGetApiKeys({ client: ctx.clients.apigw, pageSize: 500 }, { nameQuery: name, includeValues: false })) {
      items.push(...(page.items ?? []).filter((k) => ours(ctx, k, name)));
    }
    return items;
  });
  return single(ctx, "API key", name, found);
}

export async function findUsagePlan(ctx: DeployContext): Promise<UsagePlan | undefined> {
  const name = ctx.names.usagePlan;
  const found = await step("finding", "usage plan", name, "apigateway:GET", async () => {
    const items: UsagePlan[] = [];
    for await (const page of paginateGetUsagePlans({ client: ctx.clients.apigw, pageSize: 500 }, {})) items.push(...(page.items ?? []).filter((p) => ours(ctx, p, name)));
    return items;
  });
  return single(ctx, "usage plan", name, found);
}

/** UpdateUsagePlan operations for every field that differs (moto reports quota.limit as a string: compared as numbers). */
function planPatch(ctx: DeployContext, plan: UsagePlan, restApiId: string): PatchOperation[] {
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

export async function ensureUsagePlan(ctx: DeployContext, deps: { restApiId: string }): Promise<StepReport & UsagePlanOutputs> {
  const { apigw } = ctx.clients;
  const { apiKey: keyName, usagePlan: planName, stage } = ctx.names;
  const changes: string[] = [];
  const apply = async <T>(label: string, what: string, permission: string, call: () => Promise<T>) => {
    changes.push(label);
    return mutate(ctx, () => step(what, RESOURCE, planName, permission, call));
  };

  let key = await findApiKey(ctx);
  const keyCreated = key === undefined;
  if (key === undefined) {
    key = await apply("API key created", "creating API key for", "apigateway:POST", () =>
      apigw.send(new CreateApiKeyCommand({ name: keyName, description: `x-api-key for the imgapi stack ${ctx.names.stack}`, enabled: true, tags: ctx.tags })),
    );
  } else {
    const keyId = key.id!;
    if (key.enabled !== true) {
      await apply("API key enabled", "enabling API key of", "apigateway:PATCH", () => apigw.send(new UpdateApiKeyCommand({ apiKey: keyId, patchOperations: [{ op: "replace", path: "/enabled", value: "true" }] })));
    }
    const missing = Object.fromEntries(Object.entries(ctx.tags).filter(([k, v]) => key?.tags?.[k] !== v));
    if (Object.keys(missing).length > 0) {
      const resourceArn = `arn:${ctx.partition}:apigateway:${ctx.region}::/apikeys/${keyId}`;
      await apply("API key tags", "tagging API key of", "apigateway:PUT", () => apigw.send(new TagResourceCommand({ resourceArn, tags: missing })));
    }
  }

  let plan = await findUsagePlan(ctx);
  const planCreated = plan === undefined;
  if (plan === undefined) {
    const { throttle, quota } = ctx.config.api;
    plan = await apply("usage plan created", "creating", "apigateway:POST", () =>
      apigw.send(
        new CreateUsagePlanCommand({
          name: planName,
          description: `Rate and quota for the imgapi stack ${ctx.names.stack}`,
          apiStages: [{ apiId: deps.restApiId, stage }],
          throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
          quota: { limit: quota.limit, period: quota.period },
          tags: ctx.tags,
        }),
      ),
    );
  } else {
    const planId = plan.id!;
    const ops = planPatch(ctx, plan, deps.restApiId);
    if (ops.length > 0) {
      await apply(`usage plan (${ops.map((o) => `${o.path}${o.op === "replace" ? "" : ` ${o.op} ${o.value}`}`).join(", ")})`, "updating", "apigateway:PATCH", () =>
        apigw.send(new UpdateUsagePlanCommand({ usagePlanId: planId, patchOperations: ops })),
      );
    }
  }

  const keyId = key?.id;
  const planId = plan?.id;
  const bound = keyCreated || planCreated || keyId === undefined || planId === undefined ? false : await isKeyBound(ctx, planId, keyId);
  if (!bound) {
    await apply("key bound to plan", "binding API key to", "apigateway:POST", () => apigw.send(new CreateUsagePlanKeyCommand({ usagePlanId: planId!, keyId: keyId!, keyType: "API_KEY" })));
  }

  return {
    resource: RESOURCE,
    name: planName,
    action: planCreated ? "created" : changes.length > 0 ? "updated" : "unchanged",
    ...(changes.length > 0 ? { detail: changes.join(", ") } : {}),
    apiKeyId: keyId ?? "(new)",
    usagePlanId: planId ?? "(new)",
    apiKeyValueCommand: apiKeyValueCommand(keyId ?? "API_KEY_ID"),
  };
}

async function isKeyBound(ctx: DeployContext, usagePlanId: string, keyId: string): Promise<boolean> {
  return step("reading keys of", RESOURCE, ctx.names.usagePlan, "apigateway:GET", async () => {
    for await (const page of paginateGetUsagePlanKeys({ client: ctx.clients.apigw, pageSize: 500 }, { usagePlanId })) {
      if ((page.items ?? []).some((k) => k.id === keyId)) return true;
    }
    return false;
  });
}

export async function removeUsagePlan(ctx: DeployContext): Promise<StepReport> {
  const { apigw } = ctx.clients;
  const deleted: string[] = [];
  const plan = await findUsagePlan(ctx);
  if (plan?.id !== undefined) {
    const usagePlanId = plan.id;
    // API Gateway refuses to delete a plan still attached to stages.
    const detach: PatchOperation[] = (plan.apiStages ?? []).map((s) => ({ op: "remove", path: "/apiStages", value: `${s.apiId}:${s.stage}` }));
    if (detach.length > 0) {
      await mutate(ctx, () => step("detaching stages from", RESOURCE, ctx.names.usagePlan, "apigateway:PATCH", () => apigw.send(new UpdateUsagePlanCommand({ usagePlanId, patchOperations: detach }))));
    }
    await mutate(ctx, () => step("deleting", RESOURCE, ctx.names.usagePlan, "apigateway:DELETE", () => ignoreNotFound(apigw.send(new DeleteUsagePlanCommand({ usagePlanId })))));
    deleted.push("usage plan");
  }
  const key = await findApiKey(ctx);
  if (key?.id !== undefined) {
    const apiKey = key.id;
    await mutate(ctx, () => step("deleting API key of", RESOURCE, ctx.names.usagePlan, "apigateway:DELETE", () => ignoreNotFound(apigw.send(new DeleteApiKeyCommand({ apiKey })))));
    deleted.push("API key");
  }
  if (deleted.length === 0) return { resource: RESOURCE, name: ctx.names.usagePlan, action: "absent" };
  return { resource: RESOURCE, name: ctx.names.usagePlan, action: "deleted", detail: deleted.join(", ") };
}

async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (e) {
    if (!isNotFound(e, "NotFoundException")) throw e;
  }
}
