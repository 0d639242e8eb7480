// Placeholders and sizes made at upload, end to end against moto's S3: every
// upload answer and listing carries the placeholder, stored with the
// original so a listing decodes nothing; with sizesAt "upload" one POST
// stores every size from the decode that checks it and answers them exactly
// as the listing does. Decodes are counted by spying on sharp's pipeline.
import assert from "node:assert/strict";
import { test } from "node:test";
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { parseRuntimeSettings } from "../config/load.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { countDecodes } from "./support/decode-count.ts";
import { listEvent, responseBytes, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { fixturesIn, loadFixture } from "./support/fixtures.ts";
import { motoWithBucket } from "./support/moto-bucket.ts";

const BUCKET = "imgapi-answers-test";
const settings = settingsFromEnv({});
const atUpload = parseRuntimeSettings({ sizes: settings.sizes, sizesAt: "upload", publicUrls: { enabled: false } });
configureLibvips(settings.input.formats);

const aws = motoWithBucket(BUCKET);

async function fresh(): Promise<void> {
  await aws.fresh();
}

const app = (s: RuntimeSettings = settings): Handler => createApp({ store: new ImageStore(aws.s3, BUCKET), settings: s, log: () => undefined });

interface Placeholder {
  thumbhash: string;
  color: string;
  aspectRatio: number;
}
interface Variant {
  size: string;
  key: string;
  width: number;
  height: number;
  bytes: number;
  created: boolean;
  link: string;
}
interface Answer {
  id: string;
  original: { width: number; height: number };
  placeholder?: Placeholder;
  variants?: Variant[];
}

async function post(handler: Handler, bytes: Buffer, headers?: Record<string, string>): Promise<Answer> {
  const res = await handler(uploadEvent(bytes, { contentType: "application/octet-stream", ...(headers ? { headers } : {}) }));
  assert.equal(res.statusCode, 201, res.body);
  return responseJson<Answer>(res);
}

async function list(handler: Handler, id: string, headers?: Record<string, string>): Promise<Answer> {
  const res = await handler(listEvent(id, undefined, headers));
  assert.equal(res.statusCode, 200, res.body);
  return responseJson<Answer>(res);
}

async function keys(): Promise<string[]> {
  return ((await aws.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key!).sort();
}

test("every valid fixture: the upload answer and the listing carry the same placeholder", async (t) => {
  await fresh();
  const handler = app();
  for (const f of fixturesIn("valid", "exif").filter((r) => r.expected === "resize")) {
    await t.test(f.file, async () => {
      const up = await post(handler, loadFixture(f));
      assert.ok(up.placeholder !== undefined, "in the upload answer");
      assert.match(up.placeholder.thumbhash, /^[A-Za-z0-9+/]+={0,2}$/);
      assert.match(up.placeholder.color, /^#[0-9a-f]{6}$/);
      assert.equal(up.placeholder.aspectRatio, Math.round((f.uprightWidth! / f.uprightHeight!) * 10_000) / 10_000);
      assert.deepEqual((await list(handler, up.id)).placeholder, up.placeholder, "in the listing, the same");
    });
  }
});

test("decodes counted: the upload's check makes the placeholder, a listing reads it from the original's metadata", async () => {
  await fresh();
  const handler = app();
  const photo = loadFixture("sharp_2569067123_aca715a2ee_o.jpg");
  const calls = countDecodes();
  try {
    const up = await post(handler, photo);
    assert.equal(calls.decodes, 1, "POST /images: one decode checks the upload and gives its placeholder");
    await list(handler, up.id);
    assert.equal(calls.decodes, 2, "the first listing makes the sizes: one decode");
    const again = await list(handler, up.id);
    assert.equal(calls.decodes, 2, "a listing with every size made decodes nothing");
    assert.deepEqual(again.placeholder, up.placeholder);
  } finally {
    calls.restore();
  }
});

test("an original stored before placeholders gets one from the decode that makes its sizes, kept for the next listing", async () => {
  await fresh();
  const handler = app();
  const id = "6c4b1c8e-2f51-4d7a-9a0e-3d2b1c0a9f8e";
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${id}`, Body: loadFixture("sharp_320x240.jpg"), ContentType: "image/jpeg", Metadata: { format: "jpeg", width: "320", height: "240", alpha: "0" } }));
  const calls = countDecodes();
  try {
    const first = await list(handler, id);
    assert.equal(calls.decodes, 1, "one decode for the sizes and the placeholder");
    assert.ok(first.placeholder !== undefined);
    const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${id}` }));
    assert.deepEqual([head.Metadata?.thumbhash, head.Metadata?.color, head.Metadata?.format, head.ContentType], [first.placeholder.thumbhash, first.placeholder.color, "jpeg", "image/jpeg"]);
    assert.deepEqual((await list(handler, id)).placeholder, first.placeholder);
    assert.equal(calls.decodes, 1, "and no decode after");
  } finally {
    calls.restore();
  }
});

test('sizesAt "upload": one POST, one decode, every size stored and answered exactly as the listing gives it', async (t) => {
  for (const name of ["sharp_blackbug.png", "recurser_Portrait_6.jpg", "sharp_rotating-squares.gif"]) {
    await t.test(name, async () => {
      await fresh();
      const handler = app(atUpload);
      const calls = countDecodes();
      let up: Answer;
      try {
        up = await post(handler, loadFixture(name), { Accept: "image/avif,image/webp,*/*" });
        assert.equal(calls.decodes, 1, "the check, every size and the placeholder from one decode");
      } finally {
        calls.restore();
      }
      assert.deepEqual(up.variants!.map((v) => v.size), ["thumbnail", "medium", "large"]);
      assert.ok(up.variants!.every((v) => v.created));
      assert.deepEqual(await keys(), [`originals/${up.id}`, ...up.variants!.map((v) => v.key)].sort());
      const after = countDecodes();
      let listed: Answer;
      try {
        listed = await list(handler, up.id, { Accept: "image/avif,image/webp,*/*" });
        const thumb = await handler(sizeEvent(up.id, "thumbnail"));
        assert.equal(thumb.statusCode, 200);
        assert.deepEqual((await sharp(responseBytes(thumb)).metadata()).width, up.variants![0]!.width);
        assert.equal(after.decodes, 0, "GET /images/{id} and a size: nothing left to make");
      } finally {
        after.restore();
      }
      assert.deepEqual(listed.variants, up.variants!.map((v) => ({ ...v, created: false })), "the listing's variants, made earlier");
      assert.deepEqual(listed.placeholder, up.placeholder);
    });
  }
});

test('sizesAt "upload": a refused upload stores nothing; sizes at request answer no variants', async () => {
  await fresh();
  const truncated = loadFixture("sharp_320x240.jpg").subarray(0, 4000);
  const res = await app(atUpload)(uploadEvent(truncated, { contentType: "image/jpeg" }));
  assert.deepEqual([res.statusCode, responseJson<{ error: { code: string } }>(res).error.code], [415, "UNREADABLE_IMAGE"]);
  assert.deepEqual(await keys(), []);
  const up = await post(app(), loadFixture("sharp_320x240.jpg"));
  assert.equal(up.variants, undefined);
  assert.deepEqual(await keys(), [`originals/${up.id}`]);
});
