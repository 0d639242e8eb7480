// The REST API's JWT authorizer (auth "jwt"): a TOKEN authorizer that hands
// the Authorization header to the image function (its authorizer entry,
// function/authorizer.ts, loaded only for these events) and caches the
// answer per token. API Gateway refuses a header of the wrong shape itself
// (identityValidationExpression), so garbage costs no invocation. For a
// Cognito issuer, API Gateway's own user pool authorizer instead.
// https://docs.aws.amazon.com/apigateway/latest/api/API_CreateAuthorizer.html
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
//
// Ours is found by name. A lost CreateAuthorizer answer can leave a twin:
// the first by id is kept, the others are deleted once the methods point at
// the kept one (API Gateway refuses to delete an authorizer a method uses).
import { CreateAuthorizerCommand, DeleteAuthorizerCommand, GetAuthorizersCommand, UpdateAuthorizerCommand, type Authorizer, type PatchOperation } from "@aws-sdk/client-api-gateway";
import { AUTHORIZER_CACHE_SECONDS, BEARER_PATTERN } from "../../function/auth/bearer.ts";
import type { DeployContext } from "../context.ts";
import { step } from "../errors.ts";
import { createOrAdopt, ignoreAbsent, type Changes } from "../toolkit/index.ts";
import { integrationUri } from "./api-methods.ts";

export interface AuthorizerSpec {
  name: string;
  type: "TOKEN" | "COGNITO_USER_POOLS";
  identitySource: string;
  authorizerResultTtlInSeconds: number;
  /** TOKEN: the function's invocation URI, and the header shape API Gateway checks itself. */
  authorizerUri?: string;
  identityValidationExpression?: string;
  /** COGNITO_USER_POOLS: the user pool. */
  providerARNs?: string[];
}

// https://cognito-idp.REGION.amazonaws.com/POOL_ID, the iss of a user pool's tokens:
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html
const COGNITO_ISSUER = /^https:\/\/cognito-idp\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?\/(\1_[A-Za-z0-9]+)\/?$/;

/** The user pool of a Cognito issuer (region, pool id), or undefined for any other issuer. */
export function cognitoPool(issuer: string | undefined): { region: string; poolId: string } | undefined {
  const m = COGNITO_ISSUER.exec(issuer ?? "");
  return m === null ? undefined : { region: m[1]!, poolId: m[2]! };
}

type SpecScope = Pick<DeployContext, "partition" | "region" | "config"> & Partial<Pick<DeployContext, "account">>;

/**
 * What API Gateway is told (the name apart: found by it, and not part of what
 * a deployment snapshots). A Cognito issuer gets API Gateway's own user pool
 * authorizer (no invocation, no code of ours on the token's path); any other
 * issuer the function's TOKEN authorizer. The pool is taken to be in the
 * deploying account (API Gateway needs its ARN, which the issuer URL lacks).
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-enable-cognito-user-pool.html
 */
export function authorizerSpec(ctx: SpecScope, functionArn: string): Omit<AuthorizerSpec, "name"> {
  const pool = cognitoPool(ctx.config.jwt?.issuer);
  const common = { identitySource: "method.request.header.Authorization", authorizerResultTtlInSeconds: AUTHORIZER_CACHE_SECONDS };
  if (pool !== undefined) {
    if (ctx.account === undefined) throw new Error("authorizerSpec: a Cognito authorizer's pool ARN needs the account");
    return { type: "COGNITO_USER_POOLS", ...common, providerARNs: [`arn:${ctx.partition}:cognito-idp:${pool.region}:${ctx.account}:userpool/${pool.poolId}`] };
  }
  return { type: "TOKEN", ...common, authorizerUri: integrationUri(ctx, functionArn), identityValidationExpression: BEARER_PATTERN };
}

/** Every authorizer of ours on the API, first by id first. GetAuthorizers pages with position/limit (500 at most). */
export async function findAuthorizers(ctx: DeployContext, restApiId: string): Promise<Authorizer[]> {
  return step("reading authorizers of", "REST API", ctx.names.restApi, "apigateway:GET", async () => {
    const found: Authorizer[] = [];
    let position: string | undefined;
    do {
      const page = await ctx.clients.apigw.send(new GetAuthorizersCommand({ restApiId, limit: 500, ...(position === undefined ? {} : { position }) }));
      found.push(...(page.items ?? []).filter((a) => a.name === ctx.names.authorizer));
      position = page.position;
    } while (position !== undefined && position !== "");
    return found.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  });
}

const FIELDS = ["authorizerUri", "identitySource", "identityValidationExpression", "authorizerResultTtlInSeconds"] as const;
const sameList = (a: string[] | undefined, b: string[] | undefined) => (a ?? []).join() === (b ?? []).join();

/** Ours, made or brought back to the spec; its id (undefined in a dry run that would create it) and the twins to delete after the methods. */
export async function ensureAuthorizer(ctx: DeployContext, restApiId: string, functionArn: string, changes: Changes): Promise<{ id: string | undefined; twins: string[] }> {
  const spec: AuthorizerSpec = { name: ctx.names.authorizer, ...authorizerSpec(ctx, functionArn) };
  const found = await findAuthorizers(ctx, restApiId);
  const kept = found[0];
  if (kept === undefined) {
    const made = await changes.apply(`authorizer ${spec.name}`, "apigateway:POST", () =>
      createOrAdopt("apigateway", () => ctx.clients.apigw.send(new CreateAuthorizerCommand({ restApiId, ...spec })), async () => (await findAuthorizers(ctx, restApiId))[0]),
    );
    return { id: made?.value.id, twins: [] };
  }
  if (kept.type !== spec.type) {
    // Another type (the issuer became, or stopped being, a Cognito pool): a new one replaces it, and the old goes after the methods.
    const made = await changes.apply(`authorizer ${spec.name} (type ${kept.type} replaced)`, "apigateway:POST", () => ctx.clients.apigw.send(new CreateAuthorizerCommand({ restApiId, ...spec })));
    return { id: made?.id, twins: found.map((a) => a.id!) };
  }
  // moto does not report identityValidationExpression: only a value that is reported can be compared.
  const ops: PatchOperation[] = FIELDS.filter((f) => spec[f] !== undefined && kept[f] !== undefined && kept[f] !== spec[f]).map((f) => ({ op: "replace", path: `/${f}`, value: String(spec[f]) }));
  // A user pool is replaced by its ARN: one patch per pool removed and added.
  if (spec.providerARNs !== undefined && !sameList(kept.providerARNs, spec.providerARNs)) {
    for (const arn of kept.providerARNs ?? []) if (!spec.providerARNs.includes(arn)) ops.push({ op: "remove", path: "/providerARNs", value: arn });
    for (const arn of spec.providerARNs) if (!(kept.providerARNs ?? []).includes(arn)) ops.push({ op: "add", path: "/providerARNs", value: arn });
  }
  if (ops.length > 0) {
    await changes.apply(`authorizer ${spec.name} (${ops.map((o) => o.path).join(", ")})`, "apigateway:PATCH", () =>
      ctx.clients.apigw.send(new UpdateAuthorizerCommand({ restApiId, authorizerId: kept.id!, patchOperations: ops })),
    );
  }
  return { id: kept.id, twins: found.slice(1).map((a) => a.id!) };
}

/** Deletes authorizers of ours no method uses any more: the twins, or all of them once auth is no longer "jwt". */
export async function deleteAuthorizers(ctx: DeployContext, restApiId: string, ids: string[], changes: Changes): Promise<void> {
  for (const authorizerId of ids) {
    await changes.apply(`delete authorizer ${authorizerId}`, "apigateway:DELETE", () =>
      ignoreAbsent("apigateway", () => ctx.clients.apigw.send(new DeleteAuthorizerCommand({ restApiId, authorizerId }))),
    );
  }
}
