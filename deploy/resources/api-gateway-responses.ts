// API Gateway's own answers (403 missing key, 429 throttled, 413, 5xx...)
// never reach the handler: each gateway response type gets the function's
// error shape with a stable code (function/http/gateway-errors.ts) and the
// CORS headers, or a browser could not even read it.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-gatewayResponse-definition.html
import { GetGatewayResponsesCommand, PutGatewayResponseCommand, type GatewayResponse } from "@aws-sdk/client-api-gateway";
import type { Config } from "../../config/schema.ts";
import { GATEWAY_ERRORS, GATEWAY_RESPONSE_TYPES, gatewayErrorTemplate, type GatewayResponseType } from "../../function/http/gateway-errors.ts";
import { corsHeaders } from "../../function/http/response.ts";
import type { DeployContext } from "../context.ts";
import { step } from "../errors.ts";
import type { Changes } from "../toolkit/index.ts";

/**
 * The headers every gateway response carries. Values are static (gateway
 * responses have no VTL): "*", or the single configured origin; with several
 * origins none can be chosen, so only Vary is sent and a browser cannot read
 * API Gateway's own errors from them (the handler's answers it can).
 */
export function gatewayResponseParameters(config: Pick<Config, "cors">): Record<string, string> {
  const origins = config.cors.origins;
  const single = origins.includes("*") ? "*" : origins.length === 1 ? origins[0] : undefined;
  const headers = { ...corsHeaders(single, origins), "X-Content-Type-Options": "nosniff" };
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [`gatewayresponse.header.${k}`, `'${v}'`]));
}

export interface DesiredGatewayResponse {
  responseParameters: Record<string, string>;
  responseTemplates: Record<string, string>;
}

export function desiredGatewayResponses(config: Pick<Config, "cors">): Record<GatewayResponseType, DesiredGatewayResponse> {
  const responseParameters = gatewayResponseParameters(config);
  const desired = {} as Record<GatewayResponseType, DesiredGatewayResponse>;
  for (const type of GATEWAY_RESPONSE_TYPES) desired[type] = { responseParameters, responseTemplates: { "application/json": gatewayErrorTemplate(type) } };
  return desired;
}

const sameMap = (a: Record<string, string> | undefined, b: Record<string, string>) =>
  Object.keys(a ?? {}).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a?.[k] === v);

/**
 * Whether a gateway response is as desired. The status code is left to API
 * Gateway (its default for the type; for Lambda's failures the status it
 * chooses): one set out of band is drift, above all on DEFAULT_4XX/5XX,
 * where it would change the status of every error of the class.
 */
export function gatewayResponseMatches(type: GatewayResponseType, actual: GatewayResponse | undefined, desired: DesiredGatewayResponse): boolean {
  if (actual === undefined || !sameMap(actual.responseParameters, desired.responseParameters) || !sameMap(actual.responseTemplates, desired.responseTemplates)) return false;
  return actual.statusCode === undefined || Number(actual.statusCode) === GATEWAY_ERRORS[type].status;
}

export async function reconcileGatewayResponses(ctx: DeployContext, restApiId: string, changes: Changes): Promise<void> {
  // "Pagination is not supported for this collection": one page holds every type.
  const current = await step("reading gateway responses of", "REST API", ctx.names.restApi, "apigateway:GET", () =>
    ctx.clients.apigw.send(new GetGatewayResponsesCommand({ restApiId, limit: 500 })),
  );
  const desired = desiredGatewayResponses(ctx.config);
  for (const responseType of GATEWAY_RESPONSE_TYPES) {
    const actual = current.items?.find((g) => g.responseType === responseType);
    if (gatewayResponseMatches(responseType, actual, desired[responseType])) continue;
    // PUT replaces the response whole, so a retried one (lost answer) does no harm.
    await changes.apply(`gateway response ${responseType}`, "apigateway:PUT", () =>
      ctx.clients.apigw.send(new PutGatewayResponseCommand({ restApiId, responseType, ...desired[responseType] })),
    );
  }
}
