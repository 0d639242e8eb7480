// "format": "auto": a size is made as AVIF, WebP or the original's format from
// the request's Accept header, stored once per format, and answered with
// Vary: Accept. On moto through the handler, and over HTTP on the local server.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { parseRuntimeSettings } from "../config/load.ts";
import { createApp, type Handler } from "../function/app.ts";
import { inspectImage } from "../function/image/inspect.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { renderVariants } from "../function/image/render.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { negotiateFormat } from "../function/variants.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { listEvent, responseBytes, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-negotiation";
const settings = parseRuntimeSettings(
  {
    sizes: {
      small: { width: 320, format: "auto" },
      large: { width: 1600, format: "auto" },
      thumb: { width: 100, height: 100, format: "webp" },
    },
  },
  "test settings",
);
configureLibvips(settings.input.formats);
const PHOTO = "sharp_2569067123_aca715a2ee_o.jpg"; // 2725x2225, a real photograph
const BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

/** A request exactly as given: `accept` undefined sends no Accept header at all. */
function withAccept(event: APIGatewayProxyEvent, accept: string | undefined): APIGatewayProxyEvent {
  const headers = Object.fromEntries(Object.entries(event.headers).filter(([k]) => k.toLowerCase() !== "accept"));
  return { ...event, headers: accept === undefined ? headers : { ...headers, Accept: accept } };
}

async function decoded(res: APIGatewayProxyResult): Promise<[string | undefined, number | undefined]> {
  const meta = await sharp(responseBytes(res)).metadata();
  return [meta.format, meta.width];
}

test("Accept parsing: AVIF over WebP, explicit types only, q=0 refuses", () => {
  assert.equal(negotiateFormat(BROWSER_ACCEPT), "avif");
  assert.equal(negotiateFormat("image/webp,*/*"), "webp");
  assert.equal(negotiateFormat("image/webp;q=0.5, image/avif;q=0"), "webp");
  assert.equal(negotiateFormat("IMAGE/AVIF"), "avif");
  for (const none of [undefined, "", "*/*", "image/*", "image/jpeg", "image/avifx", "image/avif;q=0, image/webp;q=0.0"]) {
    assert.equal(negotiateFormat(none), undefined, String(none));
  }
});

describe("on moto, through the handler", () => {
  let moto: Moto;
  let s3: S3Client;
  let handler: Handler;
  let id: string;

  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    handler = createApp({ store: new ImageStore(s3, BUCKET), settings, log: () => {} });
    const up = await handler(uploadEvent(loadFixture(PHOTO), { contentType: "image/jpeg" }));
    assert.equal(up.statusCode, 201, up.body);
    id = responseJson<{ id: string }>(up).id;
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });

  const cases: Array<[string, string | undefined, string, string]> = [
    ["Accept: image/avif (a browser's)", BROWSER_ACCEPT, "heif", "image/avif"],
    ["Accept: image/webp", "image/webp,*/*", "webp", "image/webp"],
    ["no Accept header", undefined, "jpeg", "image/jpeg"],
    ["Accept: */* (curl)", "*/*", "jpeg", "image/jpeg"],
  ];
  for (const [what, accept, format, contentType] of cases) {
    test(`${what}: the size comes as ${contentType}, with Vary: Accept`, async () => {
      const res = await handler(withAccept(sizeEvent(id, "small"), accept));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers?.["Content-Type"], contentType);
      assert.equal(res.headers?.Vary, "Accept");
      assert.deepEqual(await decoded(res), [format, 320]);
    });
  }

  test("each format is stored once, under its own key; a fixed-format size has no Vary", async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `resized/${id}/small.` }));
    assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).sort(), ["avif", "jpg", "webp"].map((ext) => `resized/${id}/small.${ext}`));
    const again = await handler(withAccept(sizeEvent(id, "small"), "image/webp"));
    assert.equal(again.statusCode, 200);
    const thumb = await handler(withAccept(sizeEvent(id, "thumb"), BROWSER_ACCEPT));
    assert.equal(thumb.headers?.["Content-Type"], "image/webp");
    assert.equal(thumb.headers?.Vary, undefined);
  });

  test("GET /images/{id} lists the auto sizes in the negotiated format, with Vary: Accept next to CORS's Vary: Origin", async () => {
    const custom = createApp({ store: new ImageStore(s3, BUCKET), settings: { ...settings, cors: { origins: ["https://app.example"] } }, log: () => {} });
    const res = await custom(withAccept(listEvent(id, undefined, { Origin: "https://app.example" }), "image/webp"));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers?.Vary, "Accept, Origin");
    const body = responseJson<{ variants: Array<{ size: string; key: string; contentType: string }> }>(res);
    assert.deepEqual(
      body.variants.map((v) => [v.size, v.contentType]),
      [["small", "image/webp"], ["large", "image/webp"], ["thumb", "image/webp"]],
    );
    const plain = responseJson<{ variants: Array<{ size: string; contentType: string }> }>(await handler(withAccept(listEvent(id), undefined)));
    assert.deepEqual(plain.variants.map((v) => v.contentType), ["image/jpeg", "image/jpeg", "image/webp"]);
  });

  test("a PNG with alpha, without Accept, stays PNG", async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 4, background: { r: 10, g: 20, b: 200, alpha: 0.5 } } }).png().toBuffer();
    const up = await handler(uploadEvent(png, { contentType: "image/png" }));
    const res = await handler(withAccept(sizeEvent(responseJson<{ id: string }>(up).id, "small"), undefined));
    assert.equal(res.headers?.["Content-Type"], "image/png");
    const meta = await sharp(responseBytes(res)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.hasAlpha], ["png", 320, true]);
  });

  // How long AVIF takes is measured by npm run bench (bench/encoders.ts), with
  // the machine's load and one libvips thread as on Lambda; here only a hang fails.
  test("AVIF at 1600 px, from a 6 MP photo: rendered, and served by a whole request", { timeout: 120_000 }, async () => {
    const original = loadFixture(PHOTO);
    const info = await inspectImage(original, settings.input);
    const [variant] = await renderVariants(original, info, [["large", { ...settings.sizes.large!, format: "avif" as const }]], settings);
    const meta = await sharp(variant!.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["heif", 1600, Math.round((1600 * info.height) / info.width)]);
    // And the whole request: S3 read, decode, resize, encode, S3 write.
    const res = await handler(withAccept(sizeEvent(id, "large"), "image/avif"));
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await decoded(res), ["heif", 1600]);
  });
});

describe("over HTTP on the local server", () => {
  let dataDir: string;
  let server: LocalServer;
  let id: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-auto-"));
    server = await startLocalServer({ port: 0, dataDir, settings, log: () => {} });
    const up = await fetch(`${server.url}/images`, { method: "POST", body: loadFixture("sharp_flowers.jpeg"), headers: { "x-api-key": server.apiKey, "Content-Type": "image/jpeg" } });
    id = ((await up.json()) as { id: string }).id;
  });
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the keyed and the public route both negotiate, with Vary: Accept", async () => {
    const list = await fetch(`${server.url}/images/${id}`, { headers: { "x-api-key": server.apiKey } });
    assert.equal(list.headers.get("vary"), "Accept");
    const publicUrl = ((await list.json()) as { variants: Array<{ publicUrl: string }> }).variants[0]!.publicUrl;
    for (const [accept, format] of [[BROWSER_ACCEPT, "heif"], ["image/webp,*/*", "webp"], ["*/*", "jpeg"]] as const) {
      for (const [url, headers] of [[`${server.url}/images/${id}/small`, { "x-api-key": server.apiKey }], [publicUrl, {}]] as const) {
        const res = await fetch(url, { headers: { ...headers, Accept: accept } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("vary"), "Accept", url);
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        assert.deepEqual([meta.format, meta.width], [format, 320], `${accept} ${url}`);
      }
    }
  });
});
