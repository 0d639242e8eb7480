// The REST API's JWT authorizer (auth "jwt"): a TOKEN authorizer that hands
// the Authorization header to the image function (its authorizer entry,
// function/authorizer.ts, loaded only for these events) and caches the
// answer per token. API Gateway refuses a header of the wrong shape itself
// (identityValidationExpression), so garbage costs no invocation.
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
  type: "TOKEN";
  authorizerUri: string;
  identitySource: string;
  identityValidationExpression: string;
  authorizerResultTtlInSeconds: number;
}

/** What API Gateway is told (the name apart: found by it, and not part of what a deployment snapshots). */
export function authorizerSpec(ctx: Pick<DeployContext, "partition" | "region">, functionArn: string): Omit<AuthorizerSpec, "name"> {
  return {
    type: "TOKEN",
    authorizerUri: integrationUri(ctx, functionArn),
    identitySource: "method.request.header.Authorization",
    identityValidationExpression: BEARER_PATTERN,
    authorizerResultTtlInSeconds: AUTHORIZER_CACHE_SECONDS,
  };
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
    // The type cannot be patched into TOKEN meaningfully (a REQUEST authorizer has other identity sources): a new one replaces it.
    const made = await changes.apply(`authorizer ${spec.name} (type ${kept.type} replaced)`, "apigateway:POST", () => ctx.clients.apigw.send(new CreateAuthorizerCommand({ restApiId, ...spec })));
    return { id: made?.id, twins: found.map((a) => a.id!) };
  }
  // moto does not report identityValidationExpression: only a value that is reported can be compared.
  const ops: PatchOperation[] = FIELDS.filter((f) => kept[f] !== undefined && kept[f] !== spec[f]).map((f) => ({ op: "replace", path: `/${f}`, value: String(spec[f]) }));
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
