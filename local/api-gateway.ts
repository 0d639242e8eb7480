// What API Gateway (REST API, Lambda proxy integration) does around the
// function, done locally: find the route, build the v1 proxy event, apply the
// binary media type rule both ways, and answer its own errors in its own words.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { BINARY_MEDIA_TYPES, isBinaryMediaType, matchRoute, ROUTES, type Route } from "../function/routes.ts";

/** API Gateway refuses larger request payloads before invoking anything. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export const LOCAL_STAGE = "local";
export const LOCAL_ACCOUNT = "000000000000";

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/**
 * The route API Gateway would invoke. OPTIONS is answered on every resource of
 * the table (the CORS preflight), whatever methods the resource has.
 */
export function findRoute(method: string, path: string): RouteMatch | undefined {
  if (method !== "OPTIONS") return matchRoute(method, path);
  for (const candidate of new Set(ROUTES.map((r) => r.method))) {
    const found = matchRoute(candidate, path);
    if (found !== undefined) return found;
  }
  return undefined;
}

export interface HttpRequest {
  method: string;
  /** The request target as received: path and query string. */
  url: string;
  /** Node's rawHeaders: name, value, name, value... with the names' case as sent. */
  rawHeaders: readonly string[];
  sourceIp: string;
  localPort: number;
  body: Buffer;
}

export function splitTarget(url: string): { path: string; query: string } {
  const at = url.indexOf("?");
  return at === -1 ? { path: url, query: "" } : { path: url.slice(0, at), query: url.slice(at + 1) };
}

/** Headers as API Gateway passes them: single-value holds the last one, both keep the case sent. */
export function headersOf(rawHeaders: readonly string[]): { headers: Record<string, string>; multi: Record<string, string[]> } {
  // A Map: a header named "constructor" or "__proto__" is a name like any other.
  const multi = new Map<string, string[]>();
  const names = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const key = names.get(name.toLowerCase()) ?? name;
    names.set(name.toLowerCase(), key);
    multi.set(key, [...(multi.get(key) ?? []), rawHeaders[i + 1]!]);
  }
  const headers = Object.fromEntries([...multi].map(([name, values]) => [name, values.at(-1)!]));
  return { headers, multi: Object.fromEntries(multi) };
}

export function lastHeader(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return Object.entries(headers).find(([key]) => key.toLowerCase() === wanted)?.[1];
}

function queryOf(query: string): { single: Record<string, string> | null; multi: Record<string, string[]> | null } {
  const params = new URLSearchParams(query);
  const multi: Record<string, string[]> = {};
  for (const [name, value] of params) (multi[name] ??= []).push(value);
  if (Object.keys(multi).length === 0) return { single: null, multi: null };
  return { single: Object.fromEntries(Object.entries(multi).map(([n, v]) => [n, v.at(-1)!])), multi };
}

/** API Gateway's $context.requestTime: 24/Nov/2025:22:13:00 +0000. */
function requestTime(now: Date): string {
  const month = now.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(now.getUTCDate())}/${month}/${now.getUTCFullYear()}:${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())} +0000`;
}

/** Headers API Gateway adds on the way to the integration. */
function forwardedHeaders(headers: Record<string, string>, request: HttpRequest, requestId: string): Record<string, string> {
  const forwardedFor = lastHeader(headers, "x-forwarded-for");
  return {
    "X-Forwarded-For": forwardedFor === undefined ? request.sourceIp : `${forwardedFor}, ${request.sourceIp}`,
    "X-Forwarded-Port": String(request.localPort),
    "X-Forwarded-Proto": "http",
    "X-Amzn-Trace-Id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${requestId.replace(/-/g, "").slice(0, 24)}`,
  };
}

export interface EventContext {
  requestId: string;
  /** The key that passed the check, for requestContext.identity.apiKey. */
  apiKey: string | null;
  /** In "iam" mode, the access key whose SigV4 signature passed (identity.accessKey, caller, user). */
  iamAccessKeyId?: string;
  /** In "jwt" mode, what the authorizer answered: principalId and its context (sub, scope). */
  authorizer?: Record<string, string>;
  now?: Date;
  /** The API's binary media types; this API's by default. */
  binaryMediaTypes?: readonly string[];
}

export function toProxyEvent(request: HttpRequest, match: RouteMatch, context: EventContext): APIGatewayProxyEvent {
  const { path, query } = splitTarget(request.url);
  const received = headersOf(request.rawHeaders);
  const added = forwardedHeaders(received.headers, request, context.requestId);
  // Drop what the client sent under the names API Gateway sets itself.
  const isAdded = (name: string) => Object.keys(added).some((a) => a.toLowerCase() === name.toLowerCase());
  const headers = { ...Object.fromEntries(Object.entries(received.headers).filter(([n]) => !isAdded(n))), ...added };
  const multiValueHeaders = {
    ...Object.fromEntries(Object.entries(received.multi).filter(([n]) => !isAdded(n))),
    ...Object.fromEntries(Object.entries(added).map(([n, v]) => [n, [v]])),
  };
  const qs = queryOf(query);
  const contentType = lastHeader(headers, "content-type");
  const hasBody = request.body.length > 0;
  // The binary rule, request side: a body whose Content-Type matches the binary
  // media types reaches Lambda base64-encoded; any other body as UTF-8 text.
  const binary = hasBody && isBinaryMediaType(contentType, context.binaryMediaTypes ?? BINARY_MEDIA_TYPES);
  const now = context.now ?? new Date();
  const host = lastHeader(headers, "host") ?? `127.0.0.1:${request.localPort}`;
  return {
    resource: match.route.resource,
    path,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters: qs.single,
    multiValueQueryStringParameters: qs.multi,
    pathParameters: Object.keys(match.params).length === 0 ? null : match.params,
    stageVariables: null,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: "local",
      authorizer: context.authorizer ?? null,
      domainName: host.replace(/:\d+$/, ""),
      domainPrefix: "local",
      extendedRequestId: context.requestId,
      httpMethod: request.method,
      identity: {
        accessKey: context.iamAccessKeyId ?? null,
        accountId: context.iamAccessKeyId === undefined ? null : LOCAL_ACCOUNT,
        apiKey: context.apiKey,
        apiKeyId: context.apiKey === null ? null : "local",
        caller: context.iamAccessKeyId ?? null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp,
        user: context.iamAccessKeyId ?? null,
        userAgent: lastHeader(headers, "user-agent") ?? null,
        userArn: context.iamAccessKeyId === undefined ? null : `arn:aws:iam::${LOCAL_ACCOUNT}:user/imgapi-local`,
      },
      // The path as the client sent it. Locally there is no stage prefix, as
      // behind a custom domain name.
      path,
      protocol: "HTTP/1.1",
      requestId: context.requestId,
      requestTime: requestTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: "local",
      resourcePath: match.route.resource,
      stage: LOCAL_STAGE,
    },
    body: hasBody ? request.body.toString(binary ? "base64" : "utf8") : null,
    isBase64Encoded: binary,
  };
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Whether a value is a result API Gateway would accept from the function. */
export function isProxyResult(value: unknown): value is APIGatewayProxyResult {
  const r = value as Partial<APIGatewayProxyResult> | null;
  return (
    typeof r === "object" && r !== null && Number.isInteger(r.statusCode) && r.statusCode! >= 100 && r.statusCode! <= 599 &&
    (r.body === undefined || r.body === null || typeof r.body === "string")
  );
}

// Hop-by-hop and framing headers are the server's to set, not the function's.
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

export function toHttpResponse(
  result: APIGatewayProxyResult,
  accept: string | undefined,
  binaryMediaTypes: readonly string[] = BINARY_MEDIA_TYPES,
): HttpResponse {
  const headers: Record<string, string | string[]> = {};
  const put = (name: string, value: string | string[]) => {
    if (FRAMING.has(name.toLowerCase())) return;
    const existing = Object.keys(headers).find((n) => n.toLowerCase() === name.toLowerCase());
    if (existing !== undefined) delete headers[existing];
    headers[name] = value;
  };
  for (const [name, value] of Object.entries(result.headers ?? {})) put(name, String(value));
  // Values in multiValueHeaders win over the same name in headers.
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) put(name, values.map(String));
  const body = result.body ?? "";
  if (body !== "" && !Object.keys(headers).some((n) => n.toLowerCase() === "content-type")) headers["Content-Type"] = "application/json";
  // The binary rule, response side: base64 from Lambda becomes bytes only when
  // the first media type of the request's Accept is a binary one; otherwise the
  // caller gets the base64 text. With this API's "*/*" any Accept matches, so
  // only a request without one gets text.
  const firstAccepted = accept?.split(",")[0];
  const bytes = result.isBase64Encoded === true && isBinaryMediaType(firstAccepted, binaryMediaTypes) ? Buffer.from(body, "base64") : Buffer.from(body, "utf8");
  return { statusCode: result.statusCode, headers, body: bytes };
}
