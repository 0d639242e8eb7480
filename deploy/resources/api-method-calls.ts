// The calls on one method that both kinds of method (the routes' proxy
// methods, api-methods.ts, and the preflights' mocks, api-options.ts) make.
import { DeleteMethodCommand, GetMethodCommand, PutMethodCommand, type Method } from "@aws-sdk/client-api-gateway";
import type { AuthorizationType } from "../../function/routes.ts";
import type { DeployContext } from "../context.ts";
import { step } from "../errors.ts";
import type { Changes} from "../toolkit/index.ts";
import { createOrAdopt, orAbsent } from "../toolkit/index.ts";

export interface MethodSpec {
  path: string;
  httpMethod: string;
  apiKeyRequired: boolean;
  authorizationType: AuthorizationType;
  /** CUSTOM and COGNITO_USER_POOLS methods: the JWT authorizer's id (undefined in a dry run before it exists). */
  authorizerId?: string;
  /** COGNITO_USER_POOLS methods: the scopes an access token must hold (config jwt.scopes). */
  authorizationScopes?: string[];
}

/** The method as GetMethod reports it (with its integration and method responses), or undefined. */
export const getMethod = (ctx: DeployContext, restApiId: string, resourceId: string, httpMethod: string): Promise<Method | undefined> =>
  step("reading methods of", "REST API", ctx.names.restApi, "apigateway:GET", () =>
    orAbsent("apigateway", () => ctx.clients.apigw.send(new GetMethodCommand({ restApiId, resourceId, httpMethod }))),
  );

/**
 * PutMethod is refused with ConflictException ("Method already exists for
 * this resource") when the method exists (aws/aws-cli#3992), which is what a
 * retried PutMethod whose answer was lost meets: the method it made is adopted.
 */
export async function putMethod(ctx: DeployContext, restApiId: string, resourceId: string, spec: MethodSpec): Promise<void> {
  await createOrAdopt(
    "apigateway",
    () => ctx.clients.apigw.send(new PutMethodCommand({ restApiId, resourceId, httpMethod: spec.httpMethod, authorizationType: spec.authorizationType, apiKeyRequired: spec.apiKeyRequired, ...(spec.authorizerId === undefined ? {} : { authorizerId: spec.authorizerId }), ...(spec.authorizationScopes === undefined ? {} : { authorizationScopes: spec.authorizationScopes }) })),
    () => getMethod(ctx, restApiId, resourceId, spec.httpMethod),
  );
}

/** A method reported without apiKeyRequired does not require a key; a CUSTOM one must name our authorizer. */
export const authDrifted = (actual: Method, spec: MethodSpec) =>
  (actual.apiKeyRequired ?? false) !== spec.apiKeyRequired ||
  actual.authorizationType !== spec.authorizationType ||
  ((spec.authorizationType === "CUSTOM" || spec.authorizationType === "COGNITO_USER_POOLS") && actual.authorizerId !== spec.authorizerId) ||
  (actual.authorizationScopes ?? []).join() !== (spec.authorizationScopes ?? []).join();

/**
 * A method whose guard drifted is deleted and put again rather than patched:
 * a method is not live until the next deployment, so this is as safe as
 * UpdateMethod, and it is the same path as a first create (moto has no UpdateMethod).
 */
export async function dropDriftedMethod(ctx: DeployContext, restApiId: string, resourceId: string, spec: MethodSpec, changes: Changes): Promise<void> {
  await changes.apply(`delete method ${spec.httpMethod} ${spec.path} (apiKeyRequired/authorizationType/authorizerId drifted)`, "apigateway:DELETE", () =>
    ctx.clients.apigw.send(new DeleteMethodCommand({ restApiId, resourceId, httpMethod: spec.httpMethod })),
  );
}
