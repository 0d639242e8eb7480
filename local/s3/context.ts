// One request to the local S3 as the operations see it: the bucket and key,
// the query, the headers (for a presigned URL, with the x-amz-* parameters
// its signed query carries, which S3 applies as headers), how it was signed,
// and one way to answer, which adds the request id and the CORS headers.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LocalCredentials } from "../sigv4.ts";
import type { Authenticated } from "./auth.ts";
import type { CorsRules } from "./cors.ts";
import type { ObjectStore } from "./objects.ts";

export interface S3ServerOptions {
  store: ObjectStore;
  /** The one key pair every request must be signed with. */
  credentials: LocalCredentials;
  /** Each bucket's CORS rules, as PutBucketCors would have set them. */
  cors: ReadonlyMap<string, CorsRules>;
  /** The largest body a presigned PUT may carry (the API's uploads.maxBytes). */
  maxPresignedPutBytes: number;
  /** The largest object a PUT signed in its header may carry. */
  maxObjectBytes: number;
  /** A connection silent this long gets RequestTimeout and is closed. */
  idleTimeoutMs: number;
  now: () => Date;
  /** Where unexpected failures are reported (never a client's fault). */
  log: (line: string) => void;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  options: S3ServerOptions;
  method: string;
  bucket: string;
  /** Empty for an operation on the bucket. */
  key: string;
  query: readonly [string, string][];
  /** Header values by lower-case name; a presigned URL's x-amz-* parameters included. */
  headers: Record<string, string[]>;
  auth: Authenticated;
  /** Answers, with the request id and CORS headers; a HEAD answer never has a body. */
  send(status: number, headers: Record<string, string | number>, body?: string | Buffer): void;
  /** Writes the status and headers of an answer whose body the caller streams. */
  head(status: number, headers: Record<string, string | number>): void;
}

export const param = (ctx: Pick<RequestContext, "query">, name: string) => ctx.query.findLast(([n]) => n === name)?.[1];
export const header = (ctx: Pick<RequestContext, "headers">, name: string) => ctx.headers[name]?.at(-1);
export const XML = { "Content-Type": "application/xml" };
