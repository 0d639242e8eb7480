// The object operations of the local S3: PutObject, CopyObject, GetObject,
// HeadObject and DeleteObject, with the headers the handler sends and S3's
// answers to what it would refuse.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
import { pipeline } from "node:stream/promises";
import { tryDecode } from "../sigv4-canonical.ts";
import { checkedBody, integrityChecks } from "./body.ts";
import { header, param, XML, type RequestContext } from "./context.ts";
import * as err from "./errors.ts";
import type { ObjectFields, ObjectMeta } from "./objects.ts";
import { document } from "./xml.ts";

/** "The user-defined metadata is limited to 2 KB", counted as the UTF-8 bytes of names and values. */
const MAX_USER_METADATA_BYTES = 2048;
/** Headers S3 stores with an object and answers again on GET and HEAD. */
const STORED_HEADERS = ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"];
const OVERRIDES: Record<string, string> = {
  "response-content-type": "content-type",
  "response-content-language": "content-language",
  "response-expires": "expires",
  "response-cache-control": "cache-control",
  "response-content-disposition": "content-disposition",
  "response-content-encoding": "content-encoding",
};

const quoted = (etag: string) => `"${etag}"`;
/** Whether an If-Match / If-None-Match list names this ETag ("*" names any). */
const listed = (value: string, etag: string) => value.split(",").some((t) => t.trim() === "*" || t.trim().replace(/^W\//, "") === quoted(etag));

function fieldsFrom(ctx: RequestContext): ObjectFields {
  const userMetadata: Record<string, string> = {};
  for (const name of Object.keys(ctx.headers).filter((n) => n.startsWith("x-amz-meta-"))) userMetadata[name.slice("x-amz-meta-".length)] = ctx.headers[name]!.join(",");
  const bytes = Object.entries(userMetadata).reduce((sum, [n, v]) => sum + Buffer.byteLength(n) + Buffer.byteLength(v), 0);
  if (bytes > MAX_USER_METADATA_BYTES) throw err.metadataTooLarge({ Size: String(bytes), MaxSizeAllowed: String(MAX_USER_METADATA_BYTES) });
  const headers = Object.fromEntries(STORED_HEADERS.flatMap((n) => (header(ctx, n) === undefined ? [] : [[n, header(ctx, n)!]])));
  if ((headers["content-encoding"] ?? "").includes("aws-chunked")) throw err.notImplemented({ Header: "Content-Encoding" });
  // S3's type for an object stored without one.
  return { contentType: header(ctx, "content-type") ?? "binary/octet-stream", userMetadata, headers };
}

/** If-None-Match: * and If-Match on a write: S3's conditional writes. */
function writePrecondition(ctx: RequestContext) {
  const ifNoneMatch = header(ctx, "if-none-match");
  const ifMatch = header(ctx, "if-match");
  return (current: ObjectMeta | undefined) => {
    if (ifNoneMatch !== undefined && current !== undefined && listed(ifNoneMatch, current.etag)) throw err.preconditionFailed({ Condition: "If-None-Match" });
    if (ifMatch !== undefined && current === undefined) throw err.noSuchKey({ Key: ctx.key });
    if (ifMatch !== undefined && !listed(ifMatch, current!.etag)) throw err.preconditionFailed({ Condition: "If-Match" });
  };
}

export async function putObject(ctx: RequestContext): Promise<void> {
  if (header(ctx, "x-amz-copy-source") !== undefined) return copyObject(ctx);
  const declared = header(ctx, "content-length");
  if (declared === undefined || ctx.req.headers["transfer-encoding"] !== undefined) throw err.missingContentLength();
  const limit = ctx.auth.presigned ? ctx.options.maxPresignedPutBytes : ctx.options.maxObjectBytes;
  if (Number(declared) > limit) throw err.entityTooLarge({ ProposedSize: declared, MaxSizeAllowed: String(limit) });
  const fields = fieldsFrom(ctx);
  const checks = integrityChecks((n) => header(ctx, n), Object.keys(ctx.headers), ctx.auth.payloadHash);
  const { req } = ctx;
  async function* tapped(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        checks.update(chunk);
        yield chunk;
      }
    } catch {
      // The client went away or sent fewer bytes than its Content-Length.
      throw err.incompleteBody();
    }
  }
  const meta = await ctx.options.store.write(ctx.bucket, ctx.key, tapped(), fields, { verify: () => checks.verify(), precondition: writePrecondition(ctx) });
  ctx.send(200, { ETag: quoted(meta.etag) });
}

function copySource(ctx: RequestContext): { bucket: string; key: string } {
  const raw = header(ctx, "x-amz-copy-source")!;
  const invalid = (message: string) => err.invalidArgument(message, { ArgumentName: "x-amz-copy-source", ArgumentValue: raw });
  const [path = "", version] = raw.split("?versionId=");
  const decoded = tryDecode(path);
  if (decoded === undefined) throw invalid("Invalid copy source encoding");
  if (version !== undefined && version !== "null") throw invalid("Invalid version id specified");
  const [bucket = "", ...rest] = decoded.replace(/^\//, "").split("/");
  if (bucket === "" || rest.join("/") === "") throw invalid("Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  return { bucket, key: rest.join("/") };
}

async function copyObject(ctx: RequestContext): Promise<void> {
  const source = copySource(ctx);
  const directive = header(ctx, "x-amz-metadata-directive") ?? "COPY";
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw err.invalidArgument("Unknown metadata directive.", { ArgumentName: "x-amz-metadata-directive", ArgumentValue: directive });
  }
  await checkedBody(ctx);
  if (!ctx.options.store.hasBucket(source.bucket)) throw err.noSuchBucket({ BucketName: source.bucket });
  if (source.bucket === ctx.bucket && source.key === ctx.key && directive === "COPY") {
    throw err.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const fields = directive === "REPLACE" ? fieldsFrom(ctx) : undefined;
  const object = await ctx.options.store.open(source.bucket, source.key);
  if (object === undefined) throw err.noSuchKey({ Key: source.key });
  const ifMatch = header(ctx, "x-amz-copy-source-if-match");
  const ifNoneMatch = header(ctx, "x-amz-copy-source-if-none-match");
  if ((ifMatch !== undefined && !listed(ifMatch, object.meta.etag)) || (ifNoneMatch !== undefined && listed(ifNoneMatch, object.meta.etag))) {
    await object.close();
    throw err.preconditionFailed({ Condition: ifMatch !== undefined ? "x-amz-copy-source-If-Match" : "x-amz-copy-source-If-None-Match" });
  }
  const { contentType, userMetadata, headers } = object.meta;
  // The source's bytes are opened only when the write reads them; the file is closed either way.
  let reading = false;
  async function* sourceBytes(): AsyncGenerator<Buffer> {
    reading = true;
    yield* object!.body() as AsyncIterable<Buffer>;
  }
  const meta = await ctx.options.store
    .write(ctx.bucket, ctx.key, sourceBytes(), fields ?? { contentType, userMetadata, headers }, { precondition: writePrecondition(ctx) })
    .finally(() => (reading ? undefined : object.close()));
  ctx.send(200, XML, document("CopyObjectResult", [["LastModified", meta.lastModified], ["ETag", quoted(meta.etag)]]));
}

/** GetObject, or HeadObject: the same headers, no body. Range is not implemented: the whole object is answered. */
export async function getObject(ctx: RequestContext): Promise<void> {
  await checkedBody(ctx);
  const object = await ctx.options.store.open(ctx.bucket, ctx.key);
  if (object === undefined) throw err.noSuchKey({ Key: ctx.key });
  const { meta } = object;
  const lastModified = new Date(meta.lastModified);
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  const since = (name: string) => {
    const value = header(ctx, name);
    const date = value === undefined ? NaN : Date.parse(value);
    return Number.isNaN(date) ? undefined : seconds(new Date(date));
  };
  const ifMatch = header(ctx, "if-match");
  const ifNoneMatch = header(ctx, "if-none-match");
  const unmodifiedSince = since("if-unmodified-since");
  const modifiedSince = since("if-modified-since");
  const validators = { ETag: quoted(meta.etag), "Last-Modified": lastModified.toUTCString() };
  // RFC 9110 13.2.2's order, which S3 follows.
  const failed = ifMatch !== undefined ? !listed(ifMatch, meta.etag) : unmodifiedSince !== undefined && seconds(lastModified) > unmodifiedSince;
  const notModified = ifNoneMatch !== undefined ? listed(ifNoneMatch, meta.etag) : modifiedSince !== undefined && seconds(lastModified) <= modifiedSince;
  if (failed || notModified) {
    await object.close();
    if (failed) throw err.preconditionFailed({ Condition: ifMatch !== undefined ? "If-Match" : "If-Unmodified-Since" });
    return ctx.send(304, validators);
  }
  const overrides = Object.fromEntries(ctx.query.flatMap(([n, v]) => (Object.hasOwn(OVERRIDES, n) ? [[OVERRIDES[n]!, v]] : [])));
  const headers: Record<string, string | number> = {
    ...validators,
    "Content-Type": meta.contentType,
    "Content-Length": meta.size,
    ...Object.fromEntries(Object.entries(meta.userMetadata).map(([n, v]) => [`x-amz-meta-${n}`, v])),
    ...meta.headers,
    ...overrides,
  };
  if (ctx.method === "HEAD") {
    await object.close();
    return ctx.send(200, headers);
  }
  ctx.head(200, headers);
  await pipeline(object.body(), ctx.res).catch(() => ctx.res.destroy());
}

export async function deleteObject(ctx: RequestContext): Promise<void> {
  const versionId = param(ctx, "versionId");
  if (versionId !== undefined && versionId !== "null") throw err.invalidArgument("Invalid version id specified", { ArgumentName: "versionId", ArgumentValue: versionId });
  await checkedBody(ctx);
  await ctx.options.store.remove(ctx.bucket, ctx.key);
  ctx.send(204, {});
}
