// Presigned uploads land in uploads/{id} and leave it checked (moved to
// originals/{id}) or refused (deleted), so that originals/ holds only checked
// bytes and a lifecycle rule can expire the rest of uploads/. On moto through
// the handler. Moto ignores CopyObject's conditions, so the client here
// enforces them as S3 documents them
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html):
// x-amz-copy-source-if-match and If-None-Match "*" answer 412 PreconditionFailed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CopyObjectCommand, CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import type { APIGatewayProxyResult } from "aws-lambda";
import { parseRuntimeSettings } from "../config/load.ts";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, listEvent, responseJson, sizeEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { countDecodes } from "./support/decode-count.ts";
import { motoWithS3 } from "./support/moto-bucket.ts";
import { scanBomb } from "./support/scan-bomb.ts";

const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);
const png = loadFixture("sharp_50020484-00001.png");

const preconditionFailed = () =>
  new S3ServiceException({ name: "PreconditionFailed", $fault: "client", $metadata: { httpStatusCode: 412 }, message: "At least one of the pre-conditions you specified did not hold" });

describe("presigned uploads, on moto", () => {
  const aws = motoWithS3();
  let buckets = 0;

  /** A fresh bucket, an app on an S3 client that keeps CopyObject's conditions, and the copies it was asked for. */
  async function setup(options: { custom?: RuntimeSettings; beforeCopy?: (bucket: string) => Promise<void> } = {}) {
    const bucket = `imgapi-checking-${++buckets}`;
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const copies: CopyObjectCommand["input"][] = [];
    /** Every S3 call the handler made, in order, as "Command key". */
    const calls: string[] = [];
    const etagOf = async (key: string) => {
      try {
        return (await aws.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
      } catch {
        return undefined;
      }
    };
    const strict = new Proxy(aws.s3, {
      get(target, prop, receiver) {
        if (prop !== "send") return Reflect.get(target, prop, receiver) as unknown;
        return async (command: unknown) => {
          const { Key, Prefix } = (command as { input: { Key?: string; Prefix?: string } }).input;
          calls.push(`${(command as object).constructor.name.replace(/Command$/, "")} ${Key ?? Prefix ?? ""}`);
          if (command instanceof CopyObjectCommand) {
            copies.push(command.input);
            await options.beforeCopy?.(bucket);
            const source = command.input.CopySource!.slice(bucket.length + 1);
            if (command.input.CopySourceIfMatch !== undefined && (await etagOf(source)) !== command.input.CopySourceIfMatch) throw preconditionFailed();
            if (command.input.IfNoneMatch === "*" && (await etagOf(command.input.Key!)) !== undefined) throw preconditionFailed();
          }
          return target.send(command as never);
        };
      },
    });
    const handler = createApp({ store: new ImageStore(strict, bucket), settings: options.custom ?? settings, log: () => {} });
    const keys = async () => ((await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
    async function upload(body: Buffer): Promise<string> {
      const created = await handler(apiEvent({ method: "POST", resource: "/uploads", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ contentType: "image/jpeg", contentLength: body.length }), base64: true }));
      const { id, upload: presigned } = responseJson<{ id: string; upload: { url: string } }>(created);
      assert.equal((await fetch(presigned.url, { method: "PUT", body, headers: { "Content-Type": "image/jpeg" } })).status, 200);
      return id;
    }
    return { bucket, handler, keys, copies, calls, upload };
  }

  const errorOf = (res: APIGatewayProxyResult) => [res.statusCode, responseJson<{ error: { code: string } }>(res).error.code];

  test("checked, an upload is copied to originals/ only if unchanged and only if no original exists, with its sniffed type and facts", async () => {
    const { bucket, handler, keys, copies, upload } = await setup();
    const id = await upload(png); // labelled image/jpeg, its bytes are a PNG
    const uploaded = await aws.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `uploads/${id}` }));

    assert.equal((await handler(sizeEvent(id, "thumbnail"))).statusCode, 200);

    assert.equal(copies.length, 1);
    const { CopySource, Key, CopySourceIfMatch, IfNoneMatch, MetadataDirective, ContentType, Metadata } = copies[0]!;
    assert.deepEqual({ CopySource, Key, CopySourceIfMatch, IfNoneMatch, MetadataDirective, ContentType }, {
      CopySource: `${bucket}/uploads/${id}`,
      Key: `originals/${id}`,
      CopySourceIfMatch: uploaded.ETag,
      IfNoneMatch: "*",
      MetadataDirective: "REPLACE",
      ContentType: "image/png",
    });
    // With the placeholder made by the decode that checked it.
    const { thumbhash, color, ...facts } = Metadata ?? {};
    assert.deepEqual(facts, { format: "png", width: "2809", height: "2074", alpha: "0" });
    assert.match(`${thumbhash} ${color}`, /^[A-Za-z0-9+/]{20,60}={0,2} #[0-9a-f]{6}$/);
    assert.deepEqual(await keys(), [`originals/${id}`, `resized/${id}/thumbnail.webp`]);
  });

  test("a first listing reads the upload once, checks and renders it in two decodes, and moves it only after every size is stored", async () => {
    const { handler, calls, upload } = await setup();
    const id = await upload(png);
    calls.length = 0;
    const decodes = countDecodes();
    let res: APIGatewayProxyResult;
    try {
      res = await handler(listEvent(id));
    } finally {
      decodes.restore();
    }
    assert.equal(res.statusCode, 200, res.body);
    // One read of the bytes; one decode checks them (and gives the placeholder), one makes every size.
    assert.deepEqual(calls.filter((c) => c.startsWith("GetObject") && !c.startsWith("GetObject originals/")), [`GetObject uploads/${id}`]);
    assert.equal(decodes.decodes, 2);
    // S3 tells the trigger of the move: by then every size must be stored.
    const puts = calls.flatMap((c, i) => (c.startsWith(`PutObject resized/${id}/`) ? [i] : []));
    const move = calls.indexOf(`CopyObject originals/${id}`);
    assert.equal(puts.length, Object.keys(settings.sizes).length, calls.join("\n"));
    assert.ok(move > Math.max(...puts), `moved after the sizes:\n${calls.join("\n")}`);
  });

  test("an upload replaced between its check and its move is never moved: 503 to retry, and its next check refuses the new bytes", async () => {
    let replaced = false;
    const { handler, keys, upload } = await setup({
      beforeCopy: async (bucket) => {
        if (replaced) return;
        replaced = true;
        const bomb = scanBomb({ width: 640, height: 480, channels: 3, scans: 150 });
        await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: copyKey, Body: bomb }));
      },
    });
    const id = await upload(png);
    const copyKey = `uploads/${id}`;

    const res = await handler(sizeEvent(id, "thumbnail"));

    assert.deepEqual(errorOf(res), [503, "STORAGE_UNAVAILABLE"]);
    assert.equal(res.headers?.["Retry-After"], "1");
    assert.deepEqual(await keys(), [`uploads/${id}`], "the replaced bytes were not moved, and no size made from the first bytes is left");
    assert.deepEqual(errorOf(await handler(sizeEvent(id, "thumbnail"))), [422, "IMAGE_TOO_COMPLEX"]);
    assert.deepEqual(await keys(), []);
  });

  test("two first requests at once: both answer, the upload is moved once", async () => {
    const { handler, keys, upload } = await setup();
    const id = await upload(png);

    const answers = await Promise.all([handler(listEvent(id)), handler(sizeEvent(id, "thumbnail"))]);

    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200]);
    const all = await keys();
    assert.deepEqual(all.filter((k) => !k.startsWith("resized/")), [`originals/${id}`]);
  });

  test("a presigned upload that outlives the decode budget is deleted and never decoded again", async () => {
    const slow = parseRuntimeSettings({ sizes: { huge: { width: 10_000, enlarge: true, format: "png" } }, input: { maxDecodeSeconds: 1 } });
    const { handler, keys, upload } = await setup({ custom: slow });
    const id = await upload(png);

    const res = await handler(sizeEvent(id, "huge"));

    assert.deepEqual(errorOf(res), [422, "DECODE_TIMEOUT"]);
    assert.match(responseJson<{ error: { message: string } }>(res).error.message, /The uploaded object was deleted/);
    assert.deepEqual(await keys(), []);
    assert.deepEqual(errorOf(await handler(sizeEvent(id, "huge"))), [404, "IMAGE_NOT_FOUND"]);
  });

  test("DELETE /images/{id} removes an upload not yet checked", async () => {
    const { handler, keys, upload } = await setup();
    const id = await upload(png);
    const del = () => handler(apiEvent({ method: "DELETE", resource: "/images/{id}", pathParameters: { id } }));

    assert.equal((await del()).statusCode, 204);
    assert.deepEqual(await keys(), []);
    assert.deepEqual(errorOf(await del()), [404, "IMAGE_NOT_FOUND"]);
  });
});
