// API Gateway's own answers in the function's error shape, and the
// preflight's headers: what deploy writes into the gateway responses and the
// OPTIONS mocks, checked without AWS.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GatewayResponseType } from "@aws-sdk/client-api-gateway";
import { ERROR_STATUS } from "../function/errors.ts";
import { GATEWAY_ERRORS, GATEWAY_RESPONSE_TYPES, gatewayErrorBody, gatewayErrorTemplate, type GatewayResponseType as Type } from "../function/http/gateway-errors.ts";
import { gatewayResponseParameters } from "../deploy/resources/api-gateway-responses.ts";
import { preflightSpec } from "../deploy/resources/api-options.ts";

/** The default status codes of https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html */
const DOCUMENTED: Record<Type, number | undefined> = {
  ACCESS_DENIED: 403, API_CONFIGURATION_ERROR: 500, AUTHORIZER_CONFIGURATION_ERROR: 500, AUTHORIZER_FAILURE: 500, BAD_REQUEST_BODY: 400,
  BAD_REQUEST_PARAMETERS: 400, DEFAULT_4XX: undefined, DEFAULT_5XX: undefined, EXPIRED_TOKEN: 403, INTEGRATION_FAILURE: 504, INTEGRATION_TIMEOUT: 504,
  INVALID_API_KEY: 403, INVALID_SIGNATURE: 403, MISSING_AUTHENTICATION_TOKEN: 403, QUOTA_EXCEEDED: 429, REQUEST_TOO_LARGE: 413, RESOURCE_NOT_FOUND: 404,
  THROTTLED: 429, UNAUTHORIZED: 401, UNSUPPORTED_MEDIA_TYPE: 415, WAF_FILTERED: 403,
};

describe("gateway responses", () => {
  test("every type API Gateway can send has an entry, with its documented status", () => {
    assert.deepEqual([...GATEWAY_RESPONSE_TYPES].sort(), Object.values(GatewayResponseType).sort(), "the SDK's list of types");
    for (const type of GATEWAY_RESPONSE_TYPES) assert.equal(GATEWAY_ERRORS[type].status, DOCUMENTED[type], type);
  });

  test("each body is the function's error shape once API Gateway substitutes its quoted message", () => {
    // $context.error.messageString is "the quoted value of $context.error.message": a JSON string, quotes included.
    const message = 'Forbidden: "x" \\ y';
    for (const type of GATEWAY_RESPONSE_TYPES) {
      const filled = gatewayErrorTemplate(type).replace("$context.error.messageString", JSON.stringify(message));
      const body = JSON.parse(filled) as { error: { code: string; message: string } };
      assert.deepEqual(Object.keys(body), ["error"], type);
      assert.deepEqual(Object.keys(body.error), ["code", "message"], type);
      assert.match(body.error.code, /^[A-Z][A-Z0-9_]+$/, `${type}: a stable code`);
      assert.equal(body.error.code, GATEWAY_ERRORS[type].code);
      assert.equal(body.error.message, GATEWAY_ERRORS[type].message ?? message, type);
      assert.equal(gatewayErrorBody(type, message), filled);
      assert.ok(!/\$(?!context\.error\.messageString)/.test(gatewayErrorTemplate(type)), `${type}: no other variable for API Gateway to substitute`);
    }
  });

  test("a body too large for the function says PAYLOAD_TOO_LARGE with the function's own 413, and where large images go", () => {
    assert.deepEqual([GATEWAY_ERRORS.REQUEST_TOO_LARGE.code, GATEWAY_ERRORS.REQUEST_TOO_LARGE.status], ["PAYLOAD_TOO_LARGE", ERROR_STATUS.PAYLOAD_TOO_LARGE]);
    assert.match(GATEWAY_ERRORS.REQUEST_TOO_LARGE.message ?? "", /POST \/uploads/);
    assert.match(GATEWAY_ERRORS.INTEGRATION_FAILURE.message ?? "", /POST \/uploads/, "a body Lambda refuses looks like any refused invoke: the message names that cause");
  });

  test("codes the function also answers mean the same there", () => {
    for (const type of GATEWAY_RESPONSE_TYPES) {
      const { code, status } = GATEWAY_ERRORS[type];
      const functionStatus = ERROR_STATUS[code as keyof typeof ERROR_STATUS];
      if (functionStatus !== undefined && status !== undefined) assert.equal(functionStatus, status, `${type} answers ${code}, which the function answers with ${functionStatus}`);
    }
  });

  test("CORS headers: static for \"*\" or one origin; with several only Vary (no static value fits them all)", () => {
    assert.equal(gatewayResponseParameters({ cors: { origins: ["*"] } })["gatewayresponse.header.Access-Control-Allow-Origin"], "'*'");
    const one = gatewayResponseParameters({ cors: { origins: ["https://a.example"] } });
    assert.deepEqual([one["gatewayresponse.header.Access-Control-Allow-Origin"], one["gatewayresponse.header.Vary"]], ["'https://a.example'", "'Origin'"]);
    const several = gatewayResponseParameters({ cors: { origins: ["https://a.example", "https://b.example"] } });
    assert.deepEqual([several["gatewayresponse.header.Access-Control-Allow-Origin"], several["gatewayresponse.header.Vary"]], [undefined, "'Origin'"]);
    for (const p of [one, several]) assert.equal(p["gatewayresponse.header.X-Content-Type-Options"], "'nosniff'");
  });
});

describe("preflights", () => {
  test("\"*\" or one origin: every header a static value the method response declares, no template", () => {
    for (const origins of [["*"], ["https://a.example"]]) {
      const spec = preflightSpec({ cors: { origins } });
      assert.equal(spec.integrationResponseParameters["method.response.header.Access-Control-Allow-Origin"], `'${origins[0]}'`);
      assert.equal(spec.integrationResponseParameters["method.response.header.Access-Control-Allow-Methods"], "'GET,POST,PUT,DELETE,OPTIONS'");
      assert.equal(spec.integrationResponseParameters["method.response.header.Access-Control-Max-Age"], "'600'");
      for (const k of Object.keys(spec.integrationResponseParameters)) assert.equal(spec.methodResponseParameters[k], false, `${k} declared`);
      assert.deepEqual(spec.integrationResponseTemplates, { "application/json": "" });
    }
  });

  test("several origins: the template echoes the request's Origin only when it is on the list", () => {
    const spec = preflightSpec({ cors: { origins: ["https://a.example", "http://b.example:8080", "https://c.example/with/path"] } });
    assert.equal(spec.integrationResponseParameters["method.response.header.Access-Control-Allow-Origin"], undefined);
    assert.equal(spec.integrationResponseParameters["method.response.header.Vary"], "'Origin'");
    const template = spec.integrationResponseTemplates["application/json"]!;
    assert.match(template, /\$context\.responseOverride\.header\.Access-Control-Allow-Origin = \$origin/);
    assert.match(template, /#if\(\$origin == "https:\/\/a\.example" \|\| \$origin == "http:\/\/b\.example:8080"\)/);
    assert.ok(!template.includes("c.example"), "what no browser sends as an Origin never reaches the template");
  });
});
