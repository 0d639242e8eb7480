// The API end to end against moto's S3: API Gateway events in, what lands in
// the bucket and what the caller gets back out. One moto_server for the file;
// every test gets a fresh bucket.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import type { APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { BUCKET_ENV, SETTINGS_ENV, settingsFromEnv, settingsToEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";
import { HOST, TEST_API_KEY, listEvent, responseBytes, responseJson, sizeEvent, uploadEvent, uploadJsonEvent } from "./support/events.ts";
import { fixturesIn, loadFixture } from "./support/fixtures.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./support/moto.ts";
import { motoWithBucket } from "./support/moto-bucket.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BUCKET = "imgapi-test-images";
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

const aws = motoWithBucket(BUCKET);
let logLines: string[] = [];

/**
 * An empty emulator with just the bucket, and a clean log. Called by each test
 * itself: a root beforeEach would also run before every subtest.
 */
async function fresh(): Promise<void> {
  await aws.fresh();
  logLines = [];
}

function app(options: { settings?: RuntimeSettings; maxInlineBytes?: number } = {}): Handler {
  return createApp({
    store: new ImageStore(aws.s3, BUCKET),
    settings: options.settings ?? settings,
    ...(options.maxInlineBytes === undefined ? {} : { maxInlineBytes: options.maxInlineBytes }),
    log: (line) => logLines.push(line),
  });
}

/** An original's metadata without its placeholder (checked on its own: a hash is not worth spelling out here). */
function storedFacts(meta: Record<string, string> | undefined): Record<string, string> {
  const { thumbhash, color, ...facts } = meta ?? {};
  assert.match(thumbhash ?? "", /^[A-Za-z0-9+/]{20,60}={0,2}$/, "a ThumbHash in base64");
  assert.match(color ?? "", /^#[0-9a-f]{6}$/, "a colour #rrggbb");
  return facts;
}

interface UploadBody {
  id: string;
  original: { key: string; format: string; width: number; height: number; bytes: number; name?: string };
  placeholder: { thumbhash: string; color: string; aspectRatio: number };
  links: { self: string; sizes: Record<string, string> };
}

interface ListBody {
  id: string;
  original: { key: string; format: string; width: number; height: number; bytes: number; name?: string };
  variants: Array<{ size: string; key: string; contentType: string; format: string; width: number; height: number; bytes: number; created: boolean; link: string }>;
  links: { self: string };
}

async function upload(handler: Handler, bytes: Buffer): Promise<UploadBody> {
  const res = await handler(uploadEvent(bytes, { contentType: "image/jpeg" }));
  assert.equal(res.statusCode, 201, res.body);
  return responseJson<UploadBody>(res);
}

async function keys(prefix: string): Promise<string[]> {
  const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

async function objectBytes(key: string): Promise<Buffer> {
  const got = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

async function dimensions(data: Buffer): Promise<[string | undefined, number | undefined, number | undefined]> {
  const m = await sharp(data).metadata();
  return [m.format, m.width, m.height];
}

function errorOf(res: APIGatewayProxyResult): { code: string; message: string } {
  return responseJson<{ error: { code: string; message: string } }>(res).error;
}

test("POST raw bytes: stored under originals/{id} as the sniffed type, whatever Content-Type claimed", async () => {
  await fresh();
  const jpeg = loadFixture("sharp_320x240.jpg");
  const res = await app()(uploadEvent(jpeg, { contentType: "image/png", name: "holiday/cat.jpg" }));

  assert.equal(res.statusCode, 201, res.body);
  const body = responseJson<UploadBody>(res);
  assert.match(body.id, UUID_V4);
  assert.deepEqual(body.original, { key: `originals/${body.id}`, format: "jpeg", width: 320, height: 240, bytes: jpeg.length, name: "cat.jpg" });
  assert.equal(body.links.self, `https://${HOST}/prod/images/${body.id}`);
  assert.deepEqual(body.links.sizes, {
    thumbnail: `https://${HOST}/prod/images/${body.id}/thumbnail`,
    medium: `https://${HOST}/prod/images/${body.id}/medium`,
    large: `https://${HOST}/prod/images/${body.id}/large`,
  });
  assert.equal(res.headers?.Location, body.links.self);
  assert.match(String(res.headers?.["Content-Type"]), /^application\/json/);

  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${body.id}` }));
  assert.equal(head.ContentType, "image/jpeg");
  assert.deepEqual(storedFacts(head.Metadata), { format: "jpeg", width: "320", height: "240", alpha: "0", name: "cat.jpg" });
  assert.deepEqual([head.Metadata?.thumbhash, head.Metadata?.color], [body.placeholder.thumbhash, body.placeholder.color], "the placeholder is stored with the original");
  assert.ok((await objectBytes(`originals/${body.id}`)).equals(jpeg), "the original is stored byte for byte");
  assert.deepEqual(await keys(""), [`originals/${body.id}`], "nothing else is written on upload");
});

test("POST JSON: base64-encoded by API Gateway, plain, or a data URL; upright dimensions and alpha recorded", async () => {
  await fresh();
  const handler = app();
  const photo = loadFixture("recurser_Portrait_6.jpg"); // stored 1800x1200, EXIF orientation 6
  const res = await handler(uploadJsonEvent({ image: photo.toString("base64"), name: "C:\\Users\\me\\Pictures\\Été à Zürich.jpg" }));
  assert.equal(res.statusCode, 201, res.body);
  const body = responseJson<UploadBody>(res);
  assert.deepEqual(
    [body.original.format, body.original.width, body.original.height, body.original.bytes, body.original.name],
    ["jpeg", 1200, 1800, photo.length, "Été à Zürich.jpg"],
  );
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${body.id}` }));
  assert.equal(head.ContentType, "image/jpeg");
  assert.deepEqual(storedFacts(head.Metadata), { format: "jpeg", width: "1200", height: "1800", alpha: "0", name: encodeURIComponent("Été à Zürich.jpg") });
  // And the name reads back as it was given.
  const listed = responseJson<ListBody>(await handler(listEvent(body.id)));
  assert.equal(listed.original.name, "Été à Zürich.jpg");

  const png = loadFixture("sharp_blackbug.png");
  const plain = await handler(uploadJsonEvent({ image: png.toString("base64") }, { base64: false }));
  assert.equal(plain.statusCode, 201, plain.body);
  const plainBody = responseJson<UploadBody>(plain);
  assert.equal(plainBody.original.name, undefined);
  const pngHead = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${plainBody.id}` }));
  assert.equal(pngHead.ContentType, "image/png");
  assert.deepEqual(storedFacts(pngHead.Metadata), { format: "png", width: "2048", height: "1536", alpha: "1" });

  const webp = loadFixture("sharp_4.webp");
  const dataUrl = await handler(uploadJsonEvent({ image: `data:image/webp;base64,${webp.toString("base64")}`, name: "four.webp" }));
  assert.equal(dataUrl.statusCode, 201, dataUrl.body);
  const dataUrlId = responseJson<UploadBody>(dataUrl).id;
  assert.ok((await objectBytes(`originals/${dataUrlId}`)).equals(webp));

  assert.equal((await keys("originals/")).length, 3);
  assert.ok(new Set([body.id, plainBody.id, dataUrlId]).size === 3, "every upload gets its own id");
});

test("GET /images/{id} creates every size once, lists them, and recreates them all with force=true", async () => {
  await fresh();
  const handler = app();
  const { id } = await upload(handler, loadFixture("recurser_Landscape_6.jpg")); // stored 1200x1800, upright 1800x1200

  const first = await handler(listEvent(id));
  assert.equal(first.statusCode, 200, first.body);
  const body = responseJson<ListBody>(first);
  assert.equal(body.id, id);
  assert.deepEqual([body.original.width, body.original.height, body.original.format], [1800, 1200, "jpeg"]);
  assert.equal(body.links.self, `https://${HOST}/prod/images/${id}`);
  const expected: Record<string, [number, number]> = { thumbnail: [150, 150], medium: [800, 533], large: [1600, 1067] };
  assert.deepEqual(body.variants.map((v) => v.size), ["thumbnail", "medium", "large"]);
  for (const v of body.variants) {
    assert.equal(v.key, `resized/${id}/${v.size}.webp`);
    assert.deepEqual([v.contentType, v.format, v.created], ["image/webp", "webp", true]);
    assert.deepEqual([v.width, v.height], expected[v.size]);
    assert.equal(v.link, `https://${HOST}/prod/images/${id}/${v.size}`);
    const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: v.key }));
    assert.equal(head.ContentType, "image/webp");
    assert.equal(head.ContentLength, v.bytes);
    assert.deepEqual(Object.keys(head.Metadata ?? {}).sort(), ["height", "spec", "width"]);
    assert.deepEqual([head.Metadata?.width, head.Metadata?.height], expected[v.size]!.map(String));
    assert.match(head.Metadata?.spec ?? "", /^[0-9a-f]{16}$/);
    assert.deepEqual(await dimensions(await objectBytes(v.key)), ["webp", ...expected[v.size]!]);
  }
  assert.deepEqual(await keys("resized/"), [`resized/${id}/large.webp`, `resized/${id}/medium.webp`, `resized/${id}/thumbnail.webp`]);

  // Replace one stored variant with other bytes under the same settings tag: a
  // plain list trusts the tag and leaves it, force=true writes every size again.
  const mediumKey = `resized/${id}/medium.webp`;
  const mediumHead = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: mediumKey }));
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: mediumKey, Body: "not an image", ContentType: "image/webp", Metadata: mediumHead.Metadata }));

  const second = responseJson<ListBody>(await handler(listEvent(id)));
  assert.deepEqual(second.variants.map((v) => v.created), [false, false, false]);
  assert.deepEqual(second.variants.map((v) => [v.width, v.height]), body.variants.map((v) => [v.width, v.height]));
  assert.equal((await objectBytes(mediumKey)).toString(), "not an image", "a second list writes nothing");

  const forced = await handler(listEvent(id, { force: "true" }));
  assert.equal(forced.statusCode, 200);
  assert.deepEqual(responseJson<ListBody>(forced).variants.map((v) => v.created), [true, true, true]);
  assert.deepEqual(await dimensions(await objectBytes(mediumKey)), ["webp", 800, 533]);

  const maybe = await handler(listEvent(id, { force: "maybe" }));
  assert.equal(maybe.statusCode, 400);
  assert.equal(errorOf(maybe).code, "INVALID_REQUEST");
  assert.match(errorOf(maybe).message, /force must be "true" or "false", not "maybe"/);
});

test("GET /images/{id}/{size}: the bytes inline with ETag and Cache-Control, 304 on If-None-Match", async () => {
  await fresh();
  const handler = app();
  const { id } = await upload(handler, loadFixture("recurser_Portrait_8.jpg")); // upright 1200x1800

  // Made on first request, without a list first.
  assert.deepEqual(await keys("resized/"), []);
  const res = await handler(sizeEvent(id, "medium"));
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.isBase64Encoded, true);
  const bytes = responseBytes(res);
  assert.deepEqual(await dimensions(bytes), ["webp", 800, 1200]);
  assert.equal(res.headers?.["Content-Type"], "image/webp");
  assert.equal(res.headers?.["Cache-Control"], "private, max-age=31536000");
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `resized/${id}/medium.webp` }));
  assert.equal(res.headers?.ETag, head.ETag);
  assert.ok(bytes.equals(await objectBytes(`resized/${id}/medium.webp`)));
  assert.deepEqual(await keys("resized/"), [`resized/${id}/medium.webp`], "only the size asked for is made");

  const again = await handler(sizeEvent(id, "medium"));
  assert.ok(responseBytes(again).equals(bytes));
  assert.equal(again.headers?.ETag, head.ETag);

  const notModified = await handler(sizeEvent(id, "medium", { "If-None-Match": String(head.ETag) }));
  assert.equal(notModified.statusCode, 304);
  assert.equal(notModified.body, "");
  assert.equal(notModified.headers?.ETag, head.ETag);
  const stale = await handler(sizeEvent(id, "medium", { "If-None-Match": '"0123456789abcdef0123456789abcdef"' }));
  assert.equal(stale.statusCode, 200);

  const thumb = await handler(sizeEvent(id, "thumbnail"));
  assert.deepEqual(await dimensions(responseBytes(thumb)), ["webp", 150, 150]);
});

test("a variant larger than maxInlineBytes is a 302 to a presigned S3 URL serving the same bytes", async () => {
  await fresh();
  const handler = app({ maxInlineBytes: 100 });
  const { id } = await upload(handler, loadFixture("sharp_320x240.jpg"));
  const res = await handler(sizeEvent(id, "medium"));
  assert.equal(res.statusCode, 302, res.body);
  assert.equal(res.body, "");
  assert.equal(res.headers?.["Cache-Control"], "no-store");
  const location = String(res.headers?.Location);
  assert.ok(location.startsWith(`${aws.moto.endpoint}/${BUCKET}/resized/${id}/medium.webp?`), location);
  assert.match(location, /X-Amz-Signature=[0-9a-f]{64}/);
  assert.match(location, /X-Amz-Expires=300\b/);

  const fetched = await fetch(location);
  assert.equal(fetched.status, 200);
  const body = Buffer.from(await fetched.arrayBuffer());
  assert.ok(body.equals(await objectBytes(`resized/${id}/medium.webp`)));
  assert.deepEqual(await dimensions(body), ["webp", 320, 240]);
});

test("changing a size's settings regenerates it on the next request, and only it", async () => {
  await fresh();
  const { id } = await upload(app(), loadFixture("sharp_2569067123_aca715a2ee_o.jpg")); // 2725x2225
  const old = responseJson<ListBody>(await app()(listEvent(id)));
  assert.deepEqual(old.variants.find((v) => v.size === "thumbnail")!.width, 150);
  const oldSpec = (await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `resized/${id}/thumbnail.webp` }))).Metadata?.spec;

  const changed = settingsFromEnv({
    [SETTINGS_ENV]: settingsToEnv({ ...settings, sizes: { ...settings.sizes, thumbnail: { width: 100, height: 100, fit: "cover", enlarge: false } } }),
  });
  const handler = app({ settings: changed });
  const res = await handler(sizeEvent(id, "thumbnail"));
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(await dimensions(responseBytes(res)), ["webp", 100, 100]);
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `resized/${id}/thumbnail.webp` }));
  assert.deepEqual([head.Metadata?.width, head.Metadata?.height], ["100", "100"]);
  assert.notEqual(head.Metadata?.spec, oldSpec);

  const listed = responseJson<ListBody>(await handler(listEvent(id)));
  assert.deepEqual(
    listed.variants.map((v) => [v.size, v.width, v.height, v.created]),
    [
      ["thumbnail", 100, 100, false],
      ["medium", 800, 653, false],
      ["large", 1600, 1306, false],
    ],
  );

  // Back to the old settings: the list notices the tag mismatch and remakes just the thumbnail.
  const back = responseJson<ListBody>(await app()(listEvent(id)));
  assert.deepEqual(back.variants.map((v) => [v.size, v.width, v.created]), [
    ["thumbnail", 150, true],
    ["medium", 800, false],
    ["large", 1600, false],
  ]);
});

test("every invalid file and bomb is refused with a stable 4xx and nothing is stored", async (t) => {
  await fresh();
  const handler = app();
  const codes = new Set(["UNSUPPORTED_IMAGE_TYPE", "UNREADABLE_IMAGE", "TOO_MANY_PIXELS", "TOO_MANY_FRAMES", "INVALID_REQUEST", "PAYLOAD_TOO_LARGE"]);
  const expected: Record<string, string> = {
    "fuzzdb_lottapixel.jpg": "TOO_MANY_PIXELS",
    "sharp_65536-uint32-limit.png": "TOO_MANY_PIXELS",
    "fuzzdb_uber.gif": "TOO_MANY_FRAMES",
    "weserv_giant.svg": "UNSUPPORTED_IMAGE_TYPE",
    "sharp_check.svg": "UNSUPPORTED_IMAGE_TYPE",
    "libheif_rainbow-451x461.heic": "UNSUPPORTED_IMAGE_TYPE",
    "weserv_sizes.pdf": "UNSUPPORTED_IMAGE_TYPE",
    "empty.jpg": "INVALID_REQUEST",
  };
  for (const f of fixturesIn("invalid", "bomb")) {
    await t.test(f.file, async () => {
      // Sent as the browser would label it: by its file name.
      const res = await handler(uploadEvent(loadFixture(f), { contentType: "image/jpeg", name: f.name }));
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `status ${res.statusCode}: ${res.body}`);
      const error = errorOf(res);
      assert.ok(codes.has(error.code), error.code);
      if (expected[f.name] !== undefined) assert.equal(error.code, expected[f.name]);
      assert.equal(res.headers?.["Access-Control-Allow-Origin"], "*");
    });
  }
  const stored = await aws.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  assert.equal(stored.KeyCount ?? 0, 0, `objects left behind: ${(stored.Contents ?? []).map((o) => o.Key).join(", ")}`);
  const statuses = logLines.map((l) => (JSON.parse(l) as { status: number }).status);
  assert.equal(statuses.length, fixturesIn("invalid", "bomb").length);
  assert.ok(statuses.every((s) => s >= 400 && s < 500), statuses.join(","));
});

test("the log: one JSON line per request, with no API key and no image data", async () => {
  await fresh();
  const handler = app();
  const jpeg = loadFixture("sharp_concert.jpg");
  const up = await handler(uploadEvent(jpeg, { contentType: "image/jpeg" }));
  const { id } = responseJson<UploadBody>(up);
  const json = await handler(uploadJsonEvent({ image: jpeg.toString("base64"), name: "concert.jpg" }));
  const list = await handler(listEvent(id));
  const size = await handler(sizeEvent(id, "medium"));
  const missing = await handler(sizeEvent("00000000-0000-4000-8000-000000000000", "medium"));
  const bad = await handler(uploadEvent(loadFixture("sharp_truncated.jpg")));
  const results = [up, json, list, size, missing, bad];

  assert.equal(logLines.length, results.length, "one line per request");
  const entries = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    entries.map((e) => [e.route, e.status, e.errorCode]),
    [
      ["POST /images", 201, undefined],
      ["POST /images", 201, undefined],
      ["GET /images/{id}", 200, undefined],
      ["GET /images/{id}/{size}", 200, undefined],
      ["GET /images/{id}/{size}", 404, "IMAGE_NOT_FOUND"],
      ["POST /images", 415, "UNREADABLE_IMAGE"],
    ],
  );
  for (const [i, e] of entries.entries()) {
    assert.equal(typeof e.requestId, "string");
    assert.match(String(e.requestId), UUID_V4, "the API Gateway request id");
    assert.ok(typeof e.durationMs === "number" && e.durationMs >= 0);
    assert.ok(typeof e.bytesIn === "number" && typeof e.bytesOut === "number");
    assert.equal(e.status, results[i]!.statusCode);
  }
  assert.equal(new Set(entries.map((e) => e.requestId)).size, entries.length);
  assert.equal(entries[0]!.bytesIn, jpeg.length);
  assert.equal(entries[1]!.bytesIn, jpeg.length);
  assert.equal(entries[3]!.bytesOut, responseBytes(size).length);

  const secrets = [
    TEST_API_KEY,
    jpeg.toString("base64").slice(0, 40),
    jpeg.toString("base64").slice(5000, 5040),
    String(size.body).slice(0, 40),
    String(size.body).slice(-60, -20),
  ];
  for (const line of logLines) {
    for (const secret of secrets) assert.ok(!line.includes(secret), `log line leaks ${secret.slice(0, 12)}...: ${line.slice(0, 200)}`);
    assert.ok(line.length < 2000, `log line of ${line.length} characters`);
  }
});

test("the real Lambda handler, configured from the environment, does upload -> list -> fetch", async () => {
  await fresh();
  const custom: RuntimeSettings = { ...settings, sizes: { tiny: { width: 64, enlarge: false }, square: { width: 120, height: 120, fit: "cover", format: "png", enlarge: false } } };
  const saved = { ...process.env };
  Object.assign(process.env, {
    [BUCKET_ENV]: BUCKET,
    [SETTINGS_ENV]: settingsToEnv(custom),
    [S3_ENDPOINT_ENV]: aws.moto.endpoint,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    AWS_REGION: MOTO_REGION,
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  const printed: string[] = [];
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  try {
    const { handler } = await import("../function/handler.ts");
    const up = await handler(uploadEvent(loadFixture("sharp_flowers.jpeg"), { contentType: "application/octet-stream" }));
    assert.equal(up.statusCode, 201, up.body);
    const { id, links } = responseJson<UploadBody>(up);
    assert.deepEqual(Object.keys(links.sizes), ["tiny", "square"]);

    const list = await handler(listEvent(id));
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual(
      responseJson<ListBody>(list).variants.map((v) => [v.key, v.width, v.height, v.created]),
      [
        [`resized/${id}/tiny.webp`, 64, 36, true],
        [`resized/${id}/square.png`, 120, 120, true],
      ],
    );
    const got = await handler(sizeEvent(id, "square"));
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.headers?.["Content-Type"], "image/png");
    assert.deepEqual(await dimensions(responseBytes(got)), ["png", 120, 120]);
    assert.deepEqual(await keys(""), [`originals/${id}`, `resized/${id}/square.png`, `resized/${id}/tiny.webp`]);
    const unknown = await handler(sizeEvent(id, "medium"));
    assert.equal(unknown.statusCode, 400);
    assert.match(errorOf(unknown).message, /Valid sizes: tiny, square\./);

    const lines = printed.map((l) => JSON.parse(l) as { route: string; status: number });
    assert.deepEqual(lines.map((l) => l.status), [201, 200, 200, 400]);
  } finally {
    console.log = consoleLog;
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
});
