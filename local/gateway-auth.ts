// The local gateway's authorization, as API Gateway applies a method's guard
// (function/routes.ts methodAuth): an API key in x-api-key (never the query
// string) before the body is read, or, in "iam" mode, a SigV4 signature over
// the request and its body (in "jwt" mode, gateway-jwt.ts). server.ts only
// carries the bytes.
import type { APIGatewayProxyResult } from "aws-lambda";
import { methodAuth, type AuthMode } from "../function/routes.ts";
import { lastHeader, type RouteMatch } from "./api-gateway.ts";
import type { LocalJwtCheck } from "./gateway-jwt.ts";
import { forbidden, iamDenied } from "./gateway-responses.ts";
import { apiKeyMatches } from "./api-key.ts";
import { headersByName, verifySigV4, type LocalCredentials } from "./sigv4.ts";

export interface GatewayAuth {
  mode: AuthMode;
  apiKey: string;
  /** "jwt" mode: the bearer token check (gateway-jwt.ts). */
  jwt?: LocalJwtCheck;
  /** Given: private routes need a SigV4 signature by this key pair instead of the API key. */
  iam?: LocalCredentials;
}

export type Verdict<T> = ({ ok: true } & T) | { ok: false; result: APIGatewayProxyResult; reason: string };

/** The API key check, before the body is read: the key to put in the event (null when the route needs none). */
export function checkApiKey(match: RouteMatch, method: string, headers: Record<string, string>, auth: GatewayAuth, cors: Record<string, string>): Verdict<{ apiKey: string | null }> {
  const guard = methodAuth(match.route, auth.mode);
  if (!guard.apiKeyRequired || method === "OPTIONS") return { ok: true, apiKey: null };
  const given = lastHeader(headers, "x-api-key");
  if (!apiKeyMatches(auth.apiKey, given)) return { ok: false, result: forbidden(cors), reason: given === undefined ? "no API key" : "wrong API key" };
  return { ok: true, apiKey: auth.apiKey };
}

/** The SigV4 check of an AWS_IAM method, over the body: the signer's access key id. */
export async function checkSignature(
  match: RouteMatch,
  request: { method: string; url: string; rawHeaders: string[]; body: Buffer },
  auth: GatewayAuth,
  cors: Record<string, string>,
): Promise<Verdict<{ iamAccessKeyId?: string }>> {
  const guard = methodAuth(match.route, auth.mode);
  if (guard.authorizationType !== "AWS_IAM" || request.method === "OPTIONS" || auth.iam === undefined) return { ok: true };
  const verdict = await verifySigV4({ method: request.method, url: request.url, headers: headersByName(request.rawHeaders), body: request.body }, auth.iam);
  if (!verdict.ok) return { ok: false, result: iamDenied(verdict.errorType, verdict.message, cors), reason: `SigV4: ${verdict.errorType}` };
  return { ok: true, iamAccessKeyId: verdict.accessKeyId };
}
