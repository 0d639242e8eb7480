// A request as the fault proxy sees it: which service and operation it is for
// (read from the SigV4 credential scope and the protocol), its path, query and
// body; and the test of a request against a rule's match.
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

export interface ProxiedRequest {
  method: string;
  /** The request target as sent: path and query. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The signing name from the SigV4 credential scope ("s3", "iam", "kms", "apigateway"...). */
  service: string;
  /** The operation when the protocol names it (X-Amz-Target, Action=, x-id=), else "". */
  operation: string;
}

export interface MatchSpec {
  method?: string;
  service?: string;
  operation?: string | RegExp;
  /** Tested against the path without the query string. */
  path?: RegExp;
  where?: (req: ProxiedRequest) => boolean;
}

export function matches(spec: MatchSpec, req: Pick<ProxiedRequest, "method" | "service" | "operation" | "path"> & Partial<ProxiedRequest>): boolean {
  if (spec.method !== undefined && spec.method !== req.method) return false;
  if (spec.service !== undefined && spec.service !== req.service) return false;
  if (spec.operation !== undefined) {
    if (typeof spec.operation === "string" ? spec.operation !== req.operation : !spec.operation.test(req.operation)) return false;
  }
  if (spec.path !== undefined && !spec.path.test(req.path)) return false;
  if (spec.where !== undefined && !spec.where(req as ProxiedRequest)) return false;
  return true;
}

function serviceOf(headers: IncomingHttpHeaders): string {
  const auth = String(headers.authorization ?? "");
  return /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth)?.[1] ?? "";
}

function operationOf(headers: IncomingHttpHeaders, query: URLSearchParams, body: Buffer): string {
  const target = headers["x-amz-target"];
  if (typeof target === "string") return target.split(".").pop() ?? "";
  if (String(headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
    return new URLSearchParams(body.toString("utf8")).get("Action") ?? "";
  }
  return query.get("x-id") ?? "";
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function readRequest(incoming: IncomingMessage): Promise<ProxiedRequest> {
  const body = await readAll(incoming);
  const url = incoming.url ?? "/";
  const parsed = new URL(url, "http://proxy");
  return {
    method: incoming.method ?? "GET",
    url,
    path: decodeURIComponent(parsed.pathname),
    query: parsed.searchParams,
    headers: incoming.headers,
    body,
    service: serviceOf(incoming.headers),
    operation: operationOf(incoming.headers, parsed.searchParams, body),
  };
}
