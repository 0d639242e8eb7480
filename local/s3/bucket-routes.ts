// The bucket operations of the local S3: CreateBucket, HeadBucket,
// DeleteBucket, ListObjectsV2 (and the v1 ListObjects a test helper uses),
// and DeleteObjects with S3's 1000-key limit.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
import { uriEncode } from "../sigv4-canonical.ts";
import { checkedBody } from "./body.ts";
import { param, XML, type RequestContext } from "./context.ts";
import * as err from "./errors.ts";
import type { ObjectMeta } from "./objects.ts";
import { allowOnly, document, onlyChild, parseXml, type Element } from "./xml.ts";

/** "You can use this operation to delete up to 1,000 objects"; more is MalformedXML. */
export const MAX_DELETE_KEYS = 1000;
const MAX_KEYS = 1000;
const MAX_KEY_BYTES = 1024;
const TOKEN_PREFIX = "lk1:";

export async function createBucket(ctx: RequestContext): Promise<void> {
  const { body } = await checkedBody(ctx);
  if (body.length > 0) {
    const root = parseXml(body.toString("utf8"));
    if (root.name !== "CreateBucketConfiguration") throw err.malformedXml();
    const constraint = onlyChild(root, "LocationConstraint", false)?.text.trim() ?? "";
    if (constraint !== "") {
      throw new err.S3Error("IllegalLocationConstraintException", 400, `The ${constraint} location constraint is incompatible for the region specific endpoint this request was sent to.`);
    }
  }
  // In us-east-1, creating a bucket you already own answers 200 again.
  await ctx.options.store.createBucket(ctx.bucket);
  ctx.send(200, { Location: `/${ctx.bucket}` });
}

export async function headBucket(ctx: RequestContext): Promise<void> {
  await checkedBody(ctx);
  ctx.send(200, { "x-amz-bucket-region": "us-east-1" });
}

export async function deleteBucket(ctx: RequestContext): Promise<void> {
  await checkedBody(ctx);
  await ctx.options.store.deleteBucket(ctx.bucket);
  ctx.send(204, {});
}

function listInt(ctx: RequestContext, name: string, fallback: number): number {
  const text = param(ctx, name);
  if (text === undefined) return fallback;
  if (!/^\d{1,10}$/.test(text) || Number(text) > 2 ** 31 - 1) {
    throw err.invalidArgument(`Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: text });
  }
  return Number(text);
}

function readToken(token: string): string {
  const key = Buffer.from(token, "base64url").toString("utf8");
  if (!key.startsWith(TOKEN_PREFIX) || Buffer.from(key, "utf8").toString("base64url") !== token) {
    throw err.invalidArgument("The continuation token provided is incorrect", { ArgumentName: "continuation-token" });
  }
  return key.slice(TOKEN_PREFIX.length);
}

export async function listObjects(ctx: RequestContext): Promise<void> {
  await checkedBody(ctx);
  const v2 = param(ctx, "list-type") !== undefined;
  if (v2 && param(ctx, "list-type") !== "2") throw err.invalidArgument("Invalid List Type specified", { ArgumentName: "list-type", ArgumentValue: param(ctx, "list-type")! });
  if ((param(ctx, "delimiter") ?? "") !== "") throw err.notImplemented({ AdditionalMessage: "the local S3 lists without a delimiter only" });
  const encoding = param(ctx, "encoding-type");
  if (encoding !== undefined && encoding !== "url") throw err.invalidArgument("Invalid Encoding Method specified in Request", { ArgumentName: "encoding-type", ArgumentValue: encoding });
  const encode = (text: string) => (encoding === "url" ? uriEncode(text).replace(/%2F/g, "/") : text);
  const prefix = param(ctx, "prefix") ?? "";
  const maxKeys = Math.min(listInt(ctx, "max-keys", MAX_KEYS), MAX_KEYS);
  const token = v2 ? param(ctx, "continuation-token") : undefined;
  const startAfter = v2 ? param(ctx, "start-after") : undefined;
  const marker = v2 ? undefined : param(ctx, "marker");
  const after = token !== undefined ? readToken(token) : (startAfter ?? marker);
  const { objects, truncated } = ctx.options.store.list(ctx.bucket, { prefix, max: maxKeys, ...(after === undefined ? {} : { after }) });
  const contents = objects.map((o: ObjectMeta): Element => [
    "Contents",
    [["Key", encode(o.key)], ["LastModified", o.lastModified], ["ETag", `"${o.etag}"`], ["Size", o.size], ["StorageClass", "STANDARD"]],
  ]);
  const last = objects.at(-1)?.key;
  const shared: Element[] = [["Name", ctx.bucket], ["Prefix", encode(prefix)], ["MaxKeys", maxKeys], ...(encoding === undefined ? [] : [["EncodingType", encoding] as const])];
  const children: Element[] = v2
    ? [
        ...shared,
        ["KeyCount", objects.length],
        ["IsTruncated", truncated],
        ...(token === undefined ? [] : [["ContinuationToken", token] as const]),
        ...(truncated && last !== undefined ? [["NextContinuationToken", Buffer.from(TOKEN_PREFIX + last, "utf8").toString("base64url")] as const] : []),
        ...(startAfter === undefined ? [] : [["StartAfter", encode(startAfter)] as const]),
        ...contents,
      ]
    : [...shared, ["Marker", encode(marker ?? "")], ["IsTruncated", truncated], ...contents];
  ctx.send(200, XML, document("ListBucketResult", children));
}

export async function deleteObjects(ctx: RequestContext): Promise<void> {
  const { body, hasChecksum } = await checkedBody(ctx);
  if (!hasChecksum) throw err.invalidRequest("Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
  const root = parseXml(body.toString("utf8"));
  if (root.name !== "Delete") throw err.malformedXml();
  allowOnly(root, ["Object", "Quiet"]);
  const quiet = (onlyChild(root, "Quiet", false)?.text.trim() ?? "false") === "true";
  const objects = root.children.filter((c) => c.name === "Object");
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw err.malformedXml();
  const requested = objects.map((o) => {
    allowOnly(o, ["Key", "VersionId"]);
    const key = onlyChild(o, "Key", true)!.text;
    if (key === "") throw err.malformedXml();
    return { key, versionId: onlyChild(o, "VersionId", false)?.text };
  });
  const results = [];
  for (const { key, versionId } of requested) {
    const version = versionId === undefined ? [] : [["VersionId", versionId] as const];
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      results.push(["Error", [["Key", key], ...version, ["Code", "KeyTooLongError"], ["Message", "Your key is too long"]]] as const);
    } else if (versionId !== undefined && versionId !== "null") {
      results.push(["Error", [["Key", key], ...version, ["Code", "NoSuchVersion"], ["Message", "The specified version does not exist."]]] as const);
    } else {
      await ctx.options.store.remove(ctx.bucket, key);
      if (!quiet) results.push(["Deleted", [["Key", key], ...version]] as const);
    }
  }
  ctx.send(200, XML, document("DeleteResult", results));
}
