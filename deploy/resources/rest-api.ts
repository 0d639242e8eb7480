// The REST API in front of the function: resources and methods built from the
// ROUTES table (never listed here), each an AWS_PROXY integration to the
// function, guarded as methodAuth says for config.auth (an API key, or SigV4
// with AWS_IAM, on private routes; nothing on public ones, whose signed URLs
// the handler checks); OPTIONS everywhere without a key (the handler answers
// preflight); CORS headers on API Gateway's own 4xx/5xx; a stage with JSON
// access logs, a throttle, and a throttle of its own for each public route. A
// deployment is created only when the definition changed: its hash is kept in
// the deployment's description and compared with the one the stage serves.
import { createHash } from "node:crypto";
import {
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  CreateStageCommand,
  DeleteMethodCommand,
  DeleteResourceCommand,
  DeleteRestApiCommand,
  GetGatewayResponsesCommand,
  GetIntegrationCommand,
  GetStageCommand,
  paginateGetDeployments,
  paginateGetResources,
  paginateGetRestApis,
  PutGatewayResponseCommand,
  PutIntegrationCommand,
  PutMethodCommand,
  TagResourceCommand,
  UpdateRestApiCommand,
  UpdateStageCommand,
  type Integration,
  type Method,
  type PatchOperation,
  type Resource,
  type RestApi,
  type Stage,
} from "@aws-sdk/client-api-gateway";
import type { Config } from "../../config/schema.ts";
import { BINARY_MEDIA_TYPES, methodAuth, ROUTES, type AuthMode, type Route } from "../../function/routes.ts";
import { corsHeaders } from "../../function/http/response.ts";
import { arn } from "../arns.ts";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { DeployError, errorName, isNotFound, step } from "../errors.ts";
import { STACK_TAG } from "../names.ts";
import type { PolicyDocument } from "../policies/document.ts";

const RESOURCE = "REST API";
/** The tag that marks an API as this stack's: API Gateway names are not unique. */
export const DEFINITION_PREFIX = "imgapi definition sha256:";

/** One JSON line per request; no user agent or error message, which may hold quotes. */
export const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  extendedRequestId: "$context.extendedRequestId",
  requestTime: "$context.requestTime",
  ip: "$context.identity.sourceIp",
  apiKeyId: "$context.identity.apiKeyId",
  httpMethod: "$context.httpMethod",
  resourcePath: "$context.resourcePath",
  path: "$context.path",
  protocol: "$context.protocol",
  status: "$context.status",
  errorType: "$context.error.responseType",
  responseLength: "$context.responseLength",
  responseLatency: "$context.responseLatency",
  integrationLatency: "$context.integration.latency",
  integrationStatus: "$context.integration.status",
});

export interface RestApiDeps {
  functionArn: string;
  accessLogGroupArn: string;
}

export interface RestApiOutputs {
  restApiId: string;
  endpointUrl: string;
  stageArn: string;
}

export interface MethodSpec {
  path: string;
  httpMethod: string;
  apiKeyRequired: boolean;
  authorizationType: "NONE" | "AWS_IAM";
}

/** Every resource path the routes need, parents before children ("/" excluded). */
export function resourcePaths(routes: readonly Route[] = ROUTES): string[] {
  const paths = new Set<string>();
  for (const route of routes) {
    const parts = route.resource.split("/").filter((p) => p !== "");
    for (let i = 1; i <= parts.length; i++) paths.add(`/${parts.slice(0, i).join("/")}`);
  }
  return [...paths].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
}

/**
 * Each route's method, guarded as methodAuth says for the auth mode, plus
 * OPTIONS (no key, no signature: browsers send neither on preflight) on every resource.
 */
export function methodSpecs(mode: AuthMode, routes: readonly Route[] = ROUTES): MethodSpec[] {
  const specs: MethodSpec[] = routes.map((r) => ({ path: r.resource, httpMethod: r.method, ...methodAuth(r, mode) }));
  for (const path of resourcePaths(routes)) specs.push({ path, httpMethod: "OPTIONS", apiKeyRequired: false, authorizationType: "NONE" });
  return specs.sort((a, b) => `${a.path} ${a.httpMethod}`.localeCompare(`${b.path} ${b.httpMethod}`));
}

export function integrationUri(ctx: Pick<DeployContext, "partition" | "region">, functionArn: string): string {
  return `arn:${ctx.partition}:apigateway:${ctx.region}:lambda:path/2015-03-31/functions/${functionArn}/invocations`;
}

/**
 * API Gateway's own errors (403 missing key, 429 throttled, 5xx) never reach
 * the handler, so they get the CORS headers here, or a browser could not read
 * them. Header values are static: "*", or the single configured origin; with
 * several origins none can be chosen, so only Vary is sent.
 */
export function gatewayResponseParameters(config: Pick<Config, "cors">): Record<string, string> {
  const origins = config.cors.origins;
  const single = origins.includes("*") ? "*" : origins.length === 1 ? origins[0] : undefined;
  const headers = corsHeaders(single, origins);
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [`gatewayresponse.header.${k}`, `'${v}'`]));
}

const GATEWAY_RESPONSE_TYPES = ["DEFAULT_4XX", "DEFAULT_5XX"] as const;

/** A hash of everything a deployment snapshots: when it is unchanged, the stage already serves it. */
export function definitionHash(ctx: Pick<DeployContext, "partition" | "region" | "config">, functionArn: string): string {
  const definition = {
    binaryMediaTypes: [...BINARY_MEDIA_TYPES],
    // Key order as before auth modes existed, so an apiKey stack's hash (and deployment) is unchanged by the upgrade.
    methods: methodSpecs(ctx.config.auth).map(({ path, httpMethod, apiKeyRequired, authorizationType }) => ({
      path,
      httpMethod,
      apiKeyRequired,
      authorizationType,
      integration: { type: "AWS_PROXY", httpMethod: "POST", uri: integrationUri(ctx, functionArn) },
    })),
    gatewayResponses: Object.fromEntries(GATEWAY_RESPONSE_TYPES.map((t) => [t, gatewayResponseParameters(ctx.config)])),
  };
  return createHash("sha256").update(JSON.stringify(definition)).digest("hex");
}

/** execute-api:Invoke's resource for one route of this API's stage: arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/path, each {param} a "*". */
export function routeInvokeArn(ctx: Pick<DeployContext, "partition" | "region" | "account" | "names">, restApiId: string, route: Pick<Route, "method" | "resource">): string {
  return arn(ctx, "execute-api", `${restApiId}/${ctx.names.stage}/${route.method}${route.resource.replace(/\{[^}]+\}/g, "*")}`);
}

/**
 * What an IAM identity needs to call this API in "iam" mode, and no more:
 * execute-api:Invoke on exactly its private routes, on this stage. Public
 * routes and OPTIONS need no signature, so they are not listed.
 */
export function clientPolicy(ctx: Pick<DeployContext, "partition" | "region" | "account" | "names">, restApiId: string, routes: readonly Route[] = ROUTES): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "InvokeImageApi",
        Effect: "Allow",
        Action: "execute-api:Invoke",
        Resource: routes.filter((r) => r.access === "private").map((r) => routeInvokeArn(ctx, restApiId, r)),
      },
    ],
  };
}

export function endpointUrl(ctx: Pick<DeployContext, "partition" | "region" | "names">, restApiId: string): string {
  const suffix = ctx.partition === "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://${restApiId}.execute-api.${ctx.region}.${suffix}/${ctx.names.stage}`;
}

export function stageArn(ctx: Pick<DeployContext, "partition" | "region" | "names">, restApiId: string): string {
  return `arn:${ctx.partition}:apigateway:${ctx.region}::/restapis/${restApiId}/stages/${ctx.names.stage}`;
}

function outputs(ctx: DeployContext, restApiId: string): RestApiOutputs {
  return { restApiId, endpointUrl: endpointUrl(ctx, restApiId), stageArn: stageArn(ctx, restApiId) };
}

/** Every API of this stack: its name and its stack tag. */
async function findRestApis(ctx: DeployContext): Promise<RestApi[]> {
  const name = ctx.names.restApi;
  return step("finding", RESOURCE, name, "apigateway:GET", async () => {
    const found: RestApi[] = [];
    for await (const page of paginateGetRestApis({ client: ctx.clients.apigw, pageSize: 500 }, {})) {
      for (const api of page.items ?? []) if (api.name === name && api.tags?.[STACK_TAG] === ctx.names.stack) found.push(api);
    }
    return found;
  });
}

function ambiguous(ctx: DeployContext, apis: RestApi[]): DeployError {
  const ids = apis.map((a) => a.id).join(", ");
  return new DeployError("finding", RESOURCE, ctx.names.restApi, "AmbiguousRestApi", `${apis.length} APIs (${ids}) carry this name and the tag ${STACK_TAG}=${ctx.names.stack}: delete the extra ones (aws apigateway delete-rest-api --rest-api-id ID) and run again.`);
}

export async function findRestApi(ctx: DeployContext): Promise<RestApi | undefined> {
  const matches = await findRestApis(ctx);
  if (matches.length > 1) throw ambiguous(ctx, matches);
  return matches[0];
}

/**
 * CreateRestApi is not idempotent: when its answer is lost, the SDK's retry of
 * the POST makes a second API of the same name. Such a twin was never deployed
 * (the run stopped right after), so the duplicates without a deployment are
 * deleted and the deployed (or else the oldest) one is kept. Two deployed APIs
 * are a real conflict for a person to settle.
 */
async function dropUndeployedTwins(ctx: DeployContext, apis: RestApi[]): Promise<RestApi> {
  const deployed: RestApi[] = [];
  for (const api of apis) {
    const page = await step("listing deployments of", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
      for await (const p of paginateGetDeployments({ client: ctx.clients.apigw }, { restApiId: api.id })) return p.items ?? [];
      return [];
    });
    if (page.length > 0) deployed.push(api);
  }
  if (deployed.length > 1) throw ambiguous(ctx, deployed);
  const byAge = [...apis].sort((a, b) => (a.createdDate?.getTime() ?? 0) - (b.createdDate?.getTime() ?? 0) || String(a.id).localeCompare(String(b.id)));
  const keep = deployed[0] ?? byAge[0]!;
  for (const twin of apis.filter((a) => a.id !== keep.id)) {
    await mutate(ctx, () =>
      step("deleting an undeployed duplicate of", RESOURCE, ctx.names.restApi, "apigateway:DELETE", async () => {
        try {
          await ctx.clients.apigw.send(new DeleteRestApiCommand({ restApiId: twin.id! }));
        } catch (e) {
          if (!isNotFound(e, "NotFoundException")) throw e;
        }
      }),
    );
  }
  return keep;
}

/** Records what changed and sends the call unless this is a dry run. */
class Changes {
  readonly list: string[] = [];
  constructor(private readonly ctx: DeployContext) {}
  async apply<T>(label: string, permission: string, call: () => Promise<T>): Promise<T | undefined> {
    this.list.push(label);
    return mutate(this.ctx, () => step(`applying ${label} to`, RESOURCE, this.ctx.names.restApi, permission, call));
  }
}

export async function ensureRestApi(ctx: DeployContext, deps: RestApiDeps): Promise<StepReport & RestApiOutputs> {
  const name = ctx.names.restApi;
  const matches = await findRestApis(ctx);
  let api = matches.length > 1 ? await dropUndeployedTwins(ctx, matches) : matches[0];
  let created = false;
  if (api === undefined) {
    created = true;
    api = await mutate(ctx, () =>
      step("creating", RESOURCE, name, "apigateway:POST", () =>
        ctx.clients.apigw.send(
          new CreateRestApiCommand({
            name,
            description: `imgapi image-resizing API (stack ${ctx.names.stack})`,
            endpointConfiguration: { types: ["REGIONAL"] },
            binaryMediaTypes: [...BINARY_MEDIA_TYPES],
            apiKeySource: "HEADER",
            tags: ctx.tags,
          }),
        ),
      ),
    );
    if (api?.id === undefined) {
      const planned = `${resourcePaths().length} resources, ${methodSpecs(ctx.config.auth).length} methods (auth ${ctx.config.auth}), stage ${ctx.names.stage}`;
      return { resource: RESOURCE, name, action: "created", detail: planned, ...outputs(ctx, "(new)") };
    }
  }
  const restApiId = api.id!;
  const changes = new Changes(ctx);
  if (!created) await reconcileApiSettings(ctx, api, changes);
  await reconcileMethods(ctx, restApiId, deps.functionArn, changes);
  await reconcileGatewayResponses(ctx, restApiId, changes);
  await reconcileStage(ctx, restApiId, deps, changes);

  const action = created ? "created" : changes.list.length > 0 ? "updated" : "unchanged";
  return { resource: RESOURCE, name, action, ...(changes.list.length > 0 && !created ? { detail: changes.list.join("; ") } : {}), ...outputs(ctx, restApiId) };
}

async function reconcileApiSettings(ctx: DeployContext, api: RestApi, changes: Changes): Promise<void> {
  const restApiId = api.id!;
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
  if (ops.length > 0) {
    await changes.apply(`settings (${ops.map((o) => o.path).join(", ")})`, "apigateway:PATCH", () => ctx.clients.apigw.send(new UpdateRestApiCommand({ restApiId, patchOperations: ops })));
  }
  const missingTags = Object.fromEntries(Object.entries(ctx.tags).filter(([k, v]) => api.tags?.[k] !== v));
  if (Object.keys(missingTags).length > 0) {
    const resourceArn = `arn:${ctx.partition}:apigateway:${ctx.region}::/restapis/${restApiId}`;
    await changes.apply("tags", "apigateway:PUT", () => ctx.clients.apigw.send(new TagResourceCommand({ resourceArn, tags: missingTags })));
  }
}

async function getResources(ctx: DeployContext, restApiId: string): Promise<Resource[]> {
  return step("reading resources of", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
    const items: Resource[] = [];
    for await (const page of paginateGetResources({ client: ctx.clients.apigw, pageSize: 500 }, { restApiId, embed: ["methods"] })) items.push(...(page.items ?? []));
    return items;
  });
}

const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";

async function reconcileMethods(ctx: DeployContext, restApiId: string, functionArn: string, changes: Changes): Promise<void> {
  const { apigw } = ctx.clients;
  const resources = await getResources(ctx, restApiId);
  const byPath = new Map(resources.map((r) => [r.path!, r]));
  const wanted = new Set(resourcePaths());

  // Resources no route needs any more (the topmost of each stale branch).
  for (const r of resources) {
    if (r.path === "/" || wanted.has(r.path!)) continue;
    const parent = parentOf(r.path!);
    if (parent !== "/" && !wanted.has(parent)) continue;
    await changes.apply(`delete resource ${r.path}`, "apigateway:DELETE", () => apigw.send(new DeleteResourceCommand({ restApiId, resourceId: r.id! })));
  }
  for (const path of wanted) {
    if (byPath.has(path)) continue;
    const parentId = byPath.get(parentOf(path))?.id;
    const made = await changes.apply(`resource ${path}`, "apigateway:POST", () =>
      apigw.send(new CreateResourceCommand({ restApiId, parentId: parentId!, pathPart: path.slice(path.lastIndexOf("/") + 1) })),
    );
    // In a dry run nothing is made: the planned resource has no id, and no methods.
    byPath.set(path, made ?? { path });
  }

  const uri = integrationUri(ctx, functionArn);
  const specs = methodSpecs(ctx.config.auth);
  for (const path of wanted) {
    const resource = byPath.get(path)!;
    const actual: Record<string, Method> = resource.resourceMethods ?? {};
    for (const httpMethod of Object.keys(actual)) {
      if (specs.some((s) => s.path === path && s.httpMethod === httpMethod)) continue;
      await changes.apply(`delete method ${httpMethod} ${path}`, "apigateway:DELETE", () => apigw.send(new DeleteMethodCommand({ restApiId, resourceId: resource.id!, httpMethod })));
    }
    for (const spec of specs.filter((s) => s.path === path)) {
      await reconcileMethod(ctx, restApiId, resource, spec, actual[spec.httpMethod], uri, changes);
    }
  }
}

async function reconcileMethod(ctx: DeployContext, restApiId: string, resource: Resource, spec: MethodSpec, actual: Method | undefined, uri: string, changes: Changes): Promise<void> {
  const { apigw } = ctx.clients;
  const label = `${spec.httpMethod} ${spec.path}`;
  const resourceId = resource.id!;
  const putIntegration = () =>
    apigw.send(new PutIntegrationCommand({ restApiId, resourceId, httpMethod: spec.httpMethod, type: "AWS_PROXY", integrationHttpMethod: "POST", uri }));

  // A method reported without apiKeyRequired does not require a key.
  if (actual !== undefined && ((actual.apiKeyRequired ?? false) !== spec.apiKeyRequired || actual.authorizationType !== spec.authorizationType)) {
    // Recreated rather than patched: a method is not live until the next
    // deployment, so this is as safe as UpdateMethod, and it is the same path
    // as a first create (moto has no UpdateMethod).
    await changes.apply(`delete method ${label} (apiKeyRequired/authorizationType drifted)`, "apigateway:DELETE", () => apigw.send(new DeleteMethodCommand({ restApiId, resourceId, httpMethod: spec.httpMethod })));
    actual = undefined;
  }
  if (actual === undefined) {
    await changes.apply(`method ${label}`, "apigateway:PUT", () =>
      apigw.send(new PutMethodCommand({ restApiId, resourceId, httpMethod: spec.httpMethod, authorizationType: spec.authorizationType, apiKeyRequired: spec.apiKeyRequired })),
    );
    await changes.apply(`integration ${label}`, "apigateway:PUT", putIntegration);
    return;
  }
  const integration = actual.methodIntegration ?? (await getIntegration(ctx, restApiId, resourceId, spec.httpMethod));
  if (integration === undefined || integration.type !== "AWS_PROXY" || integration.httpMethod !== "POST" || integration.uri !== uri) {
    await changes.apply(`integration ${label}`, "apigateway:PUT", putIntegration);
  }
}

async function getIntegration(ctx: DeployContext, restApiId: string, resourceId: string, httpMethod: string): Promise<Integration | undefined> {
  return step("reading integrations of", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
    try {
      return await ctx.clients.apigw.send(new GetIntegrationCommand({ restApiId, resourceId, httpMethod }));
    } catch (e) {
      if (isNotFound(e, "NotFoundException")) return undefined;
      throw e;
    }
  });
}

async function reconcileGatewayResponses(ctx: DeployContext, restApiId: string, changes: Changes): Promise<void> {
  const current = await step("reading gateway responses of", RESOURCE, ctx.names.restApi, "apigateway:GET", () =>
    ctx.clients.apigw.send(new GetGatewayResponsesCommand({ restApiId, limit: 500 })),
  );
  const desired = gatewayResponseParameters(ctx.config);
  for (const responseType of GATEWAY_RESPONSE_TYPES) {
    const actual = current.items?.find((g) => g.responseType === responseType)?.responseParameters ?? {};
    const same = Object.keys(actual).length === Object.keys(desired).length && Object.entries(desired).every(([k, v]) => actual[k] === v);
    if (same) continue;
    await changes.apply(`gateway response ${responseType}`, "apigateway:PUT", () =>
      ctx.clients.apigw.send(new PutGatewayResponseCommand({ restApiId, responseType, responseParameters: desired })),
    );
  }
}

async function getStage(ctx: DeployContext, restApiId: string): Promise<Stage | undefined> {
  return step("reading stage of", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
    try {
      return await ctx.clients.apigw.send(new GetStageCommand({ restApiId, stageName: ctx.names.stage }));
    } catch (e) {
      if (isNotFound(e, "NotFoundException")) return undefined;
      throw e;
    }
  });
}

/**
 * A method's key in the stage's methodSettings: its resource path with "/"
 * escaped as "~1" (JSON Pointer, as every patch path), then the HTTP method:
 * "~1public~1images~1{id}~1{size}/GET". The patch path of one of its settings
 * is "/" + key + "/throttling/rateLimit". See "MethodSetting ResourcePath" in
 * the API Gateway and CloudFormation references.
 */
export function methodSettingKey(route: Pick<Route, "method" | "resource">): string {
  return `${route.resource.replace(/~/g, "~0").replace(/\//g, "~1")}/${route.method}`;
}

/**
 * Public routes carry no API key, so no usage plan meters them: each gets a
 * stage throttle of its own (config.api.publicThrottle), which replaces the
 * stage-wide one for that method, so anonymous traffic through signed URLs is
 * bounded on its own terms.
 */
export function publicThrottleSettings(config: Pick<Config, "api">, routes: readonly Route[] = ROUTES): Record<string, { rateLimit: number; burstLimit: number }> {
  const { rateLimit, burstLimit } = config.api.publicThrottle;
  return Object.fromEntries(routes.filter((r) => r.access === "public").map((r) => [methodSettingKey(r), { rateLimit, burstLimit }]));
}

/** The stage's settings that differ from the desired ones, as UpdateStage patch operations. */
function stagePatch(ctx: DeployContext, stage: Stage | undefined, deps: RestApiDeps): PatchOperation[] {
  // A log group ARN as DescribeLogGroups gives it ends in ":*", which API Gateway refuses.
  const destinationArn = deps.accessLogGroupArn.replace(/:\*$/, "");
  const { rateLimit, burstLimit } = ctx.config.api.throttle;
  const all = stage?.methodSettings?.["*/*"];
  const ops: PatchOperation[] = [];
  if (stage?.accessLogSettings?.destinationArn !== destinationArn) ops.push({ op: "replace", path: "/accessLogSettings/destinationArn", value: destinationArn });
  if (stage?.accessLogSettings?.format !== ACCESS_LOG_FORMAT) ops.push({ op: "replace", path: "/accessLogSettings/format", value: ACCESS_LOG_FORMAT });
  // The stage-wide throttle also covers OPTIONS, which no usage plan meters.
  if (Number(all?.throttlingRateLimit) !== rateLimit) ops.push({ op: "replace", path: "/*/*/throttling/rateLimit", value: String(rateLimit) });
  if (Number(all?.throttlingBurstLimit) !== burstLimit) ops.push({ op: "replace", path: "/*/*/throttling/burstLimit", value: String(burstLimit) });
  // The setting of a method no route has any more is not removed: nothing
  // calls that method, and moto ignores "remove" on method settings, so the
  // removal could not be proved here.
  for (const [key, limits] of Object.entries(publicThrottleSettings(ctx.config))) {
    const actual = stage?.methodSettings?.[key];
    if (Number(actual?.throttlingRateLimit) !== limits.rateLimit) ops.push({ op: "replace", path: `/${key}/throttling/rateLimit`, value: String(limits.rateLimit) });
    if (Number(actual?.throttlingBurstLimit) !== limits.burstLimit) ops.push({ op: "replace", path: `/${key}/throttling/burstLimit`, value: String(limits.burstLimit) });
  }
  return ops;
}

async function reconcileStage(ctx: DeployContext, restApiId: string, deps: RestApiDeps, changes: Changes): Promise<void> {
  const { apigw } = ctx.clients;
  const stageName = ctx.names.stage;
  const description = `${DEFINITION_PREFIX}${definitionHash(ctx, deps.functionArn)}`;
  const stage = await getStage(ctx, restApiId);
  const deployments = await step("reading deployments of", RESOURCE, ctx.names.restApi, "apigateway:GET", async () => {
    const items: { id?: string; description?: string }[] = [];
    for await (const page of paginateGetDeployments({ client: apigw, pageSize: 500 }, { restApiId })) items.push(...(page.items ?? []));
    return items;
  });
  const served = deployments.find((d) => d.id === stage?.deploymentId);
  let deploymentId = stage?.deploymentId;
  if (served?.description !== description) {
    // Deployments are only made once the definition is in place, so one
    // carrying this hash snapshots exactly this definition: one left by an
    // interrupted run is reused rather than duplicated.
    const reusable = deployments.find((d) => d.description === description);
    if (reusable !== undefined) {
      deploymentId = reusable.id;
    } else {
      const made = await changes.apply("deployment", "apigateway:POST", () => apigw.send(new CreateDeploymentCommand({ restApiId, description })));
      deploymentId = made?.id;
    }
  }

  const ops = stagePatch(ctx, stage, deps);
  if (stage === undefined) {
    await changes.apply(`stage ${stageName}`, "apigateway:POST", () => apigw.send(new CreateStageCommand({ restApiId, stageName, deploymentId: deploymentId!, tags: ctx.tags })));
  } else if (deploymentId !== stage.deploymentId) {
    ops.unshift({ op: "replace", path: "/deploymentId", value: deploymentId });
  }
  if (ops.length > 0) {
    const label = stage === undefined ? `stage ${stageName} settings` : `stage ${stageName} (${ops.map((o) => o.path).join(", ")})`;
    await changes.apply(label, "apigateway:PATCH", () => updateStage(ctx, restApiId, ops));
  }
  const missingTags = Object.fromEntries(Object.entries(ctx.tags).filter(([k, v]) => stage !== undefined && stage.tags?.[k] !== v));
  if (Object.keys(missingTags).length > 0) {
    await changes.apply(`stage ${stageName} tags`, "apigateway:PUT", () => apigw.send(new TagResourceCommand({ resourceArn: stageArn(ctx, restApiId), tags: missingTags })));
  }
}

async function updateStage(ctx: DeployContext, restApiId: string, patchOperations: PatchOperation[]) {
  try {
    return await ctx.clients.apigw.send(new UpdateStageCommand({ restApiId, stageName: ctx.names.stage, patchOperations }));
  } catch (e) {
    if (errorName(e) === "BadRequestException" && /role ARN must be set/i.test((e as Error).message ?? "")) {
      throw new DeployError("updating stage of", RESOURCE, ctx.names.restApi, "CloudWatchRoleNotSet", "API Gateway needs the account's CloudWatch Logs role before access logs can be enabled: run ensureApiGatewayAccount (deploy does it first), then run again.", { cause: e });
    }
    throw e;
  }
}

export async function removeRestApi(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.restApi;
  // Every API of the stack goes, a lost-answer twin included.
  const apis = await findRestApis(ctx);
  if (apis.length === 0) return { resource: RESOURCE, name, action: "absent" };
  for (const api of apis) {
    await mutate(ctx, () =>
      step("deleting", RESOURCE, name, "apigateway:DELETE", async () => {
        try {
          await ctx.clients.apigw.send(new DeleteRestApiCommand({ restApiId: api.id! }));
        } catch (e) {
          if (!isNotFound(e, "NotFoundException")) throw e;
        }
      }),
    );
  }
  return { resource: RESOURCE, name, action: "deleted", detail: apis.map((a) => a.id).join(", ") };
}
