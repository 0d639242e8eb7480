// POST /uploads: a presigned S3 PUT of uploads/{id} for originals above the
// 6 MB request limit. The object is checked when first resized, then moved to
// originals/{id}, or deleted when refused.
// On moto through the handler, and on the local server with s3rver.
//
// What the emulators enforce of the presigned URL: moto checks nothing of it
// (signature, expiry, signed headers); s3rver checks its expiry only (it does
// not verify SigV4 signatures). Neither refuses a PUT whose Content-Type or
// Content-Length differs from the signed ones, which real S3 does
// (SignatureDoesNotMatch), so the tests assert that both headers are signed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { apiEvent, HOST, listEvent, responseBytes, responseJson, sizeEvent, STAGE } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-large-uploads";
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

interface UploadAnswer {
  id: string;
  upload: { url: string; method: string; headers: Record<string, string>; expiresAt: string };
  links: { self: string; sizes: Record<string, string> };
}

/** About 20 MB of incompressible pixels in a PNG (2600x2600, 6.8 MP: under the 40 MP limit). */
async function noisePng(): Promise<Buffer> {
  const side = 2600;
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}

const uploadsEvent = (body: unknown) =>
  apiEvent({ method: "POST", resource: "/uploads", headers: { "Content-Type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), base64: true });

function errorOf(res: APIGatewayProxyResult): [number, string, string] {
  const { code, message } = responseJson<{ error: { code: string; message: string } }>(res).error;
  return [res.statusCode, code, message];
}

function put(url: string, body: Buffer, contentType: string): Promise<Response> {
  return fetch(url, { method: "PUT", body, headers: { "Content-Type": contentType } });
}

describe("on moto, through the handler", () => {
  let moto: Moto;
  let s3: S3Client;
  let handler: Handler;
  let big: Buffer;

  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    handler = createApp({ store: new ImageStore(s3, BUCKET), settings, log: () => {} });
    big = await noisePng();
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });

  async function exists(key: string): Promise<boolean> {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      return true;
    } catch (e) {
      if ((e as { name?: string }).name === "NotFound") return false;
      throw e;
    }
  }

  async function presign(contentType: string, contentLength: number, name?: string): Promise<UploadAnswer> {
    const res = await handler(uploadsEvent({ contentType, contentLength, ...(name === undefined ? {} : { name }) }));
    assert.equal(res.statusCode, 201, res.body);
    return responseJson<UploadAnswer>(res);
  }

  test("a 20 MB image PUT through the presigned URL is resized by GET /images/{id}", async (t) => {
    // Prepare
    assert.ok(big.length > 20_000_000 && big.length > settings.input.maxBytes * 4, `${big.length} bytes`);
    const started = Date.now();
    const answer = await presign("image/png", big.length, "noise field.png");

    // The URL: a PUT of uploads/{id}, short-lived, with type and length signed, and no checksum of an empty body.
    assert.match(answer.id, UUID_V4);
    assert.deepEqual([answer.upload.method, answer.upload.headers], ["PUT", { "Content-Type": "image/png" }]);
    assert.ok(Math.abs(Date.parse(answer.upload.expiresAt) - (started + settings.uploads.urlExpiresSeconds * 1000)) < 5_000, answer.upload.expiresAt);
    const url = new URL(answer.upload.url);
    assert.equal(url.pathname, `/${BUCKET}/uploads/${answer.id}`);
    assert.equal(url.searchParams.get("X-Amz-SignedHeaders"), "content-length;content-type;host");
    assert.equal(url.searchParams.get("X-Amz-Expires"), String(settings.uploads.urlExpiresSeconds));
    assert.equal(url.searchParams.get("x-amz-checksum-crc32"), null);
    assert.equal(url.searchParams.get("x-amz-sdk-checksum-algorithm"), null);
    assert.equal(answer.links.self, `https://${HOST}/${STAGE}/images/${answer.id}`);

    // Act
    const uploaded = await put(answer.upload.url, big, "image/png");
    assert.equal(uploaded.status, 200, await uploaded.text());
    const t0 = performance.now();
    const list = await handler(listEvent(answer.id));
    const listMs = performance.now() - t0;

    // Assess
    assert.equal(list.statusCode, 200, list.body);
    const body = responseJson<{ original: Record<string, unknown>; variants: Array<{ size: string; width: number; height: number; created: boolean }> }>(list);
    assert.deepEqual(body.original, { key: `originals/${answer.id}`, format: "png", width: 2600, height: 2600, bytes: big.length, name: "noise field.png" });
    // Checked, it was moved: originals/ holds it with its checked facts, uploads/ no longer.
    assert.equal(await exists(`uploads/${answer.id}`), false);
    const moved = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${answer.id}` }));
    assert.deepEqual([moved.ContentType, moved.ContentLength, moved.Metadata?.format, moved.Metadata?.name], ["image/png", big.length, "png", "noise%20field.png"]);
    assert.deepEqual(body.variants.map((v) => [v.size, v.width, v.height, v.created]), [["thumbnail", 150, 150, true], ["medium", 800, 800, true], ["large", 1600, 1600, true]]);
    const again = responseJson<{ variants: Array<{ created: boolean }> }>(await handler(listEvent(answer.id)));
    assert.ok(again.variants.every((v) => !v.created), "checked once: the second listing finds every size");
    const medium = await handler(sizeEvent(answer.id, "medium"));
    const meta = await sharp(responseBytes(medium)).metadata();
    assert.deepEqual([meta.format, meta.width], ["webp", 800]);
    t.diagnostic(`${big.length} bytes uploaded; checking and resizing it took ${Math.round(listMs)} ms`);
  });

  const refused: Array<[string, () => Promise<Buffer>, string, number, string]> = [
    ["a non-image", async () => Buffer.from("%PDF-1.7 definitely not an image ".repeat(1000)), "image/jpeg", 415, "UNSUPPORTED_IMAGE_TYPE"],
    ["a truncated JPEG (its header reads, its data does not)", async () => loadFixture("sharp_2569067123_aca715a2ee_o.jpg").subarray(0, 300_000), "image/jpeg", 415, "UNREADABLE_IMAGE"],
    ["a pixel flood (64250x64250 declared in 4.8 KB)", async () => loadFixture("fuzzdb_lottapixel.jpg"), "image/jpeg", 422, "TOO_MANY_PIXELS"],
  ];
  for (const [what, make, type, status, code] of refused) {
    test(`${what} uploaded that way is refused (${status} ${code}) and deleted from uploads/`, async () => {
      const bytes = await make();
      const answer = await presign(type, bytes.length);
      assert.equal((await put(answer.upload.url, bytes, type)).status, 200);
      assert.ok(await exists(`uploads/${answer.id}`));

      const [gotStatus, gotCode, message] = errorOf(await handler(sizeEvent(answer.id, "thumbnail")));

      assert.deepEqual([gotStatus, gotCode], [status, code]);
      assert.match(message, /The uploaded object was deleted/);
      assert.equal(await exists(`uploads/${answer.id}`), false, "the refused object is gone");
      assert.equal(await exists(`originals/${answer.id}`), false, "and never reached originals/");
      const left = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `resized/${answer.id}/` }));
      assert.deepEqual(left.Contents ?? [], []);
      const later = errorOf(await handler(listEvent(answer.id)));
      assert.deepEqual(later.slice(0, 2), [404, "IMAGE_NOT_FOUND"]);
    });
  }

  test("an object written directly, larger than uploads.maxBytes, is refused unread (413) and deleted", async () => {
    const small: RuntimeSettings = { ...settings, uploads: { ...settings.uploads, maxBytes: 1_000_000 } };
    const app = createApp({ store: new ImageStore(s3, BUCKET), settings: small, log: () => {} });
    const id = "0b6e2f4c-7a1d-4e3b-9c5f-2d8a6b4e1f37";
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${id}`, Body: big, ContentType: "image/png" }));
    const [status, code, message] = errorOf(await app(listEvent(id)));
    assert.deepEqual([status, code], [413, "PAYLOAD_TOO_LARGE"]);
    assert.match(message, new RegExp(`The image is ${big.length} bytes; the limit is 1000000 bytes`));
    assert.equal(await exists(`originals/${id}`), false);
  });

  test("POST /uploads refuses a type, a length or a body it cannot accept, each with its own code", async () => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      [{ contentType: "image/svg+xml", contentLength: 100 }, 400, "INVALID_CONTENT_TYPE", /Expected one of image\/jpeg, image\/png, .* for contentType but received "image\/svg\+xml"/],
      [{ contentLength: 100 }, 400, "INVALID_CONTENT_TYPE", /but received undefined of type undefined/],
      [{ contentType: "image/jpeg", contentLength: settings.uploads.maxBytes + 1 }, 413, "PAYLOAD_TOO_LARGE", /the limit for uploads is 50\.0 MiB/],
      [{ contentType: "image/jpeg", contentLength: "20971520" }, 400, "INVALID_REQUEST", /Expected a positive integer .* for contentLength but received "20971520"/],
      [{ contentType: "image/jpeg", contentLength: 0 }, 400, "INVALID_REQUEST", /for contentLength but received 0/],
      [{ contentType: "image/jpeg", contentLength: 10, bucket: "elsewhere" }, 400, "INVALID_REQUEST", /Unknown field "bucket": expected contentType, contentLength, name/],
      ["{not json", 400, "INVALID_REQUEST", /not valid JSON/],
      [[1, 2], 400, "INVALID_REQUEST", /must be an object/],
    ];
    for (const [body, status, code, message] of cases) {
      const [gotStatus, gotCode, gotMessage] = errorOf(await handler(uploadsEvent(body)));
      assert.deepEqual([gotStatus, gotCode], [status, code], JSON.stringify(body));
      assert.match(gotMessage, message);
    }
    // A type with parameters or capitals is the same type.
    assert.equal((await presign("Image/JPEG; charset=binary", 10)).upload.headers["Content-Type"], "image/jpeg");
  });
});

describe("on the local server, with s3rver", () => {
  let dataDir: string;
  let server: LocalServer;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-uploads-"));
    server = await startLocalServer({ port: 0, dataDir, log: () => {} });
  });
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function presign(contentType: string, contentLength: number): Promise<UploadAnswer> {
    const res = await fetch(`${server.url}/uploads`, {
      method: "POST",
      headers: { "x-api-key": server.apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ contentType, contentLength }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as UploadAnswer;
  }

  test("POST /uploads needs the API key", async () => {
    const res = await fetch(`${server.url}/uploads`, { method: "POST", body: "{}" });
    assert.equal(res.status, 403);
  });

  test("a 20 MB image goes to the embedded S3 and is resized; a non-image is refused and deleted", async () => {
    const big = await noisePng();
    const answer = await presign("image/png", big.length);
    assert.ok(answer.upload.url.startsWith(`${server.s3.endpoint}/${server.bucket}/uploads/${answer.id}?`), answer.upload.url);
    assert.equal((await put(answer.upload.url, big, "image/png")).status, 200);
    const res = await fetch(`${server.url}/images/${answer.id}/medium`, { headers: { "x-api-key": server.apiKey } });
    assert.equal(res.status, 200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["webp", 800, 800]);

    const junk = Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>");
    const bad = await presign("image/jpeg", junk.length);
    assert.equal((await put(bad.upload.url, junk, "image/jpeg")).status, 200);
    const refused = await fetch(`${server.url}/images/${bad.id}`, { headers: { "x-api-key": server.apiKey } });
    assert.equal(refused.status, 415);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "UNSUPPORTED_IMAGE_TYPE");
    const left = await server.s3.client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `uploads/${bad.id}` }));
    assert.deepEqual(left.Contents ?? [], []);
  });
});
