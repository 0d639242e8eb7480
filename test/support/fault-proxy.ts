// A fault-injecting HTTP proxy in front of moto (or any AWS-compatible
// endpoint). Clients are pointed at the proxy; by default it forwards every
// request untouched. A test tells it: "answer the next N requests matching
// this with status X and this error body", "hold them past the client's
// timeout", "drop the connection", "rewrite the upstream's answer", or "run
// this side effect before/after forwarding". Observers see every answer the
// upstream gives (the AWS rules in aws-rules.ts keep their state from them).
// Every request is logged with the service and operation it was for, so a
// test can count attempts (bounded retries) and see what was faulted.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RespondFault } from "./aws-errors.ts";
import { matches, readRequest, type MatchSpec, type ProxiedRequest } from "./proxied-request.ts";

export { jsonError, queryError, restJsonError, s3Error, serviceError, type RespondFault } from "./aws-errors.ts";
export { matches, type MatchSpec, type ProxiedRequest } from "./proxied-request.ts";

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
  | { kind: "lose"; answer: { kind: "respond"; status: number; body?: string; headers?: Record<string, string> } }
  /** Forward, then answer with what `rewrite` makes of the upstream's answer (e.g. a state the emulator skips). */
  | { kind: "rewrite"; rewrite: (answer: UpstreamAnswer, req: ProxiedRequest) => UpstreamAnswer };

/** What the upstream answered: status, headers and the whole body. */
export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sees every answer the upstream gives (also those a fault then replaces or loses), before the client does. */
export interface Observer {
  name: string;
  match: MatchSpec;
  seen: (req: ProxiedRequest, answer: UpstreamAnswer) => void;
}

export interface FaultRule {
  name: string;
  match: MatchSpec;
  /**
   * The fault, or a function deciding it per request; it may read upstream
   * state (async), and by returning undefined lets the request pass to the
   * next rule without counting as faulted.
   */
  fault: Fault | ((req: ProxiedRequest) => Fault | undefined | Promise<Fault | undefined>);
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
  /** Where requests are forwarded (moto). */
  upstream: string;
  /** Adds a rule; rules are checked in the order added, the first match applies. */
  inject(rule: FaultRule): void;
  /** Adds an observer of upstream answers. */
  observe(observer: Observer): void;
  /** Removes every rule, observer and count (the log stays). */
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- The proxy --------------------------------------------------------------

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const rules: LiveRule[] = [];
  const observers: Observer[] = [];
  const log: LoggedRequest[] = [];
  const hits = new Map<string, number>();
  let inFlight = 0;

  async function decide(req: ProxiedRequest): Promise<{ rule: LiveRule; fault: Fault } | undefined> {
    for (const rule of rules) {
      if (!matches(rule.match, req)) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.skip ?? 0)) continue;
      if (rule.hits >= (rule.times ?? 1)) continue;
      const fault = typeof rule.fault === "function" ? await rule.fault(req) : rule.fault;
      if (fault === undefined) continue;
      rule.hits += 1;
      hits.set(rule.name, (hits.get(rule.name) ?? 0) + 1);
      return { rule, fault };
    }
    return undefined;
  }

  function respond(req: ProxiedRequest, res: ServerResponse, entry: LoggedRequest, fault: RespondFault): void {
    entry.status = fault.status;
    const payload = req.method === "HEAD" ? "" : (fault.body ?? "");
    res.writeHead(fault.status, { ...fault.headers, "Content-Length": Buffer.byteLength(fault.body ?? ""), "x-amzn-RequestId": "fault-proxy" });
    res.end(payload);
  }

  function forward(
    req: ProxiedRequest,
    res: ServerResponse,
    entry: LoggedRequest,
    then?: () => Promise<void>,
    replace?: RespondFault,
    rewrite?: (answer: UpstreamAnswer, req: ProxiedRequest) => UpstreamAnswer,
  ): Promise<void> {
    return new Promise((resolve) => {
      const headers = { ...req.headers, host: target.host };
      delete headers["transfer-encoding"];
      headers["content-length"] = String(req.body.length);
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on("data", (c: Buffer) => chunks.push(c));
        upRes.on("end", () => {
          const answer = async () => {
            let upstreamAnswer: UpstreamAnswer = { status: upRes.statusCode ?? 502, headers: { ...upRes.headers }, body: Buffer.concat(chunks) };
            for (const observer of observers) if (matches(observer.match, req)) observer.seen(req, upstreamAnswer);
            if (then !== undefined) await then();
            if (res.destroyed) return resolve();
            if (replace !== undefined) {
              respond(req, res, entry, replace);
              return resolve();
            }
            if (rewrite !== undefined) upstreamAnswer = rewrite(upstreamAnswer, req);
            entry.status = upstreamAnswer.status;
            const outHeaders = { ...upstreamAnswer.headers };
            delete outHeaders["transfer-encoding"];
            if (req.method !== "HEAD") outHeaders["content-length"] = String(upstreamAnswer.body.length);
            res.writeHead(upstreamAnswer.status, outHeaders);
            res.end(req.method === "HEAD" ? undefined : upstreamAnswer.body);
            resolve();
          };
          answer().catch((e: unknown) => {
            // A rule's rewrite or side effect failed: say so in the answer
            // (the test then fails naming it), rather than with a bare reset.
            if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/plain" }).end(`fault proxy: ${(e as Error).message}`);
            else res.destroy(e as Error);
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
    const req = await readRequest(incoming);
    const entry: LoggedRequest = { method: req.method, path: req.path, service: req.service, operation: req.operation };
    log.push(entry);
    const decided = await decide(req);
    if (decided === undefined) return forward(req, res, entry);
    const { rule, fault } = decided;
    entry.fault = rule.name;
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
      case "rewrite":
        return forward(req, res, entry, undefined, undefined, fault.rewrite);
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
  // Kept-alive connections stay open until close(). Node's server closes one
  // after 5 s idle, and the SDK's agent (no timeout of its own, so it ignores
  // the server's Keep-Alive hint) may send a request on it at that moment:
  // the client reads ECONNRESET (nodejs/node#47130, #52649). AWS's endpoints
  // close idle connections too, and the SDK retries that; these suites run
  // with maxAttempts 1. (A deploy-cdn test once failed with a bare read
  // ECONNRESET on a busy machine; this is the likeliest cause.)
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    upstream,
    log,
    inject(rule) {
      rules.push({ ...rule, seen: 0, hits: 0 });
    },
    observe(observer) {
      observers.push(observer);
    },
    clear() {
      rules.length = 0;
      observers.length = 0;
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
