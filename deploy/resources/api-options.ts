// CORS preflights answered by API Gateway itself: every OPTIONS method is a
// MOCK integration that answers 204 with the configured CORS headers, so a
// preflight never invokes the function (issue 11: anonymous preflights were
// Lambda invocations, and shared the stage's throttle with everything else).
// https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors.html
import {
  DeleteMethodResponseCommand,
  PutIntegrationCommand,
  PutIntegrationResponseCommand,
  PutMethodResponseCommand,
  type Method,
  type Resource,
} from "@aws-sdk/client-api-gateway";
import type { Config } from "../../config/schema.ts";
import { corsHeaders } from "../../function/http/response.ts";
import type { DeployContext } from "../context.ts";
import type { Changes} from "../toolkit/index.ts";
import { createOrAdopt } from "../toolkit/index.ts";
import { authDrifted, dropDriftedMethod, getMethod, putMethod, type MethodSpec } from "./api-method-calls.ts";

export const PREFLIGHT_STATUS = "204";
/** A MOCK integration answers with the status its request template names. */
export const PREFLIGHT_REQUEST_TEMPLATES = { "application/json": JSON.stringify({ statusCode: Number(PREFLIGHT_STATUS) }) };

const PREFLIGHT_HEADERS = ["Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Vary"];
/** What a browser can send as Origin: scheme, host, port. Anything else in config could never match one (and must not reach a template). */
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

export interface PreflightSpec {
  /** The method response's declared headers (false: not required). */
  methodResponseParameters: Record<string, boolean>;
  /** Static header values, quoted as API Gateway wants: "'GET,POST'". */
  integrationResponseParameters: Record<string, string>;
  integrationResponseTemplates: Record<string, string>;
}

/**
 * The preflight's headers, as the handler's corsHeaders would send them.
 * "*" or a single origin is a static header. With several origins none can
 * be static: the integration response's mapping template (VTL, unlike
 * gateway responses) echoes the request's Origin when it is on the list,
 * through $context.responseOverride, and sends none otherwise, so the
 * browser refuses the call as the handler's answer would make it.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html
 */
export function preflightSpec(config: Pick<Config, "cors">): PreflightSpec {
  const origins = config.cors.origins;
  const single = origins.includes("*") ? "*" : origins.length === 1 ? origins[0] : undefined;
  const headers = corsHeaders(single, origins);
  const statics = Object.fromEntries(
    PREFLIGHT_HEADERS.filter((h) => headers[h] !== undefined).map((h) => [`method.response.header.${h}`, `'${headers[h]}'`]),
  );
  if (single !== undefined) return { methodResponseParameters: declared(), integrationResponseParameters: statics, integrationResponseTemplates: { "application/json": "" } };
  const { Vary, ...others } = corsHeaders(origins.find((o) => o !== "*"), origins);
  const several = {
    ...Object.fromEntries(Object.entries(others).filter(([h]) => PREFLIGHT_HEADERS.includes(h) && h !== "Access-Control-Allow-Origin").map(([h, v]) => [`method.response.header.${h}`, `'${v}'`])),
    "method.response.header.Vary": `'${Vary ?? "Origin"}'`,
  };
  const allowed = origins.filter((o) => ORIGIN.test(o)).map((o) => `$origin == "${o}"`);
  // Header names reach $input.params as sent; HTTP/2 clients send them lower-cased.
  const template = [
    `#set($origin = $input.params("Origin"))`,
    `#if($origin == "")#set($origin = $input.params("origin"))#end`,
    allowed.length > 0 ? `#if(${allowed.join(" || ")})#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end` : "",
  ].join("\n");
  return { methodResponseParameters: declared(), integrationResponseParameters: several, integrationResponseTemplates: { "application/json": template } };
}

const declared = () => Object.fromEntries(PREFLIGHT_HEADERS.map((h) => [`method.response.header.${h}`, false]));

/** moto reports an empty template as null: both mean "no body". */
const sameMap = (a: Record<string, unknown> | undefined, b: Record<string, unknown>) => {
  const norm = (m: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, v ?? ""]));
  const [x, y] = [norm(a), norm(b)];
  return Object.keys(x).length === Object.keys(y).length && Object.entries(y).every(([k, v]) => x[k] === v);
};

/** Which parts of an OPTIONS method differ from the preflight spec. */
export function preflightDrift(method: Method, spec: PreflightSpec): { integration: boolean; methodResponse: boolean; integrationResponse: boolean } {
  const integration = method.methodIntegration;
  const response = integration?.integrationResponses?.[PREFLIGHT_STATUS];
  return {
    integration: integration?.type !== "MOCK" || !sameMap(integration.requestTemplates, PREFLIGHT_REQUEST_TEMPLATES),
    methodResponse: !sameMap(method.methodResponses?.[PREFLIGHT_STATUS]?.responseParameters, spec.methodResponseParameters),
    integrationResponse: response === undefined || !sameMap(response.responseParameters, spec.integrationResponseParameters) || !sameMap(response.responseTemplates, spec.integrationResponseTemplates),
  };
}

export async function reconcileOptions(ctx: DeployContext, restApiId: string, resource: Resource, spec: MethodSpec, found: Method | undefined, changes: Changes): Promise<void> {
  const { apigw } = ctx.clients;
  const resourceId = resource.id!;
  const label = `OPTIONS ${spec.path}`;
  const preflight = preflightSpec(ctx.config);
  const httpMethod = "OPTIONS";
  let actual = found;
  if (actual !== undefined && authDrifted(actual, spec)) {
    await dropDriftedMethod(ctx, restApiId, resourceId, spec, changes);
    actual = undefined;
  }
  // GetResources may embed a method without its integration's responses: read the method itself then.
  if (actual !== undefined && actual.methodIntegration?.integrationResponses === undefined) actual = (await getMethod(ctx, restApiId, resourceId, httpMethod)) ?? actual;
  const drift = actual === undefined ? { integration: true, methodResponse: true, integrationResponse: true } : preflightDrift(actual, preflight);
  if (actual === undefined) await changes.apply(`method ${label}`, "apigateway:PUT", () => putMethod(ctx, restApiId, resourceId, spec));

  if (drift.methodResponse) {
    // PutMethodResponse is refused ("Response already exists for this resource") over an existing one.
    if (actual?.methodResponses?.[PREFLIGHT_STATUS] !== undefined) {
      await changes.apply(`delete method response ${label}`, "apigateway:DELETE", () =>
        apigw.send(new DeleteMethodResponseCommand({ restApiId, resourceId, httpMethod, statusCode: PREFLIGHT_STATUS })),
      );
    }
    await changes.apply(`method response ${label}`, "apigateway:PUT", () =>
      createOrAdopt(
        "apigateway",
        () => apigw.send(new PutMethodResponseCommand({ restApiId, resourceId, httpMethod, statusCode: PREFLIGHT_STATUS, responseParameters: preflight.methodResponseParameters })),
        async () => (await getMethod(ctx, restApiId, resourceId, httpMethod))?.methodResponses?.[PREFLIGHT_STATUS],
      ),
    );
  }
  if (drift.integration) {
    await changes.apply(`mock integration ${label}`, "apigateway:PUT", () =>
      apigw.send(new PutIntegrationCommand({ restApiId, resourceId, httpMethod, type: "MOCK", requestTemplates: PREFLIGHT_REQUEST_TEMPLATES, passthroughBehavior: "WHEN_NO_MATCH" })),
    );
  }
  // A new integration has no responses; PUT replaces an existing one, so a retried one does no harm.
  if (drift.integration || drift.integrationResponse) {
    await changes.apply(`integration response ${label}`, "apigateway:PUT", () =>
      apigw.send(
        new PutIntegrationResponseCommand({
          restApiId,
          resourceId,
          httpMethod,
          statusCode: PREFLIGHT_STATUS,
          responseParameters: preflight.integrationResponseParameters,
          responseTemplates: preflight.integrationResponseTemplates,
        }),
      ),
    );
  }
}
