// Absolute links back into the API (links, Location, public URLs). Never from
// the request's Host or X-Forwarded-Host headers, which a client writes: from
// a configured base URL when there is one (a custom domain, local mode), else
// from what API Gateway itself puts in the event: the API's domain
// (requestContext.domainName) and the stage prefix of the path it received
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format).
import type { APIGatewayProxyEvent } from "aws-lambda";
import { header } from "../http/request.ts";

/** An optional base URL for links, e.g. https://images.example.com (a custom domain name). */
export const BASE_URL_ENV = "IMGAPI_BASE_URL";

/** A base URL as configured: http(s), no query or fragment, no trailing slash; throws naming what is wrong. */
export function parseBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`Expected an absolute http(s) URL for ${BASE_URL_ENV} but received ${JSON.stringify(text.slice(0, 100))}`);
  }
  if (!["http:", "https:"].includes(url.protocol) || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new Error(`Expected an http(s) URL without credentials, query or fragment for ${BASE_URL_ENV} but received ${JSON.stringify(text.slice(0, 100))}`);
  }
  return url.href.replace(/\/+$/, "");
}

export function apiBase(event: APIGatewayProxyEvent, configured?: string): string {
  if (configured !== undefined) return configured;
  const domain = event.requestContext?.domainName ?? "localhost";
  // API Gateway's endpoints answer HTTPS on 443 only and say so in these two
  // headers; only those exact shapes are taken (the local stand-in sets http
  // and its port the same way).
  const proto = header(event, "x-forwarded-proto") === "http" ? "http" : "https";
  const port = header(event, "x-forwarded-port");
  const shownPort = port !== undefined && /^[1-9][0-9]{0,4}$/.test(port) && port !== (proto === "https" ? "443" : "80") ? `:${port}` : "";
  // requestContext.path is the path as the client sent it (with the stage);
  // event.path is without it. The difference is the stage prefix.
  const full = event.requestContext?.path ?? event.path;
  const prefix = full.endsWith(event.path) ? full.slice(0, full.length - event.path.length) : "";
  return `${proto}://${domain}${shownPort}${prefix}`;
}

export const imageLink = (base: string, id: string) => `${base}/images/${id}`;
export const sizeLink = (base: string, id: string, size: string) => `${base}/images/${id}/${encodeURIComponent(size)}`;
