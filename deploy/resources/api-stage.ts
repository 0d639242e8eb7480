// The API's stage: the deployment it serves, JSON access logs, a throttle for
// the whole stage and one of its own for each public route. A deployment is
// made only when the definition changed: its hash is kept in the
// deployment's description and compared with the one the stage serves.
import {
  CreateDeploymentCommand,
  CreateStageCommand,
  DeleteDeploymentCommand,
  GetStageCommand,
  UpdateStageCommand,
  paginateGetDeployments,
  type Deployment,
  type PatchOperation,
  type Stage,
} from "@aws-sdk/client-api-gateway";
import { createHash } from "node:crypto";
import type { Config } from "../../config/schema.ts";
import { BINARY_MEDIA_TYPES, ROUTES, type Route } from "../../function/routes.ts";
import type { DeployContext } from "../context.ts";
import { DeployError, errorName, step } from "../errors.ts";
import type { Changes} from "../toolkit/index.ts";
import { createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";
import { authorizerSpec } from "./api-authorizer.ts";
import { desiredGatewayResponses } from "./api-gateway-responses.ts";
import { integrationUri, methodSpecs } from "./api-methods.ts";
import { PREFLIGHT_REQUEST_TEMPLATES, preflightSpec } from "./api-options.ts";

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

export interface StageDeps {
  functionArn: string;
  accessLogGroupArn: string;
  /** auth "jwt": the authorizer the methods use (a new one needs a new deployment). */
  authorizerId?: string;
}

export function stageArn(ctx: Pick<DeployContext, "partition" | "region" | "names">, restApiId: string): string {
  return `arn:${ctx.partition}:apigateway:${ctx.region}::/restapis/${restApiId}/stages/${ctx.names.stage}`;
}

/** A hash of everything a deployment snapshots: when it is unchanged, the stage already serves it. */
export function definitionHash(ctx: Pick<DeployContext, "partition" | "region" | "config"> & Partial<Pick<DeployContext, "account">>, functionArn: string, authorizerId?: string): string {
  const preflight = preflightSpec(ctx.config);
  const definition = {
    binaryMediaTypes: [...BINARY_MEDIA_TYPES],
    // Authorizer changes take effect only with a new deployment, as methods do.
    ...(ctx.config.auth === "jwt" ? { authorizer: { id: authorizerId, ...authorizerSpec(ctx, functionArn) } } : {}),
    methods: methodSpecs(ctx.config, ROUTES, authorizerId).map((spec) => ({
      ...spec,
      integration:
        spec.httpMethod === "OPTIONS"
          ? { type: "MOCK", requestTemplates: PREFLIGHT_REQUEST_TEMPLATES, ...preflight }
          : { type: "AWS_PROXY", httpMethod: "POST", uri: integrationUri(ctx, functionArn) },
    })),
    gatewayResponses: desiredGatewayResponses(ctx.config),
  };
  return createHash("sha256").update(JSON.stringify(definition)).digest("hex");
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
export function stagePatch(ctx: Pick<DeployContext, "config">, stage: Stage | undefined, deps: Pick<StageDeps, "accessLogGroupArn">): PatchOperation[] {
  // A log group ARN as DescribeLogGroups gives it ends in ":*", which API Gateway refuses.
  const destinationArn = deps.accessLogGroupArn.replace(/:\*$/, "");
  const { rateLimit, burstLimit } = ctx.config.api.throttle;
  const all = stage?.methodSettings?.["*/*"];
  const ops: PatchOperation[] = [];
  if (stage?.accessLogSettings?.destinationArn !== destinationArn) ops.push({ op: "replace", path: "/accessLogSettings/destinationArn", value: destinationArn });
  if (stage?.accessLogSettings?.format !== ACCESS_LOG_FORMAT) ops.push({ op: "replace", path: "/accessLogSettings/format", value: ACCESS_LOG_FORMAT });
  // The stage-wide throttle also covers whatever no usage plan meters.
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

const getStage = (ctx: DeployContext, restApiId: string): Promise<Stage | undefined> =>
  step("reading the stage of", "REST API", ctx.names.restApi, "apigateway:GET", () =>
    orAbsent("apigateway", () => ctx.clients.apigw.send(new GetStageCommand({ restApiId, stageName: ctx.names.stage }))),
  );

const getDeployments = (ctx: DeployContext, restApiId: string): Promise<Deployment[]> =>
  step("reading deployments of", "REST API", ctx.names.restApi, "apigateway:GET", async () => {
    const items: Deployment[] = [];
    for await (const page of paginateGetDeployments({ client: ctx.clients.apigw, pageSize: 500 }, { restApiId })) items.push(...(page.items ?? []));
    return items;
  });

/**
 * The deployment of this definition: the one the stage serves, or one an
 * interrupted run left (deployments are only made once the definition is in
 * place, so one carrying this hash snapshots exactly it), or a new one.
 * CreateDeployment is a POST the SDK retries: a lost answer leaves a second
 * deployment with the same description, deleted here once one is chosen.
 */
async function ensureDeployment(ctx: DeployContext, restApiId: string, stage: Stage | undefined, description: string, changes: Changes): Promise<string | undefined> {
  const { apigw } = ctx.clients;
  const deployments = await getDeployments(ctx, restApiId);
  const served = deployments.find((d) => d.id === stage?.deploymentId);
  let chosen = served?.description === description ? served.id : deployments.find((d) => d.description === description)?.id;
  if (chosen === undefined) {
    chosen = (await changes.apply("deployment", "apigateway:POST", () => apigw.send(new CreateDeploymentCommand({ restApiId, description })), "creating a deployment of"))?.id;
    if (chosen === undefined) return undefined;
    deployments.push(...(await getDeployments(ctx, restApiId)).filter((d) => !deployments.some((known) => known.id === d.id)));
  }
  for (const twin of deployments.filter((d) => d.description === description && d.id !== chosen && d.id !== stage?.deploymentId)) {
    await changes.apply(`duplicate deployment ${twin.id} deleted`, "apigateway:DELETE", () => ignoreAbsent("apigateway", () => apigw.send(new DeleteDeploymentCommand({ restApiId, deploymentId: twin.id! }))), "deleting");
  }
  return chosen;
}

export async function reconcileStage(ctx: DeployContext, restApiId: string, deps: StageDeps, changes: Changes): Promise<void> {
  const { apigw } = ctx.clients;
  const stageName = ctx.names.stage;
  let stage = await getStage(ctx, restApiId);
  const deploymentId = await ensureDeployment(ctx, restApiId, stage, `${DEFINITION_PREFIX}${definitionHash(ctx, deps.functionArn, deps.authorizerId)}`, changes);
  // Tags go with CreateStage only: the deployer may not PUT /tags, which could
  // re-tag another stack's API as its own (deploy/deployer-policy-services.json).
  if (stage === undefined) {
    // A lost answer: the SDK's retry is refused with ConflictException ("Stage already exists") and the stage is adopted.
    const made = await changes.apply(`stage ${stageName}`, "apigateway:POST", () =>
      createOrAdopt("apigateway", () => apigw.send(new CreateStageCommand({ restApiId, stageName, deploymentId: deploymentId!, tags: ctx.tags })), () => getStage(ctx, restApiId)),
    "creating");
    stage = made?.adopted ? made.value : undefined;
  }
  const ops = stagePatch(ctx, stage, deps);
  if (stage !== undefined && deploymentId !== undefined && stage.deploymentId !== deploymentId) ops.unshift({ op: "replace", path: "/deploymentId", value: deploymentId });
  if (ops.length === 0) return;
  await changes.apply(`stage ${stageName} (${ops.map((o) => o.path).join(", ")})`, "apigateway:PATCH", () => updateStage(ctx, restApiId, ops), "updating the stage of");
}

async function updateStage(ctx: DeployContext, restApiId: string, patchOperations: PatchOperation[]) {
  try {
    return await ctx.clients.apigw.send(new UpdateStageCommand({ restApiId, stageName: ctx.names.stage, patchOperations }));
  } catch (e) {
    if (errorName(e) === "BadRequestException" && /role ARN must be set/i.test((e as Error).message ?? "")) {
      throw new DeployError("updating stage of", "REST API", ctx.names.restApi, "CloudWatchRoleNotSet", "API Gateway needs the account's CloudWatch Logs role before access logs can be enabled: run ensureApiGatewayAccount (deploy does it first), then run again.", { cause: e });
    }
    throw e;
  }
}
