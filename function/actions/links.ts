// Absolute links back into the API, built from the request itself so they are
// right behind API Gateway (https://host/stage/...) and locally alike.
import type { APIGatewayProxyEvent } from "aws-lambda";
import { header } from "../http/request.ts";

export function apiBase(event: APIGatewayProxyEvent): string {
  const host = header(event, "host") ?? event.requestContext?.domainName ?? "localhost";
  const proto = header(event, "x-forwarded-proto") ?? "https";
  // requestContext.path is the path as the client sent it (with the stage);
  // event.path is without it. The difference is the stage prefix.
  const full = event.requestContext?.path ?? event.path;
  const prefix = full.endsWith(event.path) ? full.slice(0, full.length - event.path.length) : "";
  return `${proto}://${host}${prefix}`;
}

export const imageLink = (base: string, id: string) => `${base}/images/${id}`;
export const sizeLink = (base: string, id: string, size: string) => `${base}/images/${id}/${encodeURIComponent(size)}`;
