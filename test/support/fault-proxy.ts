// A fault-injecting HTTP proxy in front of moto (or any AWS-compatible
// endpoint). Clients are pointed at the proxy; by default it forwards every
// request untouched. A test tells it: "answer the next N requests matching
// this with status X and this error body", "hold them past the client's
// timeout", "drop the connection", or "run this side effect before/after
// forwarding". Every request is logged with the service and operation it was
// for, so a test can count attempts (bounded retries) and see what was faulted.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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

export type Fault =
  /** Answer without forwarding. */
  | { kind: "respond"; status: number; body?: string; headers?: Record<string, string> }
  /** Hold the request, then forward it unless the client has given up by then. */
  | { kind: "delay"; ms: number }
  /** Destroy the client's connection without an answer. */
  | { kind: "reset" }
  /** Run a side effect (e.g. delete the object), then forward. */
  | { kind: "before"; run: (req: ProxiedRequest) => Promise<void> }
  /** Forward, run a side effect, then answer with the upstream's answer. */
  | { kind: "after"; run: (req: ProxiedRequest) => Promise<void> }
  /** Forward (the call takes effect), then lose the answer: the client gets this error instead. */
  | { kind: "lose"; answer: { kind: "respond"; status: number; body?: string; headers?: Record<string, string> } };

export type RespondFault = Extract<Fault, { kind: "respond" }>;

export interface MatchSpec {
  method?: string;
  service?: string;
  operation?: string | RegExp;
  /** Tested against the path without the query string. */
  path?: RegExp;
  where?: (req: ProxiedRequest) => boolean;
}

export interface FaultRule {
  name: string;
  match: MatchSpec;
  fault: Fault | ((req: ProxiedRequest) => Fault);
  /** Let this many matching requests through first. */
  skip?: number;
  /** Fault this many matching requests (after `skip`); default 1; Infinity for all. */
  times?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  service: string;
  operation: string;
  /** The rule that faulted it, if any. */
  fault?: string;
  status?: number;
}

export interface FaultProxy {
  url: string;
  /** Adds a rule; rules are checked in the order added, the first match applies. */
  inject(rule: FaultRule): void;
  /** Removes every rule and its counts (the log stays). */
  clear(): void;
  /** Every request seen, in order of arrival. */
  log: LoggedRequest[];
  /** Requests in the log matching a spec. */
  count(match: MatchSpec): number;
  /** How many requests the rule(s) of that name have faulted so far. */
  faulted(name: string): number;
  /** Resolves once no request is in flight (writes still running after the client got its answer). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface LiveRule extends FaultRule {
  seen: number;
  hits: number;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- Error bodies in each AWS protocol's own shape --------------------------

/** S3 (REST-XML): `<Error><Code>SlowDown</Code>...`. */
export function s3Error(status: number, code: string, message = code): RespondFault {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>FAULT0000000000</RequestId><HostId>fault-proxy</HostId></Error>`;
  return { kind: "respond", status, body, headers: { "Content-Type": "application/xml" } };
}

/** IAM and STS (awsQuery): `<ErrorResponse><Error><Code>Throttling</Code>...`. */
export function queryError(status: number, code: string, message = code): RespondFault {
  const body = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${status >= 500 ? "Receiver" : "Sender"}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fault-0000</RequestId></ErrorResponse>`;
  return { kind: "respond", status, body, headers: { "Content-Type": "text/xml" } };
}

/** KMS, CloudWatch Logs, CloudTrail (awsJson1_1): `{"__type": "ThrottlingException"}`. */
export function jsonError(status: number, code: string, message = code): RespondFault {
  return { kind: "respond", status, body: JSON.stringify({ __type: code, message }), headers: { "Content-Type": "application/x-amz-json-1.1" } };
}

/** Lambda and API Gateway (restJson1): the code in x-amzn-ErrorType. */
export function restJsonError(status: number, code: string, message = code): RespondFault {
  return {
    kind: "respond",
    status,
    body: JSON.stringify({ message, Type: status >= 500 ? "Service" : "User" }),
    headers: { "Content-Type": "application/json", "x-amzn-ErrorType": code },
  };
}

/** An error in the protocol of the service a request is for. */
export function serviceError(service: string, status: number, code: string, message = code): RespondFault {
  if (service === "s3") return s3Error(status, code, message);
  if (service === "iam" || service === "sts") return queryError(status, code, message);
  if (service === "lambda" || service === "apigateway") return restJsonError(status, code, message);
  return jsonError(status, code, message);
}

// ---- The proxy --------------------------------------------------------------

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const rules: LiveRule[] = [];
  const log: LoggedRequest[] = [];
  const hits = new Map<string, number>();
  let inFlight = 0;

  function pick(req: ProxiedRequest): LiveRule | undefined {
    for (const rule of rules) {
      if (!matches(rule.match, req)) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.skip ?? 0)) continue;
      if (rule.hits >= (rule.times ?? 1)) continue;
      rule.hits += 1;
      hits.set(rule.name, (hits.get(rule.name) ?? 0) + 1);
      return rule;
    }
    return undefined;
  }

  function respond(req: ProxiedRequest, res: ServerResponse, entry: LoggedRequest, fault: RespondFault): void {
    entry.status = fault.status;
    const payload = req.method === "HEAD" ? "" : (fault.body ?? "");
    res.writeHead(fault.status, { ...fault.headers, "Content-Length": Buffer.byteLength(fault.body ?? ""), "x-amzn-RequestId": "fault-proxy" });
    res.end(payload);
  }

  function forward(req: ProxiedRequest, res: ServerResponse, entry: LoggedRequest, then?: () => Promise<void>, replace?: RespondFault): Promise<void> {
    return new Promise((resolve) => {
      const headers = { ...req.headers, host: target.host };
      delete headers["transfer-encoding"];
      headers["content-length"] = String(req.body.length);
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on("data", (c: Buffer) => chunks.push(c));
        upRes.on("end", () => {
          const answer = async () => {
            if (then !== undefined) await then();
            if (res.destroyed) return resolve();
            if (replace !== undefined) {
              respond(req, res, entry, replace);
              return resolve();
            }
            entry.status = upRes.statusCode;
            const outHeaders = { ...upRes.headers };
            delete outHeaders["transfer-encoding"];
            const body = Buffer.concat(chunks);
            if (req.method !== "HEAD") outHeaders["content-length"] = String(body.length);
            res.writeHead(upRes.statusCode ?? 502, outHeaders);
            res.end(req.method === "HEAD" ? undefined : body);
            resolve();
          };
          answer().catch((e: unknown) => {
            res.destroy(e as Error);
            resolve();
          });
        });
      });
      up.on("error", () => {
        if (!res.headersSent) res.writeHead(502).end();
        resolve();
      });
      up.end(req.body);
    });
  }

  async function handle(incoming: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(incoming);
    const url = incoming.url ?? "/";
    const parsed = new URL(url, "http://proxy");
    const req: ProxiedRequest = {
      method: incoming.method ?? "GET",
      url,
      path: decodeURIComponent(parsed.pathname),
      query: parsed.searchParams,
      headers: incoming.headers,
      body,
      service: serviceOf(incoming.headers),
      operation: "",
    };
    req.operation = operationOf(incoming.headers, parsed.searchParams, body);
    const entry: LoggedRequest = { method: req.method, path: req.path, service: req.service, operation: req.operation };
    log.push(entry);
    const rule = pick(req);
    if (rule === undefined) return forward(req, res, entry);
    entry.fault = rule.name;
    const fault = typeof rule.fault === "function" ? rule.fault(req) : rule.fault;
    switch (fault.kind) {
      case "respond":
        return respond(req, res, entry, fault);
      case "reset":
        incoming.socket.destroy();
        return;
      case "delay": {
        await sleep(fault.ms);
        // The client gave up (its timeout): nothing reaches the upstream.
        if (res.destroyed || incoming.socket.destroyed) return;
        return forward(req, res, entry);
      }
      case "before":
        await fault.run(req);
        return forward(req, res, entry);
      case "after":
        return forward(req, res, entry, () => fault.run(req));
      case "lose":
        return forward(req, res, entry, undefined, fault.answer);
    }
  }

  const server = createServer((incoming, res) => {
    inFlight += 1;
    handle(incoming, res)
      .catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/plain" }).end(`fault proxy: ${(e as Error).message}`);
        else res.destroy();
      })
      .finally(() => {
        inFlight -= 1;
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    log,
    inject(rule) {
      rules.push({ ...rule, seen: 0, hits: 0 });
    },
    clear() {
      rules.length = 0;
      hits.clear();
    },
    count(spec) {
      return log.filter((entry) => matches(spec, entry)).length;
    },
    faulted(name) {
      return hits.get(name) ?? 0;
    },
    async idle() {
      while (inFlight > 0) await sleep(20);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
