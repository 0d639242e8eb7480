// Requests to the local S3 as a client other than the AWS SDK's S3Client
// sends them: signed by @smithy/signature-v4 (the SDKs' signer) with any key
// pair, region, date or headers, or not signed at all, or raw bytes on a
// socket for what no HTTP client would send.
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { request, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import type { LocalCredentials } from "../../local/sigv4.ts";

/** node:crypto behind the hash interface @smithy/signature-v4 takes (independent of the server's code). */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", typeof secret === "string" ? secret : Buffer.from(secret as Uint8Array));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    throw new Error("not used");
  }
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const ENTITIES: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&" };
const element = (answer: Answer, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(answer.body)?.[1]?.replace(/&(lt|gt|quot|apos|amp);/g, (e) => ENTITIES[e]!);

/** The <Code> and <Message> of an S3 error document. */
export const codeOf = (answer: Answer) => element(answer, "Code");
export const messageOf = (answer: Answer) => element(answer, "Message");

export interface Plain {
  method: string;
  /** The path and query as they go on the request line. */
  target: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One request exactly as given (node:http, which, unlike fetch, lets the Host header and any method through). */
export function send(endpoint: string, plain: Plain): Promise<Answer> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method: plain.method, path: plain.target, headers: plain.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(plain.body);
  });
}

export interface Signing {
  credentials: LocalCredentials;
  region?: string;
  date?: Date;
  /** The x-amz-content-sha256 to declare; the body's SHA-256 by default. */
  payloadHash?: string;
}

const rfc3986 = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface ToSign {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Sent instead of path, after signing. */
  sentPath?: string;
}

/** The request target and headers of a request signed in its Authorization header, as an SDK signs it. */
export async function signHeaders(endpoint: string, request: ToSign, signing: Signing): Promise<{ target: string; headers: Record<string, string> }> {
  const { hostname, port, host } = new URL(endpoint);
  const body = request.body ?? "";
  const signer = new SignatureV4({ service: "s3", region: signing.region ?? "us-east-1", credentials: signing.credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
  const encode = (path: string) => path.split("/").map(rfc3986).join("/");
  const query = request.query ?? {};
  const out = await signer.sign(
    {
      method: request.method,
      protocol: "http:",
      hostname,
      port: Number(port),
      path: encode(request.path),
      query,
      headers: { host, "x-amz-content-sha256": signing.payloadHash ?? createHash("sha256").update(body).digest("hex"), ...request.headers },
      body,
    },
    signing.date === undefined ? {} : { signingDate: signing.date },
  );
  const search = Object.entries(query)
    .map(([n, v]) => `${rfc3986(n)}=${rfc3986(v)}`)
    .join("&");
  return { target: `${encode(request.sentPath ?? request.path)}${search === "" ? "" : `?${search}`}`, headers: out.headers as Record<string, string> };
}

/** A signed request, sent; extra headers are added after signing, unsigned. */
export async function signed(endpoint: string, request: ToSign, signing: Signing, unsignedHeaders: Record<string, string> = {}): Promise<Answer> {
  const { target, headers } = await signHeaders(endpoint, request, signing);
  return send(endpoint, { method: request.method, target, headers: { ...headers, ...unsignedHeaders }, ...(request.body === undefined ? {} : { body: request.body }) });
}

/**
 * Bytes written on a socket as they are; resolves with what came back when
 * the server closes the connection (or after `end` half-closes ours).
 */
export function exchange(endpoint: string, bytes: string | Buffer, options: { end?: boolean } = {}): Promise<string> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(bytes);
      if (options.end === true) socket.end();
    });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
    socket.on("error", reject);
  });
}
