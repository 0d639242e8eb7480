// The local gateway's JWT authorizer, as API Gateway runs a TOKEN authorizer
// for a CUSTOM method (deploy/resources/api-authorizer.ts): a header not
// shaped like "Bearer <JWS>" is refused with 401 before the authorizer runs;
// otherwise the deployed authorizer code itself (function/auth/) checks the
// token, "Unauthorized" becomes 401, and its policy must allow this method's
// ARN, else 403. The handler then sees the authorizer's principalId and
// context in requestContext.authorizer. Unlike API Gateway, nothing is cached.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
// https://aws.amazon.com/premiumsupport/knowledge-center/api-gateway-403-error-lambda-authorizer/
import type { APIGatewayProxyResult } from "aws-lambda";
import { bearerShaped } from "../function/auth/bearer.ts";
import type { JwtSettings } from "../function/auth/jwt-verify.ts";
import { createAuthorizer, type AuthorizerOptions } from "../function/auth/token-authorizer.ts";
import type { AuthorizerResult } from "../function/auth/token-policy.ts";
import { methodAuth } from "../function/routes.ts";
import { lastHeader, LOCAL_ACCOUNT, LOCAL_STAGE, type RouteMatch } from "./api-gateway.ts";
import { gatewayResponse } from "./gateway-responses.ts";

export type JwtVerdict = { ok: true; authorizer?: Record<string, string> } | { ok: false; result: APIGatewayProxyResult; reason: string };

export type LocalJwtCheck = (match: RouteMatch, method: string, path: string, headers: Record<string, string>, cors: Record<string, string>) => Promise<JwtVerdict>;

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);

/** IAM's rule for the authorizer's policy: an explicit Deny wins, then an Allow, else an implicit deny. */
export function policyVerdict(result: AuthorizerResult, methodArn: string): "allow" | "deny" | "implicit" {
  const matching = (result.policyDocument.Statement ?? []).filter((s) => [s.Action].flat().some((a) => glob(a).test("execute-api:Invoke")) && [s.Resource].flat().some((r) => glob(r).test(methodArn)));
  if (matching.some((s) => s.Effect === "Deny")) return "deny";
  return matching.some((s) => s.Effect === "Allow") ? "allow" : "implicit";
}

export function createLocalJwtCheck(settings: JwtSettings, options: AuthorizerOptions = {}): LocalJwtCheck {
  // A loopback issuer is allowed here only: deploy refuses anything but https.
  const authorize = createAuthorizer(settings, { allowLoopbackHttp: true, ...options });
  return async (match, method, path, headers, cors) => {
    if (method === "OPTIONS" || methodAuth(match.route, "jwt").authorizationType !== "CUSTOM") return { ok: true };
    const authorization = lastHeader(headers, "authorization");
    if (!bearerShaped(authorization)) return { ok: false, result: gatewayResponse("UNAUTHORIZED", 401, "Unauthorized", cors), reason: authorization === undefined ? "no Authorization header" : "Authorization is not a bearer JWT" };
    const methodArn = `arn:aws:execute-api:us-east-1:${LOCAL_ACCOUNT}:local/${LOCAL_STAGE}/${method}${path}`;
    let result: AuthorizerResult;
    try {
      result = await authorize({ type: "TOKEN", authorizationToken: authorization!, methodArn });
    } catch (e) {
      if ((e as Error).message === "Unauthorized") return { ok: false, result: gatewayResponse("UNAUTHORIZED", 401, "Unauthorized", cors), reason: "the authorizer refused the token" };
      return { ok: false, result: gatewayResponse("AUTHORIZER_FAILURE", 500, "Internal server error", cors), reason: `the authorizer failed: ${(e as Error).message}` };
    }
    const verdict = policyVerdict(result, methodArn);
    if (verdict !== "allow") {
      const message = verdict === "deny" ? "User is not authorized to access this resource with an explicit deny" : "User is not authorized to access this resource";
      return { ok: false, result: gatewayResponse("ACCESS_DENIED", 403, message, cors), reason: `the authorizer's policy: ${verdict} deny` };
    }
    return { ok: true, authorizer: { principalId: result.principalId, ...result.context } };
  };
}
