// DELETE /images/{id}: the original and every variant (each size, each
// negotiated format, the original's record) go; other images stay; a later GET
// is 404. On moto through the handler, and over HTTP on the local server.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { parseRuntimeSettings } from "../config/load.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { apiEvent, listEvent, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { applyStrictRules } from "./support/aws-rules.ts";
import { startFaultProxy } from "./support/fault-proxy.ts";
import { s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-delete";
const settings = parseRuntimeSettings({ sizes: { thumbnail: { width: 150, height: 150 }, small: { width: 320, format: "auto" } } }, "test settings");
configureLibvips(settings.input.formats);

const photo = () => sharp({ create: { width: 640, height: 480, channels: 3, background: "#a52" } }).jpeg().toBuffer();
const deleteEvent = (id: string) => apiEvent({ method: "DELETE", resource: "/images/{id}", pathParameters: { id } });

function errorOf(res: APIGatewayProxyResult): [number, string] {
  return [res.statusCode, responseJson<{ error: { code: string } }>(res).error.code];
}

describe("on moto, through the handler", () => {
  let moto: Moto;
  let s3: S3Client;
  let handler: Handler;

  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    handler = createApp({ store: new ImageStore(s3, BUCKET), settings, log: () => {} });
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });

  async function keys(prefix = ""): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      out.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return out.sort();
  }

  async function imageWithEveryVariant(): Promise<string> {
    const id = responseJson<{ id: string }>(await handler(uploadEvent(await photo(), { contentType: "image/jpeg" }))).id;
    assert.equal((await handler(listEvent(id))).statusCode, 200);
    for (const accept of ["image/avif", "image/webp"]) assert.equal((await handler(sizeEvent(id, "small", { Accept: accept }))).statusCode, 200);
    return id;
  }

  test("every object of the image is gone, the other image's stay, and a later GET is 404", async () => {
    // Prepare: two images, one with every variant in every format.
    const id = await imageWithEveryVariant();
    const other = await imageWithEveryVariant();
    assert.deepEqual(await keys(`resized/${id}/`), ["small.avif", "small.jpg", "small.webp", "thumbnail.webp"].map((k) => `resized/${id}/${k}`));
    const othersBefore = [...(await keys(`originals/${other}`)), ...(await keys(`resized/${other}/`))];

    // Act
    const res = await handler(deleteEvent(id));

    // Assess
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, "");
    assert.deepEqual((await keys()).filter((k) => k.includes(id)), [], "nothing of the image is left");
    assert.deepEqual([...(await keys(`originals/${other}`)), ...(await keys(`resized/${other}/`))], othersBefore);
    assert.deepEqual(errorOf(await handler(listEvent(id))), [404, "IMAGE_NOT_FOUND"]);
    assert.deepEqual(errorOf(await handler(sizeEvent(id, "thumbnail"))), [404, "IMAGE_NOT_FOUND"]);
    assert.deepEqual(errorOf(await handler(deleteEvent(id))), [404, "IMAGE_NOT_FOUND"], "a second DELETE finds nothing");
  });

  test("an id never uploaded is 404, a malformed one 400", async () => {
    assert.deepEqual(errorOf(await handler(deleteEvent("7d3c1f0e-2b4a-4c6d-8e9f-0a1b2c3d4e5f"))), [404, "IMAGE_NOT_FOUND"]);
    assert.deepEqual(errorOf(await handler(deleteEvent("../originals"))), [400, "INVALID_ID"]);
  });

  test("variants left without their original are deleted too; more than 1000 keys take several DeleteObjects, as S3 requires", async () => {
    const id = "5e0c7b2a-91d4-4f63-a8b7-3c2e1d0f9a84";
    const names = Array.from({ length: 1003 }, (_, i) => `resized/${id}/size-${i}.webp`);
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(names.slice(i, i + 100).map((Key) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: "x" }))));
    }
    assert.equal((await keys(`resized/${id}/`)).length, 1003);
    // Through a proxy holding S3 to its documented limit of 1000 keys per DeleteObjects (moto has none).
    const proxy = await startFaultProxy(moto.endpoint);
    const harness = applyStrictRules(proxy, { only: ["s3-delete-objects-1000-keys"] });
    const limited = new S3Client(s3ClientConfig({ endpoint: proxy.url }));
    try {
      const strictHandler = createApp({ store: new ImageStore(limited, BUCKET), settings, log: () => {} });
      assert.equal((await strictHandler(deleteEvent(id))).statusCode, 204);
      assert.equal(harness.fired()["s3-delete-objects-1000-keys"], 0, "no DeleteObjects was refused");
      assert.ok(proxy.count({ service: "s3", method: "POST" }) >= 2, "two DeleteObjects at least");
    } finally {
      harness.close();
      limited.destroy();
      await proxy.close();
    }
    assert.deepEqual(await keys(`resized/${id}/`), []);
  });
});

describe("over HTTP on the local server", () => {
  let dataDir: string;
  let server: LocalServer;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-delete-"));
    server = await startLocalServer({ port: 0, dataDir, settings, log: () => {} });
  });
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("DELETE needs the API key, answers 204, and the image is gone", async () => {
    const key = { "x-api-key": server.apiKey };
    const up = await fetch(`${server.url}/images`, { method: "POST", body: await photo(), headers: { ...key, "Content-Type": "image/jpeg" } });
    const { id } = (await up.json()) as { id: string };
    assert.equal((await fetch(`${server.url}/images/${id}`, { headers: key })).status, 200);

    assert.equal((await fetch(`${server.url}/images/${id}`, { method: "DELETE" })).status, 403);
    const res = await fetch(`${server.url}/images/${id}`, { method: "DELETE", headers: key });
    assert.equal(res.status, 204);
    assert.equal((await fetch(`${server.url}/images/${id}`, { headers: key })).status, 404);
    const left = await server.s3.client.send(new ListObjectsV2Command({ Bucket: server.bucket }));
    assert.deepEqual((left.Contents ?? []).map((o) => o.Key).filter((k) => k?.includes(id)), []);
  });
});
