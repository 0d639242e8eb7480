// The REST API in front of the function: found by its name and the stack's
// tag, its own settings (regional endpoint, binary media types, API keys from
// the header), then its parts in order: resources and methods
// (api-methods.ts, api-options.ts), API Gateway's own error answers
// (api-gateway-responses.ts) and the stage (api-stage.ts).
import { CreateRestApiCommand, DeleteRestApiCommand, paginateGetDeployments, paginateGetRestApis, UpdateRestApiCommand, type PatchOperation, type RestApi } from "@aws-sdk/client-api-gateway";
import { BINARY_MEDIA_TYPES } from "../../function/routes.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { STACK_TAG } from "../names.ts";
import { Changes, ignoreAbsent } from "../toolkit/index.ts";
import { deleteAuthorizers, ensureAuthorizer, findAuthorizers } from "./api-authorizer.ts";
import { reconcileGatewayResponses } from "./api-gateway-responses.ts";
import { methodSpecs, reconcileMethods, resourcePaths } from "./api-methods.ts";
import { reconcileStage, stageArn, type StageDeps } from "./api-stage.ts";

export { gatewayResponseParameters } from "./api-gateway-responses.ts";
export { integrationUri, methodSpecs, resourcePaths, type MethodSpec } from "./api-methods.ts";
export { ACCESS_LOG_FORMAT, DEFINITION_PREFIX, definitionHash, methodSettingKey, publicThrottleSettings, stageArn } from "./api-stage.ts";
export { clientPolicy, routeInvokeArn } from "./client-policy.ts";

const RESOURCE = "REST API";

export type RestApiDeps = StageDeps;

export interface RestApiOutputs {
  restApiId: string;
  endpointUrl: string;
  stageArn: string;
}

export function endpointUrl(ctx: Pick<DeployContext, "partition" | "region" | "names">, restApiId: string): string {
  const suffix = ctx.partition === "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://${restApiId}.execute-api.${ctx.region}.${suffix}/${ctx.names.stage}`;
}

const outputs = (ctx: DeployContext, restApiId: string): RestApiOutputs => ({ restApiId, endpointUrl: endpointUrl(ctx, restApiId), stageArn: stageArn(ctx, restApiId) });

/** Every API of this stack: API Gateway names are not unique, so the name and the stack's tag (set at create) decide. */
export async function findRestApis(ctx: DeployContext): Promise<RestApi[]> {
  return step("finding", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
    const found: RestApi[] = [];
    for await (const page of paginateGetRestApis({ client: ctx.clients.apigw, pageSize: 500 }, {})) {
      for (const api of page.items ?? []) if (api.name === ctx.names.restApi && api.tags?.[STACK_TAG] === ctx.names.stack) found.push(api);
    }
    return found;
  });
}

const isDeployed = async (ctx: DeployContext, api: RestApi) =>
  step("listing deployments of", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
    for await (const page of paginateGetDeployments({ client: ctx.clients.apigw, pageSize: 1 }, { restApiId: api.id })) return (page.items ?? []).length > 0;
    return false;
  });

/**
 * CreateRestApi is not idempotent: when its answer is lost, the SDK's retry of
 * the POST makes a second API of the same name and tag. Such a twin was never
 * deployed, so the APIs without a deployment other than `keep` are deleted;
 * `keep` is the one just made, else the deployed one, else the oldest. Two
 * deployed APIs are a real conflict for a person to settle.
 */
async function dropTwins(ctx: DeployContext, apis: RestApi[], changes: Changes, keepId?: string): Promise<RestApi> {
  const deployed: RestApi[] = [];
  for (const api of apis) if (api.id !== keepId && (await isDeployed(ctx, api))) deployed.push(api);
  if (deployed.length > (keepId === undefined ? 1 : 0)) {
    const ids = apis.map((a) => a.id).join(", ");
    throw new DeployError("finding", RESOURCE, ctx.names.restApi, "AmbiguousRestApi", `${apis.length} APIs (${ids}) carry this name and the tag ${STACK_TAG}=${ctx.names.stack}, and more than one is deployed: delete the extra ones (aws apigateway delete-rest-api --rest-api-id ID) and run again.`);
  }
  const byAge = [...apis].sort((a, b) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0) || String(a.id).localeCompare(String(b.id)));
  const keep = apis.find((a) => a.id === keepId) ?? deployed[0] ?? byAge[0]!;
  for (const twin of apis.filter((a) => a.id !== keep.id)) {
    await changes.apply(`undeployed duplicate ${twin.id} deleted`, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => ctx.clients.apigw.send(new DeleteRestApiCommand({ restApiId: twin.id! }))), "deleting");
  }
  return keep;
}

export async function ensureRestApi(ctx: DeployContext, deps: RestApiDeps): Promise<StepReport & RestApiOutputs> {
  const name = ctx.names.restApi;
  const changes = new Changes(ctx, RESOURCE, name);
  const found = await findRestApis(ctx);
  let api = found.length > 1 ? await dropTwins(ctx, found, changes) : found[0];
  const created = api === undefined;
  if (api === undefined) {
    // Tags go with CreateRestApi only (see reconcileStage for why never later).
    api = await changes.apply("REST API", "apigateway:POST", () =>
      ctx.clients.apigw.send(
        new CreateRestApiCommand({
          name,
          description: `imgapi image-resizing API (stack ${ctx.names.stack})`,
          endpointConfiguration: { types: ["REGIONAL"] },
          binaryMediaTypes: [...BINARY_MEDIA_TYPES],
          apiKeySource: "HEADER",
          tags: ctx.tags,
        }),
      ), "creating");
    if (api?.id === undefined) {
      const planned = `${resourcePaths().length} resources, ${methodSpecs(ctx.config).length} methods (auth ${ctx.config.auth}), stage ${ctx.names.stage}`;
      return { ...changes.report(true, planned), ...outputs(ctx, "(new)") };
    }
    const twins = await findRestApis(ctx);
    if (twins.length > 1) api = await dropTwins(ctx, twins, changes, api.id);
  }
  const restApiId = api.id!;
  if (!created) await reconcileApiSettings(ctx, api, changes);
  // auth "jwt": the authorizer first (the methods name it); otherwise the
  // methods are freed of it first, since API Gateway will not delete one in use.
  const authorizer = ctx.config.auth === "jwt" ? await ensureAuthorizer(ctx, restApiId, deps.functionArn, changes) : undefined;
  await reconcileMethods(ctx, restApiId, deps.functionArn, changes, authorizer?.id);
  const unused = authorizer?.twins ?? (await findAuthorizers(ctx, restApiId)).map((a) => a.id!);
  await deleteAuthorizers(ctx, restApiId, unused, changes);
  await reconcileGatewayResponses(ctx, restApiId, changes);
  await reconcileStage(ctx, restApiId, { ...deps, ...(authorizer?.id === undefined ? {} : { authorizerId: authorizer.id }) }, changes);
  return { ...changes.report(created, created ? undefined : changes.list.join("; ")), ...outputs(ctx, restApiId) };
}

async function reconcileApiSettings(ctx: DeployContext, api: RestApi, changes: Changes): Promise<void> {
  const ops: PatchOperation[] = [];
  const types = api.endpointConfiguration?.types ?? [];
  if (types.length !== 1 || types[0] !== "REGIONAL") ops.push({ op: "replace", path: `/endpointConfiguration/types/${types[0] ?? "EDGE"}`, value: "REGIONAL" });
  // moto ignores binaryMediaTypes on create and reports []: an empty list is
  // taken as "not reported" rather than drift, or every run would patch it.
  const reported = (api.binaryMediaTypes ?? []).filter((t) => t !== "");
  if (reported.length > 0) {
    const escape = (t: string) => t.replace(/~/g, "~0").replace(/\//g, "~1");
    for (const t of BINARY_MEDIA_TYPES) if (!reported.includes(t)) ops.push({ op: "add", path: `/binaryMediaTypes/${escape(t)}` });
    for (const t of reported) if (!(BINARY_MEDIA_TYPES as readonly string[]).includes(t)) ops.push({ op: "remove", path: `/binaryMediaTypes/${escape(t)}` });
  }
  if (api.apiKeySource !== undefined && api.apiKeySource !== "HEADER") ops.push({ op: "replace", path: "/apiKeySource", value: "HEADER" });
  if (ops.length === 0) return;
  await changes.apply(`settings (${ops.map((o) => o.path).join(", ")})`, "apigateway:PATCH", () => ctx.clients.apigw.send(new UpdateRestApiCommand({ restApiId: api.id!, patchOperations: ops })));
}

export async function removeRestApi(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.restApi;
  // Every API of the stack goes, a lost-answer twin included.
  const apis = await findRestApis(ctx);
  if (apis.length === 0) return { resource: RESOURCE, name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, name);
  for (const api of apis) {
    await changes.apply(api.id!, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => ctx.clients.apigw.send(new DeleteRestApiCommand({ restApiId: api.id! }))), "deleting");
  }
  return { resource: RESOURCE, name, action: "deleted", detail: apis.map((a) => a.id).join(", ") };
}
