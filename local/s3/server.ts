// The local S3's HTTP side: path-style requests (/bucket/key), CORS
// preflights answered from the bucket's rules, every other request
// authenticated before anything is read or written, then routed to the
// operation. No request can stop the process: each failure is an S3 error
// document (a 500 only for a fault of ours, which is logged), a malformed HTTP
// request is answered by the parser's error handler, a silent connection gets
// RequestTimeout, and bodies are bounded.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html#path-style-access
import { randomBytes } from "node:crypto";
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { headersByName, queryPairs, tryDecode } from "../sigv4-canonical.ts";
import { authenticate } from "./auth.ts";
import { drain } from "./body.ts";
import { createBucket, deleteBucket, deleteObjects, headBucket, listObjects } from "./bucket-routes.ts";
import type { RequestContext, S3ServerOptions } from "./context.ts";
import { actualRequestHeaders, preflight } from "./cors.ts";
import * as err from "./errors.ts";
import { deleteObject, getObject, putObject } from "./object-routes.ts";
import { errorDocument } from "./xml.ts";

const MAX_KEY_BYTES = 1024;
// Bucket naming rules: 3-63 of a-z 0-9 . -, a letter or digit at each end, no "..", not an IP address.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
const BUCKET_NAME = /^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** S3 features the local S3 does not have: a clear NotImplemented rather than a wrong answer. */
const UNSUPPORTED = new Set(
  "accelerate acl analytics attributes cors encryption intelligent-tiering inventory legal-hold lifecycle location logging metrics notification object-lock ownershipControls partNumber policy policyStatus publicAccessBlock replication requestPayment restore retention select tagging torrent uploadId uploads versioning versions website".split(" "),
);
/** A presigned URL's own parameters; its other x-amz-* parameters act as headers. */
const QUERY_AUTH = new Set(["x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders", "x-amz-signature", "x-amz-content-sha256"]);

const requestIdOf = () => randomBytes(8).toString("hex").toUpperCase();

function parseTarget(url: string): { rawPath: string; rawQuery: string; bucket: string; key: string } {
  let target = url;
  if (!target.startsWith("/")) {
    let absolute: URL;
    try {
      absolute = new URL(target);
    } catch {
      throw err.invalidUri();
    }
    if (absolute.protocol !== "http:" && absolute.protocol !== "https:") throw err.invalidUri();
    target = `${absolute.pathname}${absolute.search}`;
  }
  const at = target.indexOf("?");
  const rawPath = at === -1 ? target : target.slice(0, at);
  const slash = rawPath.indexOf("/", 1);
  const bucket = tryDecode(slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash));
  const key = tryDecode(slash === -1 ? "" : rawPath.slice(slash + 1));
  if (bucket === undefined || key === undefined) throw err.invalidUri();
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw err.keyTooLong({ Size: String(Buffer.byteLength(key)), MaxSizeAllowed: String(MAX_KEY_BYTES) });
  return { rawPath, rawQuery: at === -1 ? "" : target.slice(at + 1), bucket, key };
}

function route(ctx: RequestContext): Promise<void> {
  const { method, bucket, key, options } = ctx;
  const notAllowed = () => err.methodNotAllowed({ Method: method, ResourceType: key === "" ? "BUCKET" : "OBJECT" });
  if (bucket === "") throw method === "GET" ? err.notImplemented({ AdditionalMessage: "ListBuckets is not implemented by the local S3" }) : notAllowed();
  if (!BUCKET_NAME.test(bucket)) throw err.invalidBucketName({ BucketName: bucket });
  const unsupported = ctx.query.find(([name]) => UNSUPPORTED.has(name));
  if (unsupported !== undefined) throw err.notImplemented({ AdditionalMessage: `?${unsupported[0]} is not implemented by the local S3` });
  if (key === "" && method === "PUT") return createBucket(ctx);
  if (!options.store.hasBucket(bucket)) throw err.noSuchBucket({ BucketName: bucket });
  if (key === "") {
    if (method === "HEAD") return headBucket(ctx);
    if (method === "GET") return listObjects(ctx);
    if (method === "DELETE") return deleteBucket(ctx);
    if (method === "POST" && ctx.query.some(([name]) => name === "delete")) return deleteObjects(ctx);
    throw notAllowed();
  }
  if (method === "PUT") return putObject(ctx);
  if (method === "GET" || method === "HEAD") return getObject(ctx);
  if (method === "DELETE") return deleteObject(ctx);
  throw notAllowed();
}

/** Requests being handled, and who waits for there to be none. */
class InFlight {
  private count = 0;
  private waiting: (() => void)[] = [];
  start(): void {
    this.count += 1;
  }
  end(): void {
    this.count -= 1;
    if (this.count === 0) for (const resolve of this.waiting.splice(0)) resolve();
  }
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }
}

function createListener(options: S3ServerOptions, onTimeout: WeakMap<Socket, () => void>, inFlight: InFlight) {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdOf();
    const method = req.method ?? "GET";
    let cors: Record<string, string> = {};
    const headersOf = (headers: Record<string, string | number>) => ({ "x-amz-request-id": requestId, "x-amz-id-2": requestId, ...cors, ...headers });
    const head = (status: number, headers: Record<string, string | number>) => {
      if (!res.headersSent && !res.destroyed) res.writeHead(status, headersOf(headers));
    };
    const send = (status: number, headers: Record<string, string | number>, body?: string | Buffer) => {
      if (res.headersSent || res.destroyed) return;
      const payload = body === undefined || method === "HEAD" ? undefined : Buffer.from(body);
      const length: Record<string, number> = payload !== undefined ? { "Content-Length": payload.length } : status === 204 || status === 304 || "Content-Length" in headers ? {} : { "Content-Length": 0 };
      res.writeHead(status, headersOf({ ...headers, ...length }));
      res.end(payload);
    };
    const refuse = async (error: err.S3Error) => {
      // Read what is left of the body first: a client still sending then reads the answer.
      const drained = await drain(req);
      send(error.status, { "Content-Type": "application/xml", ...(drained ? {} : { Connection: "close" }) }, errorDocument(error, requestId));
    };
    onTimeout.set(req.socket, () => {
      if (res.headersSent) return void res.destroy();
      send(400, { "Content-Type": "application/xml", Connection: "close" }, errorDocument(err.requestTimeout(), requestId));
    });
    res.once("close", () => {
      onTimeout.delete(req.socket);
      // Answered before the body was all read (a timeout, a body too large to
      // drain): Node leaves such a request waiting for bytes that will not come.
      if (!req.complete) req.destroy();
    });

    try {
      const target = parseTarget(req.url ?? "/");
      const headers = headersByName(req.rawHeaders);
      const query = queryPairs(target.rawQuery);
      const bucketExists = options.store.hasBucket(target.bucket);
      const rules = bucketExists ? options.cors.get(target.bucket) : undefined;
      const origin = headers.origin?.at(-1);
      if (method === "OPTIONS") {
        const resourceType = target.key === "" ? "BUCKET" : "OBJECT";
        const request = { origin, requestMethod: headers["access-control-request-method"]?.at(-1), requestHeaders: headers["access-control-request-headers"]?.join(","), resourceType } as const;
        const allowed = bucketExists || origin === undefined ? preflight(rules, request) : err.accessForbidden("CORSResponse: Bucket not found", { Method: request.requestMethod ?? "", ResourceType: resourceType });
        if (allowed instanceof err.S3Error) throw allowed;
        return send(200, allowed);
      }
      cors = actualRequestHeaders(rules, origin, method);
      const auth = authenticate({ method, rawPath: target.rawPath, query, headers }, options.credentials, options.now());
      if (auth.presigned) {
        for (const [name, value] of query) {
          const lower = name.toLowerCase();
          if (lower.startsWith("x-amz-") && !QUERY_AUTH.has(lower)) headers[lower] ??= [value];
        }
      }
      await route({ req, res, options, method, bucket: target.bucket, key: target.key, query, headers, auth, send, head });
    } catch (e) {
      if (e instanceof err.S3Error) return refuse(e);
      options.log(JSON.stringify({ level: "error", msg: "local S3", method, url: req.url, detail: (e as Error).stack ?? String(e) }));
      return refuse(err.internalError());
    }
  }

  return function listener(req: IncomingMessage, res: ServerResponse): void {
    // A dropped connection is no error of ours: nobody is left to answer.
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    inFlight.start();
    handle(req, res)
      .catch((e: unknown) => {
        options.log(JSON.stringify({ level: "error", msg: "local S3", detail: (e as Error).message }));
        res.destroy();
      })
      .finally(() => inFlight.end());
  };
}

/** What the HTTP parser refuses (huge headers, broken framing) still gets an S3 error, then the connection closes. */
function answerClientError(e: NodeJS.ErrnoException, socket: Duplex): void {
  if (e.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
  const known: Record<string, () => err.S3Error> = {
    HPE_HEADER_OVERFLOW: err.requestHeaderSectionTooLarge,
    // The client closed its side before sending the Content-Length it announced.
    HPE_INVALID_EOF_STATE: err.incompleteBody,
    ERR_HTTP_REQUEST_TIMEOUT: err.requestTimeout,
  };
  const error = (e.code !== undefined && Object.hasOwn(known, e.code) ? known[e.code]! : () => err.badRequest("An error occurred when parsing the HTTP request."))();
  const body = errorDocument(error, requestIdOf());
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export interface S3Server {
  endpoint: string;
  /** Resolves once no request is being handled (a dropped upload's cleanup included). */
  whenIdle(): Promise<void>;
  close(): Promise<void>;
}

export async function startS3Server(options: S3ServerOptions, port = 0): Promise<S3Server> {
  const onTimeout = new WeakMap<Socket, () => void>();
  const inFlight = new InFlight();
  const server = createServer(createListener(options, onTimeout, inFlight));
  server.on("clientError", answerClientError);
  server.setTimeout(options.idleTimeoutMs, (socket: Socket) => {
    const answer = onTimeout.get(socket);
    if (answer === undefined) socket.destroy();
    else answer();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    whenIdle: () => inFlight.idle(),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
