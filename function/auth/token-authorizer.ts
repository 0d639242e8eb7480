// The Lambda authorizer's logic, apart from its entry (function/authorizer.ts)
// so tests can build it with their own issuer, fetch and clock. A refused
// token is logged with its reason (never the token) and answered by throwing
// "Unauthorized", which API Gateway turns into 401 (the documented contract:
// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html).
// A valid token without any scope the API knows gets an explicit Deny (403).
import type { LogSink } from "../log.ts";
import { createTokenVerifier, TokenRejected, type JwtSettings, type VerifierOptions } from "./jwt-verify.ts";
import { authorizerResult, type AuthorizerResult } from "./token-policy.ts";

/** https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html */
export interface TokenAuthorizerEvent {
  type: "TOKEN";
  authorizationToken?: string;
  methodArn: string;
}

export interface AuthorizerOptions extends VerifierOptions {
  log?: LogSink;
}

export function createAuthorizer(settings: JwtSettings, options: AuthorizerOptions = {}): (event: TokenAuthorizerEvent) => Promise<AuthorizerResult> {
  const verify = createTokenVerifier(settings, options);
  const log = options.log ?? ((line: string) => console.log(line));

  return async function authorize(event) {
    try {
      const caller = await verify(event.authorizationToken);
      const result = authorizerResult(caller, settings.scopes, event.methodArn);
      const effect = result.policyDocument.Statement[0]!.Effect;
      log(JSON.stringify({ level: "info", msg: "token accepted", sub: caller.sub, effect, methodArn: event.methodArn }));
      return result;
    } catch (e) {
      if (!(e instanceof TokenRejected)) throw e;
      // Unavailable keys are the issuer's (or our network's) fault, not the caller's: an operator should see them.
      const level = e.reason === "jwks-unavailable" ? "error" : "info";
      log(JSON.stringify({ level, msg: "token rejected", reason: e.reason, detail: e.message, methodArn: event.methodArn }));
      throw new Error("Unauthorized");
    }
  };
}
