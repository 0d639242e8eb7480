// API Gateway's own answers ("gateway responses": a missing key, a throttle,
// a body too large, a function that could not be invoked) in the function's
// error shape, {"error":{"code","message"}}, so a client handles one shape
// whatever answered. Deploy writes one response template per type from this
// table; the local gateway can answer with the same bodies.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html

export const GATEWAY_RESPONSE_TYPES = [
  "ACCESS_DENIED",
  "API_CONFIGURATION_ERROR",
  "AUTHORIZER_CONFIGURATION_ERROR",
  "AUTHORIZER_FAILURE",
  "BAD_REQUEST_BODY",
  "BAD_REQUEST_PARAMETERS",
  "DEFAULT_4XX",
  "DEFAULT_5XX",
  "EXPIRED_TOKEN",
  "INTEGRATION_FAILURE",
  "INTEGRATION_TIMEOUT",
  "INVALID_API_KEY",
  "INVALID_SIGNATURE",
  "MISSING_AUTHENTICATION_TOKEN",
  "QUOTA_EXCEEDED",
  "REQUEST_TOO_LARGE",
  "RESOURCE_NOT_FOUND",
  "THROTTLED",
  "UNAUTHORIZED",
  "UNSUPPORTED_MEDIA_TYPE",
  "WAF_FILTERED",
] as const;

export type GatewayResponseType = (typeof GATEWAY_RESPONSE_TYPES)[number];

export interface GatewayError {
  /** API Gateway's documented default status; DEFAULT_4XX/5XX keep the status of the error they stand for. */
  status: number | undefined;
  /** Stable: clients may branch on it. */
  code: string;
  /**
   * A fixed message where API Gateway's own would mislead ("Missing
   * Authentication Token" for an unknown route); otherwise API Gateway's.
   */
  message?: string;
}

export const GATEWAY_ERRORS: Record<GatewayResponseType, GatewayError> = {
  ACCESS_DENIED: { status: 403, code: "FORBIDDEN" },
  API_CONFIGURATION_ERROR: { status: 500, code: "API_CONFIGURATION_ERROR" },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, code: "AUTHORIZER_CONFIGURATION_ERROR" },
  AUTHORIZER_FAILURE: { status: 500, code: "AUTHORIZER_FAILURE" },
  BAD_REQUEST_BODY: { status: 400, code: "INVALID_REQUEST" },
  BAD_REQUEST_PARAMETERS: { status: 400, code: "INVALID_REQUEST" },
  DEFAULT_4XX: { status: undefined, code: "REQUEST_REFUSED" },
  // The function's own catch-all code: one code for "something broke on our side".
  DEFAULT_5XX: { status: undefined, code: "INTERNAL_ERROR" },
  EXPIRED_TOKEN: { status: 403, code: "EXPIRED_TOKEN" },
  // Lambda refused the invoke, or the function failed or answered malformed
  // JSON: "If the Lambda API rejects the invocation request, API Gateway
  // returns a 500 ... {"message": "Internal server error"}"
  // (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
  // A body over Lambda's 6 MB invoke payload (after base64) is answered as
  // REQUEST_TOO_LARGE in field reports (413 "Request Too Long"); should it
  // reach Lambda instead, its refusal looks like every other one here, so the
  // message names that cause too.
  INTEGRATION_FAILURE: { status: 504, code: "INTEGRATION_FAILURE", message: "The image function could not be invoked or did not answer. A request body over about 4.4 MB is one cause (Lambda's 6 MB invoke limit after base64): upload large images through POST /uploads." },
  INTEGRATION_TIMEOUT: { status: 504, code: "INTEGRATION_TIMEOUT" },
  INVALID_API_KEY: { status: 403, code: "INVALID_API_KEY", message: "Missing or invalid API key: send your key in the x-api-key header." },
  // SigV4 (auth "iam"); not the public URLs' INVALID_SIGNATURE, which the function answers.
  INVALID_SIGNATURE: { status: 403, code: "INVALID_AWS_SIGNATURE" },
  // What API Gateway answers for a path or method no route has, as well as an unsigned call to an AWS_IAM method.
  MISSING_AUTHENTICATION_TOKEN: {
    status: 403,
    code: "MISSING_AUTHENTICATION_TOKEN",
    message: "No route matches this method and path, or the route needs a SigV4-signed request. See openapi.yaml for the routes.",
  },
  QUOTA_EXCEEDED: { status: 429, code: "QUOTA_EXCEEDED", message: "This API key has used its request quota for the period. It resets at the start of the next period." },
  REQUEST_TOO_LARGE: {
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    message: "The request body is too large to reach the image function (about 4.4 MB of image, after API Gateway's base64). Upload large images through POST /uploads.",
  },
  RESOURCE_NOT_FOUND: { status: 404, code: "ROUTE_NOT_FOUND" },
  THROTTLED: { status: 429, code: "THROTTLED", message: "Too many requests: slow down and retry with backoff." },
  UNAUTHORIZED: { status: 401, code: "UNAUTHORIZED" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
  // The stack's web ACL has one rule: requests per IP (config api.rateLimitPerIp).
  WAF_FILTERED: { status: 403, code: "RATE_LIMITED", message: "Too many requests from this address in the last 5 minutes: wait and retry." },
};

/**
 * The body template API Gateway fills in. Gateway response templates are not
 * VTL, only variable substitution, and $context.error.messageString is
 * already a quoted JSON string ("The quoted value of $context.error.message"),
 * so it stands unquoted.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.responseTemplates.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
 */
export function gatewayErrorTemplate(type: GatewayResponseType): string {
  const { code, message } = GATEWAY_ERRORS[type];
  return `{"error":{"code":${JSON.stringify(code)},"message":${message === undefined ? "$context.error.messageString" : JSON.stringify(message)}}}`;
}

/** The body API Gateway sends for `type` when its own message is `apiGatewayMessage` (what the local gateway answers). */
export function gatewayErrorBody(type: GatewayResponseType, apiGatewayMessage: string): string {
  return gatewayErrorTemplate(type).replace("$context.error.messageString", JSON.stringify(apiGatewayMessage));
}
