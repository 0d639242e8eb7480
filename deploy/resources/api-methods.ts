// The API's resources and methods, built from the ROUTES table (never listed
// here): each route's method an AWS_PROXY integration to the function, guarded
// as methodAuth says for config.auth (an API key, or SigV4 with AWS_IAM, on
// private routes; nothing on public ones, whose signed URLs the handler
// checks); OPTIONS everywhere, answered by API Gateway itself (api-options.ts).
// Each is read, compared and written only where it differs; a lost answer to
// a create is adopted (see putMethod and ensureResource).
import { CreateResourceCommand, DeleteMethodCommand, DeleteResourceCommand, PutIntegrationCommand, paginateGetResources, type Method, type Resource } from "@aws-sdk/client-api-gateway";
import type { Config } from "../../config/schema.ts";
import { methodAuth, ROUTES, type Route } from "../../function/routes.ts";
import { cognitoPool } from "./api-authorizer.ts";
import type { DeployContext } from "../context.ts";
import { step } from "../errors.ts";
import type { Changes} from "../toolkit/index.ts";
import { createOrAdopt } from "../toolkit/index.ts";
import { authDrifted, dropDriftedMethod, getMethod, putMethod, type MethodSpec } from "./api-method-calls.ts";
import { reconcileOptions } from "./api-options.ts";

export type { MethodSpec } from "./api-method-calls.ts";

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
export function methodSpecs(config: Pick<Config, "auth" | "jwt">, routes: readonly Route[] = ROUTES, authorizerId?: string): MethodSpec[] {
  const cognito = config.auth === "jwt" && cognitoPool(config.jwt?.issuer) !== undefined;
  const specs: MethodSpec[] = routes.map((r) => {
    const guard = methodAuth(r, config.auth);
    if (guard.authorizationType !== "CUSTOM") return { path: r.resource, httpMethod: r.method, ...guard };
    // A Cognito pool's authorizer checks the route's scope itself (an access token then, not an ID token).
    const scope = config.jwt?.scopes !== undefined && r.scope !== undefined ? config.jwt.scopes[r.scope] : undefined;
    return {
      path: r.resource,
      httpMethod: r.method,
      apiKeyRequired: false,
      authorizationType: cognito ? "COGNITO_USER_POOLS" : "CUSTOM",
      ...(authorizerId === undefined ? {} : { authorizerId }),
      ...(cognito && scope !== undefined ? { authorizationScopes: [scope] } : {}),
    };
  });
  for (const path of resourcePaths(routes)) specs.push({ path, httpMethod: "OPTIONS", apiKeyRequired: false, authorizationType: "NONE" });
  return specs.sort((a, b) => `${a.path} ${a.httpMethod}`.localeCompare(`${b.path} ${b.httpMethod}`));
}

export function integrationUri(ctx: Pick<DeployContext, "partition" | "region">, functionArn: string): string {
  return `arn:${ctx.partition}:apigateway:${ctx.region}:lambda:path/2015-03-31/functions/${functionArn}/invocations`;
}

export async function getResources(ctx: DeployContext, restApiId: string): Promise<Resource[]> {
  return step("reading resources of", "REST API", ctx.names.restApi, "apigateway:GET", async () => {
    const items: Resource[] = [];
    for await (const page of paginateGetResources({ client: ctx.clients.apigw, pageSize: 500 }, { restApiId, embed: ["methods"] })) items.push(...(page.items ?? []));
    return items;
  });
}

const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";

/**
 * CreateResource with a lost answer: the SDK's retry is refused with
 * ConflictException ("Another resource with the same parent already has this
 * name"), and the resource the first attempt made is adopted.
 */
async function ensureResource(ctx: DeployContext, restApiId: string, path: string, parentId: string | undefined, changes: Changes): Promise<Resource | undefined> {
  const made = await changes.apply(`resource ${path}`, "apigateway:POST", () =>
    createOrAdopt(
      "apigateway",
      () => ctx.clients.apigw.send(new CreateResourceCommand({ restApiId, parentId: parentId!, pathPart: path.slice(path.lastIndexOf("/") + 1) })),
      async () => (await getResources(ctx, restApiId)).find((r) => r.path === path),
    ),
  );
  return made?.value;
}

export async function reconcileMethods(ctx: DeployContext, restApiId: string, functionArn: string, changes: Changes, authorizerId?: string): Promise<void> {
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
    // In a dry run nothing is made: the planned resource has no id, and no methods.
    byPath.set(path, (await ensureResource(ctx, restApiId, path, byPath.get(parentOf(path))?.id, changes)) ?? { path });
  }

  const uri = integrationUri(ctx, functionArn);
  const specs = methodSpecs(ctx.config, ROUTES, authorizerId);
  for (const path of wanted) {
    const resource = byPath.get(path)!;
    const actual: Record<string, Method> = resource.resourceMethods ?? {};
    for (const httpMethod of Object.keys(actual)) {
      if (specs.some((s) => s.path === path && s.httpMethod === httpMethod)) continue;
      await changes.apply(`delete method ${httpMethod} ${path}`, "apigateway:DELETE", () => apigw.send(new DeleteMethodCommand({ restApiId, resourceId: resource.id!, httpMethod })));
    }
    for (const spec of specs.filter((s) => s.path === path)) {
      if (spec.httpMethod === "OPTIONS") await reconcileOptions(ctx, restApiId, resource, spec, actual.OPTIONS, changes);
      else await reconcileProxyMethod(ctx, restApiId, resource, spec, actual[spec.httpMethod], uri, changes);
    }
  }
}

async function reconcileProxyMethod(ctx: DeployContext, restApiId: string, resource: Resource, spec: MethodSpec, found: Method | undefined, uri: string, changes: Changes): Promise<void> {
  const label = `${spec.httpMethod} ${spec.path}`;
  const resourceId = resource.id!;
  // PUT replaces the whole integration, so a retried one (lost answer) does no harm.
  const putIntegration = () =>
    changes.apply(`integration ${label}`, "apigateway:PUT", () =>
      ctx.clients.apigw.send(new PutIntegrationCommand({ restApiId, resourceId, httpMethod: spec.httpMethod, type: "AWS_PROXY", integrationHttpMethod: "POST", uri })),
    );
  let actual = found;
  if (actual !== undefined && authDrifted(actual, spec)) {
    await dropDriftedMethod(ctx, restApiId, resourceId, spec, changes);
    actual = undefined;
  }
  if (actual === undefined) {
    await changes.apply(`method ${label}`, "apigateway:PUT", () => putMethod(ctx, restApiId, resourceId, spec));
    await putIntegration();
    return;
  }
  const integration = actual.methodIntegration ?? (await getMethod(ctx, restApiId, resourceId, spec.httpMethod))?.methodIntegration;
  if (integration?.type !== "AWS_PROXY" || integration.httpMethod !== "POST" || integration.uri !== uri) await putIntegration();
}
