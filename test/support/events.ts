// API Gateway REST (v1) proxy events as the deployed API hands them to the
// function: stage "prod", the API key in x-api-key (and identity.apiKey),
// and every body base64-encoded, JSON included, because the API's binary
// media type is "*/*" (see function/routes.ts).
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent } from "aws-lambda";

export const STAGE = "prod";
export const HOST = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com";
/** The key the tests send: it must never show up in a log line. */
export const TEST_API_KEY = "tk_9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZsecret";
export const SOURCE_IP = "203.0.113.7";

export type Headers = Record<string, string>;

export interface EventInit {
  method: "GET" | "POST" | "OPTIONS" | "PUT" | "DELETE";
  /** The API Gateway resource, e.g. "/images/{id}/{size}". */
  resource: string;
  /** Path parameters as API Gateway hands them over (URL-decoded). */
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Headers;
  /** Bytes are always base64-encoded; a string is sent as it is unless `base64` is true. */
  body?: Buffer | string;
  base64?: boolean;
  /** The x-api-key header; `null` leaves it out. */
  apiKey?: string | null;
}

function pathOf(resource: string, params: Record<string, string>): string {
  return resource.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
}

/** A REST API proxy event, complete enough for anything that reads it. */
export function apiEvent(init: EventInit): APIGatewayProxyEvent {
  const pathParameters = init.pathParameters ?? null;
  const path = pathOf(init.resource, init.pathParameters ?? {});
  const apiKey = init.apiKey === undefined ? TEST_API_KEY : init.apiKey;
  const headers: Headers = {
    Accept: "*/*",
    Host: HOST,
    "User-Agent": "imgapi-tests/1.0",
    "X-Amzn-Trace-Id": `Root=1-${Date.now().toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)}`,
    "X-Forwarded-For": SOURCE_IP,
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
    ...(apiKey === null ? {} : { "x-api-key": apiKey }),
    ...init.headers,
  };
  let body: string | null = null;
  let isBase64Encoded = false;
  if (Buffer.isBuffer(init.body)) {
    body = init.body.toString("base64");
    isBase64Encoded = true;
  } else if (typeof init.body === "string") {
    isBase64Encoded = init.base64 ?? false;
    body = isBase64Encoded ? Buffer.from(init.body, "utf8").toString("base64") : init.body;
  }
  const query = init.query !== undefined && Object.keys(init.query).length > 0 ? init.query : null;
  const requestId = randomUUID();
  const now = Date.now();
  return {
    resource: init.resource,
    path,
    httpMethod: init.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: query,
    multiValueQueryStringParameters: query === null ? null : Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
    pathParameters,
    stageVariables: null,
    requestContext: {
      resourceId: "abc123",
      resourcePath: init.resource,
      httpMethod: init.method,
      extendedRequestId: `${requestId.slice(0, 8)}=`,
      requestTime: new Date(now).toUTCString(),
      path: `/${STAGE}${path}`,
      accountId: "123456789012",
      protocol: "HTTP/1.1",
      stage: STAGE,
      domainPrefix: HOST.split(".")[0],
      requestTimeEpoch: now,
      requestId,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey,
        apiKeyId: apiKey === null ? null : "k1abcdefgh",
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: SOURCE_IP,
        user: null,
        userAgent: "imgapi-tests/1.0",
        userArn: null,
      },
      domainName: HOST,
      apiId: HOST.split(".")[0]!,
      authorizer: undefined,
    },
    body,
    isBase64Encoded,
  };
}

/** POST /images with the image bytes as the body. */
export function uploadEvent(bytes: Buffer, options: { contentType?: string; name?: string; headers?: Headers } = {}): APIGatewayProxyEvent {
  return apiEvent({
    method: "POST",
    resource: "/images",
    headers: { "Content-Type": options.contentType ?? "application/octet-stream", ...options.headers },
    body: bytes,
    ...(options.name === undefined ? {} : { query: { name: options.name } }),
  });
}

/**
 * POST /images with JSON {"image": "<base64>", "name"}. As API Gateway sends it
 * (base64 of the JSON) unless `base64: false` (a test client, or another API setup).
 */
export function uploadJsonEvent(
  doc: { image?: unknown; name?: unknown } | string,
  options: { base64?: boolean; headers?: Headers } = {},
): APIGatewayProxyEvent {
  return apiEvent({
    method: "POST",
    resource: "/images",
    headers: { "Content-Type": "application/json", ...options.headers },
    body: typeof doc === "string" ? doc : JSON.stringify(doc),
    base64: options.base64 ?? true,
  });
}

/** GET /images/{id}: create missing sizes and list them. */
export function listEvent(id: string, query?: Record<string, string>, headers?: Headers): APIGatewayProxyEvent {
  return apiEvent({
    method: "GET",
    resource: "/images/{id}",
    pathParameters: { id },
    ...(query === undefined ? {} : { query }),
    ...(headers === undefined ? {} : { headers }),
  });
}

/** GET /images/{id}/{size}: one size's bytes. */
export function sizeEvent(id: string, size: string, headers?: Headers): APIGatewayProxyEvent {
  return apiEvent({
    method: "GET",
    resource: "/images/{id}/{size}",
    pathParameters: { id, size },
    ...(headers === undefined ? {} : { headers }),
  });
}

/** A CORS preflight, answered by the function (API Gateway's proxy passes OPTIONS through). */
export function preflightEvent(resource: string, pathParameters: Record<string, string> | undefined, origin: string): APIGatewayProxyEvent {
  return apiEvent({
    method: "OPTIONS",
    resource,
    ...(pathParameters === undefined ? {} : { pathParameters }),
    headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key" },
    apiKey: null,
  });
}

/** The bytes of a binary (base64) response body. */
export function responseBytes(result: { body?: string; isBase64Encoded?: boolean }): Buffer {
  if (result.isBase64Encoded !== true) throw new Error(`expected a base64 body, got ${String(result.body).slice(0, 200)}`);
  return Buffer.from(result.body ?? "", "base64");
}

/** The JSON of a response body. */
export function responseJson<T = Record<string, unknown>>(result: { body?: string; isBase64Encoded?: boolean }): T {
  if (result.isBase64Encoded === true) throw new Error("expected a JSON body, got base64");
  return JSON.parse(result.body ?? "") as T;
}
