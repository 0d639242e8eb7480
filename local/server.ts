// The local server: the Lambda handler behind a plain HTTP server that plays
// API Gateway's part (routes, payload limit, proxy events, binary rule; the
// API key or SigV4 check is gateway-auth.ts's), with the local S3 (storage.ts) as its bucket. Tests start it
// in-process on a free port.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyResult } from "aws-lambda";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, type Handler } from "../function/app.ts";
import { corsHeaders } from "../function/http/response.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import type { LogSink } from "../function/log.ts";
import type { JwtSettings } from "../function/auth/jwt-verify.ts";
import type { AuthMode } from "../function/routes.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { findRoute, headersOf, isProxyResult, lastHeader, MAX_REQUEST_BYTES, splitTarget, toHttpResponse, toProxyEvent } from "./api-gateway.ts";
import { badGateway, missingAuthenticationToken, requestTooLarge } from "./gateway-responses.ts";
import { createLocalJwtCheck } from "./gateway-jwt.ts";
import { generateApiKey } from "./api-key.ts";
import { DEMO_PATH, serveDemo, type DemoConfig } from "./demo-server.ts";
import { checkApiKey, checkSignature, type GatewayAuth } from "./gateway-auth.ts";
import { generateCredentials, type LocalCredentials } from "./sigv4.ts";
import { startLocalS3, type LocalS3 } from "./storage.ts";

export const DEFAULT_PORT = 3000;
export const HOST = "127.0.0.1";

export interface LocalServerOptions {
  /** 0 picks a free port. */
  port?: number;
  apiKey?: string;
  /** The local S3's data folder; default .local/s3 in the repository. */
  dataDir?: string;
  settings?: RuntimeSettings;
  /** Where the handler's request log lines go; default stdout. */
  log?: LogSink;
  /** Largest variant answered inline (bigger ones redirect to S3); the handler's default otherwise. */
  maxInlineBytes?: number;
  /** How private routes are guarded, as API Gateway would (methodAuth): the x-api-key, or SigV4. */
  auth?: AuthMode;
  /** The key pair SigV4 signatures are checked against in "iam" mode; a fresh one by default. */
  credentials?: LocalCredentials;
  /** The URL-signing secret; random per start by default (no KMS locally), so a restart rotates it. */
  signingSecret?: Buffer;
  /** auth "jwt": the issuer, audience and scopes tokens are checked against (a loopback http issuer is allowed locally). */
  jwt?: JwtSettings;
}

export interface LocalServer {
  url: string;
  /** The demo page (local/demo/), which API Gateway would not serve. */
  demoUrl: string;
  apiKey: string;
  auth: AuthMode;
  /** The key pair to sign with in "iam" mode. */
  credentials?: LocalCredentials;
  bucket: string;
  /** The local S3's endpoint, the key pair it requires, and a client for it configured as the handler's. */
  s3: Pick<LocalS3, "endpoint" | "dataDir" | "client" | "credentials">;
  close(): Promise<void>;
}

/** Reads the body up to the limit; undefined once it is over (the rest is drained). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, result: APIGatewayProxyResult, accept: string | undefined, requestId: string): void {
  const answer = toHttpResponse(result, accept);
  res.writeHead(answer.statusCode, { ...answer.headers, "x-amzn-RequestId": requestId, "Content-Length": answer.body.length });
  res.end(answer.body);
}

/** The demo page's settings for this server: its key, and in "iam" or "jwt" mode why the key alone will not do. */
function demoConfig(apiKey: string, auth: AuthMode, jwt: JwtSettings | undefined): DemoConfig {
  if (auth === "iam") return { apiUrl: "", apiKey, notice: "This server runs with --auth iam: the page sends only an x-api-key, so its calls are refused. Restart without --auth iam to try it." };
  if (auth !== "jwt" || jwt === undefined) return { apiUrl: "", apiKey };
  return {
    apiUrl: "",
    apiKey,
    notice: `This server runs with --auth jwt: the API key is no credential here. Sign in with ${jwt.issuer} (or paste a token it issued) and the page sends it as a bearer token.`,
    // The issuer mints tokens for the audience: the page signs in as that client.
    jwt: { issuer: jwt.issuer, clientId: jwt.audience, ...(jwt.scopes === undefined ? {} : { scope: `${jwt.scopes.read} ${jwt.scopes.write}` }) },
  };
}

/** Private routes need what `auth` says: the API key, a SigV4 signature by its key pair, or a bearer token. */
function createListener(handler: Handler, settings: RuntimeSettings, log: LogSink, auth: GatewayAuth, demo: DemoConfig) {
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const method = req.method ?? "GET";
    const { headers } = headersOf(req.rawHeaders);
    const accept = lastHeader(headers, "accept");
    // Gateway answers carry the same CORS headers as the function's, so a
    // browser can read a 403 instead of seeing an opaque CORS failure.
    const cors = corsHeaders(lastHeader(headers, "origin"), settings.cors.origins);
    const reject = (result: APIGatewayProxyResult, reason: string) => {
      log(JSON.stringify({ level: "info", msg: "gateway", requestId, method, path: splitTarget(req.url ?? "/").path, status: result.statusCode, reason }));
      send(res, result, accept, requestId);
    };

    const match = findRoute(method, splitTarget(req.url ?? "/").path);
    if (match === undefined) return reject(missingAuthenticationToken(cors), "no such route");
    const keyed = checkApiKey(match, method, headers, auth, cors);
    if (!keyed.ok) return reject(keyed.result, keyed.reason);
    const bearer = auth.jwt === undefined ? undefined : await auth.jwt(match, method, splitTarget(req.url ?? "/").path, headers, cors);
    if (bearer !== undefined && !bearer.ok) return reject(bearer.result, bearer.reason);
    const body = await readBody(req, MAX_REQUEST_BYTES);
    if (body === undefined) return reject(requestTooLarge(cors), `body over ${MAX_REQUEST_BYTES} bytes`);
    const signed = await checkSignature(match, { method, url: req.url ?? "/", rawHeaders: req.rawHeaders, body }, auth, cors);
    if (!signed.ok) return reject(signed.result, signed.reason);
    const iamAccessKeyId = signed.iamAccessKeyId;

    const event = toProxyEvent(
      { method, url: req.url ?? "/", rawHeaders: req.rawHeaders, sourceIp: (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, ""), localPort: req.socket.localPort ?? 0, body },
      match,
      { requestId, apiKey: keyed.apiKey, ...(iamAccessKeyId === undefined ? {} : { iamAccessKeyId }), ...(bearer?.ok && bearer.authorizer !== undefined ? { authorizer: bearer.authorizer } : {}) },
    );
    let result: unknown;
    try {
      result = await handler(event, { awsRequestId: requestId, functionName: "imgapi-local" });
    } catch (e) {
      return reject(badGateway(cors), `the handler threw: ${(e as Error).message}`);
    }
    if (!isProxyResult(result)) return reject(badGateway(cors), "the handler returned a malformed result");
    send(res, result, accept, requestId);
  }

  return function listener(req: IncomingMessage, res: ServerResponse): void {
    // The demo page, prefilled with this server's key; no API route starts with /demo.
    if (serveDemo(req, res, demo)) return;
    serve(req, res).catch((e: unknown) => {
      log(JSON.stringify({ level: "error", msg: "gateway", detail: (e as Error).message }));
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === "EADDRINUSE" ? new Error(`port ${port} on ${HOST} is in use: stop what uses it, or pass --port with another number (0 picks a free one)`, { cause: e }) : e);
    };
    server.once("error", onError);
    server.listen(port, HOST, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const settings = options.settings ?? settingsFromEnv({});
  const apiKey = options.apiKey ?? generateApiKey();
  const auth = options.auth ?? "apiKey";
  const credentials = auth === "iam" ? (options.credentials ?? generateCredentials()) : undefined;
  if (auth === "jwt" && options.jwt === undefined) throw new Error('auth "jwt" needs the issuer and audience (options.jwt; --jwt-issuer and --jwt-audience)');
  // In memory only, never printed: a signed URL stops working when the server restarts.
  const signingSecret = options.signingSecret ?? randomBytes(32);
  const log = options.log ?? ((line: string) => console.log(line));
  const jwtCheck = auth === "jwt" ? createLocalJwtCheck(options.jwt!, { log }) : undefined;
  // As at the Lambda's cold start: only the allowed formats' decoders may run.
  configureLibvips(settings.input.formats);

  const s3 = await startLocalS3({
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    // The bucket gets the CORS rule deploy gives the images bucket, for the same origins.
    corsOrigins: settings.cors.origins,
    maxUploadBytes: settings.uploads.maxBytes,
    log,
  });
  // The handler is made once the port is known: links and Location headers
  // are built from the server's own address, never from a request's Host.
  const made: { handler?: Handler } = {};
  const gateway: GatewayAuth = { mode: auth, apiKey, ...(credentials === undefined ? {} : { iam: credentials }), ...(jwtCheck === undefined ? {} : { jwt: jwtCheck }) };
  const server = createServer(createListener((event, context) => made.handler!(event, context), settings, log, gateway, demoConfig(apiKey, auth, options.jwt)));
  let port: number;
  try {
    port = await listen(server, options.port ?? DEFAULT_PORT);
  } catch (e) {
    await s3.close();
    throw e;
  }
  made.handler = createApp({
    store: new ImageStore(s3.client, s3.bucket),
    settings,
    log,
    baseUrl: `http://${HOST}:${port}`,
    signingSecret: () => Promise.resolve(signingSecret),
    ...(auth === "jwt" ? { access: options.jwt!.scopes === undefined ? {} : { scopes: options.jwt!.scopes } } : {}),
    ...(options.maxInlineBytes === undefined ? {} : { maxInlineBytes: options.maxInlineBytes }),
  });

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      // Stop taking requests, let those in flight finish, drop idle keep-alives.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await s3.close();
    })();
    return closing;
  }
  return { url: `http://${HOST}:${port}`, demoUrl: `http://${HOST}:${port}${DEMO_PATH}`, apiKey, auth, ...(credentials === undefined ? {} : { credentials }), bucket: s3.bucket, s3: { endpoint: s3.endpoint, dataDir: s3.dataDir, client: s3.client, credentials: s3.credentials }, close };
}
