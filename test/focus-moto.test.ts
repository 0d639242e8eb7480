// Focal points end to end against moto's S3: set at upload or later, stored
// with the original, named in the tag of every cover size made from it, so a
// variant cropped another way is made again; bad input is a 400 with a
// stable code.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { countDecodes } from "./support/decode-count.ts";
import { apiEvent, listEvent, responseBytes, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { motoWithBucket } from "./support/moto-bucket.ts";

const BUCKET = "imgapi-focus-test";
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

const aws = motoWithBucket(BUCKET);

async function fresh(): Promise<Handler> {
  await aws.fresh();
  return createApp({ store: new ImageStore(aws.s3, BUCKET), settings, log: () => undefined });
}

/** 1200x600, grey, with a red block at the right edge: a centre crop to a square misses it. */
async function photo(): Promise<Buffer> {
  const red = await sharp({ create: { width: 120, height: 120, channels: 3, background: "#e01010" } }).png().toBuffer();
  return sharp({ create: { width: 1200, height: 600, channels: 3, background: "#808080" } }).composite([{ input: red, left: 1020, top: 240 }]).jpeg().toBuffer();
}

/** Share of a thumbnail's pixels that are red. */
async function redShare(data: Buffer): Promise<number> {
  const { data: px, info } = await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let red = 0;
  for (let i = 0; i < px.length; i += 3) if (px[i]! > 170 && px[i + 1]! < 90) red++;
  return red / (info.width * info.height);
}

const focusEvent = (id: string, body?: unknown, method: "PUT" | "DELETE" = "PUT") =>
  apiEvent({ method, resource: "/images/{id}/focus", pathParameters: { id }, headers: { "Content-Type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

const errorCode = (res: { body?: string; isBase64Encoded?: boolean }) => responseJson<{ error: { code: string; message: string } }>(res).error;

async function thumbnail(handler: Handler, id: string): Promise<{ data: Buffer; etag: string }> {
  const res = await handler(sizeEvent(id, "thumbnail"));
  assert.equal(res.statusCode, 200, res.body);
  return { data: responseBytes(res), etag: String(res.headers?.ETag) };
}

test("POST /images?focus=x,y: stored with the original, answered, and every cover crop keeps the point", async () => {
  const handler = await fresh();
  const res = await handler(uploadEvent(await photo(), { contentType: "image/jpeg", headers: {} }));
  const plain = responseJson<{ id: string }>(res).id;
  const focused = await handler({ ...uploadEvent(await photo(), { contentType: "image/jpeg" }), queryStringParameters: { focus: "0.9,0.5" } });
  assert.equal(focused.statusCode, 201, focused.body);
  const body = responseJson<{ id: string; original: { focus?: { x: number; y: number } } }>(focused);
  assert.deepEqual(body.original.focus, { x: 0.9, y: 0.5 });
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${body.id}` }));
  assert.equal(head.Metadata?.focus, "0.9000,0.5000");
  assert.ok((await redShare((await thumbnail(handler, plain)).data)) < 0.001, "without a focal point the centre misses the red block");
  assert.ok((await redShare((await thumbnail(handler, body.id)).data)) > 0.03, "with one, the crop keeps it");
  const listed = responseJson<{ original: { focus?: unknown } }>(await handler(listEvent(body.id)));
  assert.deepEqual(listed.original.focus, { x: 0.9, y: 0.5 });
});

test("PUT /images/{id}/focus later: the cover size made before is made again with the new crop, the others are kept", async () => {
  const handler = await fresh();
  const { id } = responseJson<{ id: string }>(await handler(uploadEvent(await photo(), { contentType: "image/jpeg" })));
  await handler(listEvent(id));
  const before = await thumbnail(handler, id);
  const mediumBefore = String((await handler(sizeEvent(id, "medium"))).headers?.ETag);

  const res = await handler(focusEvent(id, { x: 0.9, y: 0.5 }));
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(responseJson<{ original: { focus: unknown } }>(res).original.focus, { x: 0.9, y: 0.5 });
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${id}` }));
  assert.deepEqual([head.Metadata?.focus, head.Metadata?.format, head.Metadata?.width, head.ContentType], ["0.9000,0.5000", "jpeg", "1200", "image/jpeg"], "the other facts are kept");

  const calls = countDecodes();
  let after;
  try {
    after = await thumbnail(handler, id);
    assert.equal(calls.decodes, 1, "the thumbnail is made again");
    assert.equal(String((await handler(sizeEvent(id, "medium"))).headers?.ETag), mediumBefore);
    assert.equal(calls.decodes, 1, "medium is not cropped: kept");
  } finally {
    calls.restore();
  }
  assert.notEqual(after.etag, before.etag);
  assert.ok((await redShare(after.data)) > 0.03);

  const cleared = await handler(focusEvent(id, undefined, "DELETE"));
  assert.equal(cleared.statusCode, 200, cleared.body);
  assert.equal(responseJson<{ original: { focus?: unknown } }>(cleared).original.focus, undefined);
  assert.ok((await redShare((await thumbnail(handler, id)).data)) < 0.001, "back to the centre");
});

test("a direct write: the focal point goes into its record; an upload not checked yet is checked and keeps the point", async () => {
  const handler = await fresh();
  const id = "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${id}`, Body: await photo(), ContentType: "image/jpeg" }));
  await handler(listEvent(id));
  assert.equal((await handler(focusEvent(id, { x: 0.9, y: 0.5 }))).statusCode, 200);
  const record = JSON.parse(await (await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `resized/${id}/_original.json` }))).Body!.transformToString()) as { focus?: string };
  assert.equal(record.focus, "0.9000,0.5000");
  assert.ok((await redShare((await thumbnail(handler, id)).data)) > 0.03);

  const pending = "1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d";
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `uploads/${pending}`, Body: await photo(), ContentType: "image/jpeg" }));
  assert.equal((await handler(focusEvent(pending, { x: 0.9, y: 0.5 }))).statusCode, 200);
  const moved = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${pending}` }));
  assert.equal(moved.Metadata?.focus, "0.9000,0.5000");
});

test("bad focal points and unknown images: 400 INVALID_REQUEST naming what was expected, 404 IMAGE_NOT_FOUND", async () => {
  const handler = await fresh();
  for (const focus of ["1.5,0.5", "0.5", "a,b", "0.5,-0.1", "0.5,0.5,0.5", ""]) {
    const res = await handler({ ...uploadEvent(await photo(), { contentType: "image/jpeg" }), queryStringParameters: { focus } });
    assert.deepEqual([res.statusCode, errorCode(res).code], [400, "INVALID_REQUEST"], focus);
    assert.match(errorCode(res).message, /focus/);
  }
  const { id } = responseJson<{ id: string }>(await handler(uploadEvent(await photo(), { contentType: "image/jpeg" })));
  for (const body of [{ x: 2, y: 0 }, { x: 0.5 }, { x: "0.5", y: 0.5, z: 1 }, [0.5, 0.5], "0.5,0.5", null]) {
    const res = await handler(focusEvent(id, body));
    assert.deepEqual([res.statusCode, errorCode(res).code], [400, "INVALID_REQUEST"], JSON.stringify(body));
  }
  const notJson = await handler({ ...focusEvent(id), body: Buffer.from("{x: 1").toString("base64"), isBase64Encoded: true });
  assert.deepEqual([notJson.statusCode, errorCode(notJson).code], [400, "INVALID_REQUEST"]);
  const missing = await handler(focusEvent("7d6c5b4a-3928-4170-8f5e-4d3c2b1a0f9e", { x: 0.5, y: 0.5 }));
  assert.deepEqual([missing.statusCode, errorCode(missing).code], [404, "IMAGE_NOT_FOUND"]);
  const badId = await handler(focusEvent("not-an-id", { x: 0.5, y: 0.5 }));
  assert.deepEqual([badId.statusCode, errorCode(badId).code], [400, "INVALID_ID"]);
});
