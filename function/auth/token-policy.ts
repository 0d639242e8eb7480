// What a verified caller may call, as the routes table says (each private
// route names the scope it needs), and the IAM policy the Lambda authorizer
// hands API Gateway. The handler re-checks each request with callerHas, so a
// policy cached for a token cannot grant more than the table does.
import { ROUTES, routeKey, type Route, type RouteKey } from "../routes.ts";
import type { Caller } from "./jwt-verify.ts";

export type ScopeNames = { read: string; write: string };

export interface AuthorizerStatement {
  Action: "execute-api:Invoke";
  Effect: "Allow" | "Deny";
  Resource: string[];
}

/** https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html */
export interface AuthorizerResult {
  principalId: string;
  policyDocument: { Version: "2012-10-17"; Statement: AuthorizerStatement[] };
  /** Reaches the function as requestContext.authorizer; values must be strings, numbers or booleans. */
  context: { sub: string; scope: string };
}

/** May the caller call this route? Public routes need no token; without configured scopes every valid token may call every private route. */
export function callerHas(caller: Caller, route: Pick<Route, "access" | "scope">, scopes: ScopeNames | undefined): boolean {
  if (route.access === "public") return true;
  if (scopes === undefined) return true;
  // A private route without a scope is a table mistake: refuse rather than open it to every token.
  if (route.scope === undefined) return false;
  return caller.scopes.includes(scopes[route.scope]);
}

/** The private routes the caller may call, in table order. */
export function allowedRoutes(caller: Caller, scopes?: ScopeNames): RouteKey[] {
  return (ROUTES as readonly Route[]).filter((r) => r.access === "private" && callerHas(caller, r, scopes)).map(routeKey);
}

/**
 * "arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/" of a method ARN
 * "arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/VERB/path...", the form
 * API Gateway hands a TOKEN authorizer as methodArn:
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
 * The partition is kept (aws, aws-cn, aws-us-gov).
 */
export function stagePrefix(methodArn: string): string {
  const match = /^(arn:[a-z-]+:execute-api:[a-z0-9-]+:\d{12}:[A-Za-z0-9]+\/[A-Za-z0-9_-]+\/)/.exec(methodArn);
  if (!match) throw new Error(`Expected an execute-api method ARN (arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/VERB/path) but received ${JSON.stringify(methodArn)}`);
  return match[1]!;
}

/**
 * The ARN of a route: VERB/path with each {param} as "*". In an IAM
 * resource, "*" matches any characters, "/" included (GET/images/* also
 * matches GET/images/a/b); the test suite checks with an IAM engine that no
 * route's pattern reaches a route of another scope.
 */
export function routeArn(prefix: string, key: RouteKey): string {
  const [method, resource] = key.split(" ") as [string, string];
  return `${prefix}${method}${resource.replace(/\{[^}]+\}/g, "*")}`;
}

/**
 * The authorizer's answer for a verified caller. API Gateway caches it per
 * token (authorizerResultTtlInSeconds) and applies it to OTHER methods of the
 * API too, so it lists every route the caller may call, not just methodArn:
 * "Make sure that the policy is applicable to all resources and methods in
 * your API" (the Lambda authorizer workflow,
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html).
 * No route allowed: an explicit Deny, which API Gateway answers with 403.
 */
export function authorizerResult(caller: Caller, scopes: ScopeNames | undefined, methodArn: string): AuthorizerResult {
  const prefix = stagePrefix(methodArn);
  const allowed = allowedRoutes(caller, scopes);
  const statement: AuthorizerStatement =
    allowed.length === 0
      ? { Action: "execute-api:Invoke", Effect: "Deny", Resource: [`${prefix}*/*`] }
      : { Action: "execute-api:Invoke", Effect: "Allow", Resource: allowed.map((key) => routeArn(prefix, key)) };
  return {
    principalId: caller.sub,
    policyDocument: { Version: "2012-10-17", Statement: [statement] },
    context: { sub: caller.sub, scope: caller.scopes.join(" ") },
  };
}
