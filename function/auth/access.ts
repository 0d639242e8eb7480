// Who may call what, in auth "jwt" mode. API Gateway's authorizer has checked
// the bearer token before the function runs and hands over the token's
// subject and scopes (requestContext.authorizer); the function checks them
// again, so a method left without its authorizer cannot serve anyone, and
// owns the one rule no authorizer can know: an image is seen only by the
// subject that uploaded it. Another caller's image answers 404, as a missing
// one does, so ids of other users' images do not leak.
import type { APIGatewayProxyEvent } from "aws-lambda";
import { ApiError } from "../errors.ts";
import type { Route } from "../routes.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { checkId } from "../variants.ts";
import { JWT_ISSUER_ENV, jwtSettingsFromEnv } from "./authorizer-env.ts";
import type { Caller } from "./jwt-verify.ts";
import { callerHas, type ScopeNames } from "./token-policy.ts";

/** Present only in auth "jwt" mode. */
export interface Access {
  /** Scopes a token must hold: read for the GET routes, write for the others (config jwt.scopes). */
  scopes?: ScopeNames;
  /**
   * The audience a Cognito user pool's token must name (its aud, or an access
   * token's client_id): API Gateway's user pool authorizer checks the pool,
   * not the app client, so the function does.
   */
  audience?: string;
}

// S3 user metadata holds at most 2 KB in all; OIDC caps sub at 255 ASCII characters.
const MAX_SUB = 255;

/** auth "jwt" is on when deploy set the authorizer's settings (function/auth/authorizer-env.ts): the same scopes apply here. */
export function accessFromEnv(env: NodeJS.ProcessEnv): Access | undefined {
  if (env[JWT_ISSUER_ENV] === undefined || env[JWT_ISSUER_ENV] === "") return undefined;
  const { scopes, audience } = jwtSettingsFromEnv(env);
  return { audience, ...(scopes === undefined ? {} : { scopes }) };
}

/**
 * The caller as the authorizer described it: a Lambda authorizer's
 * principalId and context (sub, scope), or a Cognito user pool's claims.
 */
export function callerOf(event: Pick<APIGatewayProxyEvent, "requestContext">, audience?: string): Caller | undefined {
  const authorizer = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (authorizer === null || typeof authorizer !== "object") return undefined;
  const fromPool = typeof authorizer.claims === "object" && authorizer.claims !== null;
  const claims = (fromPool ? authorizer.claims : {}) as Record<string, unknown>;
  if (fromPool && audience !== undefined && claims.aud !== audience && claims.client_id !== audience) return undefined;
  const sub = [authorizer.principalId, authorizer.sub, claims.sub].find((v): v is string => typeof v === "string" && v !== "");
  if (sub === undefined || sub.length > MAX_SUB) return undefined;
  const scope = [authorizer.scope, claims.scope].find((v): v is string => typeof v === "string") ?? "";
  return { sub, scopes: scope.split(" ").filter((s) => s !== "") };
}

/** The caller of a private route: 401 without one, 403 without the route's scope. */
export function requireCaller(event: Pick<APIGatewayProxyEvent, "requestContext">, route: Pick<Route, "access" | "scope" | "method" | "resource">, access: Access): Caller {
  const caller = callerOf(event, access.audience);
  if (caller === undefined) throw new ApiError("UNAUTHORIZED", "Send a valid bearer token: Authorization: Bearer <token from your identity provider>.");
  if (!callerHas(caller, route, access.scopes)) {
    throw new ApiError("FORBIDDEN", `${route.method} ${route.resource} needs a token with the scope "${access.scopes![route.scope!]}".`);
  }
  return caller;
}

/** The image's owner must be the caller: anything else, an image without an owner too, is "not found". */
export async function requireOwner(store: ImageStore, rawId: string | undefined, caller: Caller): Promise<void> {
  const id = checkId(rawId);
  const found = await store.ownerOf(id);
  if (found === undefined || found.owner !== caller.sub) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
}
