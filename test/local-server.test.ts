// `npm start`'s server, over real HTTP: the handler behind the API Gateway
// stand-in, with the local S3 as its bucket. Each suite starts its own server
// on a free port with a temporary data folder, and closes it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { startLocalServer, type LocalServer } from "../local/server.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const EXPECTED_SIZES = { thumbnail: [150, 150], medium: [800, 600], large: [1200, 900] } as const;
const silent = () => {};

const photo = () => sharp({ create: { width: 1200, height: 900, channels: 3, background: "#3a6" } }).jpeg().toBuffer();

interface Started {
  server: LocalServer;
  dataDir: string;
}

async function start(options: { maxInlineBytes?: number } = {}): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-local-"));
  return { server: await startLocalServer({ port: 0, dataDir, log: silent, ...options }), dataDir };
}

async function stop(started: Started | undefined): Promise<void> {
  if (started === undefined) return;
  await started.server.close();
  rmSync(started.dataDir, { recursive: true, force: true });
}

function call(server: LocalServer, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { ...init, headers: { "x-api-key": server.apiKey, ...init.headers } });
}

async function upload(server: LocalServer, bytes: Buffer): Promise<string> {
  const res = await call(server, "/images", { method: "POST", body: bytes, headers: { "Content-Type": "image/jpeg" } });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

async function originalsInBucket(server: LocalServer): Promise<string[]> {
  const listed = await server.s3.client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: "originals/" }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

/** A GET without any Accept header, which fetch would always add. */
function getWithoutAccept(url: string, apiKey: string): Promise<{ status: number; contentType: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { "x-api-key": apiKey } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, contentType: res.headers["content-type"], body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("an uploaded image", () => {
  let started: Started;
  let server: LocalServer;
  let id: string;
  before(async () => {
    started = await start();
    server = started.server;
    id = await upload(server, await photo());
  });
  after(() => stop(started));

  test("a raw upload answers 201 with a new id, its links and a Location", async () => {
    const res = await call(server, "/images", { method: "POST", body: await photo(), headers: { "Content-Type": "image/jpeg" } });
    const body = (await res.json()) as { id: string; original: { format: string; width: number; height: number }; links: { self: string } };
    assert.equal(res.status, 201);
    assert.match(body.id, UUID_V4);
    assert.deepEqual([body.original.format, body.original.width, body.original.height], ["jpeg", 1200, 900]);
    // Links point back at this server, over http (from X-Forwarded-Proto).
    assert.equal(body.links.self, `${server.url}/images/${body.id}`);
    assert.equal(res.headers.get("location"), body.links.self);
  });

  test("a base64 JSON upload answers 201 and keeps the name", async () => {
    const image = (await photo()).toString("base64");
    const res = await call(server, "/images", { method: "POST", body: JSON.stringify({ image, name: "cat.jpg" }), headers: { "Content-Type": "application/json" } });
    const body = (await res.json()) as { id: string; original: { name: string; width: number } };
    assert.equal(res.status, 201);
    assert.match(body.id, UUID_V4);
    assert.deepEqual([body.original.name, body.original.width], ["cat.jpg", 1200]);
  });

  test("GET /images/{id} lists every size, none enlarged", async () => {
    const res = await call(server, `/images/${id}`);
    const body = (await res.json()) as { id: string; variants: { size: string; width: number; height: number; link: string }[] };
    assert.equal(res.status, 200);
    assert.equal(body.id, id);
    assert.deepEqual(Object.fromEntries(body.variants.map((v) => [v.size, [v.width, v.height]])), EXPECTED_SIZES);
    assert.equal(body.variants[0]!.link, `${server.url}/images/${id}/thumbnail`);
  });

  for (const [size, [width, height]] of Object.entries(EXPECTED_SIZES)) {
    test(`GET /images/{id}/${size} answers the image's bytes, cacheable, and 304 to its ETag`, async () => {
      const res = await call(server, `/images/${id}/${size}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/webp");
      assert.equal(res.headers.get("cache-control"), "private, max-age=31536000");
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["webp", width, height]);
      const etag = res.headers.get("etag");
      assert.match(etag ?? "", /^".+"$/);

      const again = await call(server, `/images/${id}/${size}`, { headers: { "If-None-Match": etag! } });
      assert.equal(again.status, 304);
      assert.equal(again.headers.get("etag"), etag);
      assert.equal((await again.arrayBuffer()).byteLength, 0);
    });
  }

  test("the binary rule: bytes when Accept matches the binary media types, the base64 text when there is no Accept", async () => {
    const bytes = Buffer.from(await (await call(server, `/images/${id}/thumbnail`, { headers: { Accept: "image/webp,*/*" } })).arrayBuffer());
    // This API's binary media type is "*/*": application/json matches it too.
    const asJson = await call(server, `/images/${id}/thumbnail`, { headers: { Accept: "application/json" } });
    assert.deepEqual(Buffer.from(await asJson.arrayBuffer()), bytes);

    const bare = await getWithoutAccept(`${server.url}/images/${id}/thumbnail`, server.apiKey);
    assert.equal(bare.status, 200);
    assert.equal(bare.contentType, "image/webp");
    assert.equal(bare.body.toString("latin1"), bytes.toString("base64"));
  });

  test("every answer of the handler tells browsers not to sniff its type: image bytes, JSON, errors", async () => {
    const answers = [
      await call(server, `/images/${id}/thumbnail`, { headers: { Accept: "image/webp,*/*" } }),
      await call(server, `/images/${id}`),
      await call(server, `/images/${id}/no-such-size`),
      await call(server, "/images", { method: "POST", body: Buffer.from("not an image"), headers: { "Content-Type": "image/jpeg" } }),
    ];
    assert.deepEqual(answers.map((a) => [a.status, a.headers.get("x-content-type-options")]), [[200, "nosniff"], [200, "nosniff"], [400, "nosniff"], [415, "nosniff"]]);
  });

  test("a CORS preflight reaches the handler: 204 allowing the API key header", async () => {
    const res = await fetch(`${server.url}/images/${id}/thumbnail`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("access-control-allow-methods") ?? "", /\bGET\b/);
    assert.match(res.headers.get("access-control-allow-headers") ?? "", /\bx-api-key\b/i);
  });

  test("answers carry CORS headers: success, handler errors and gateway errors", async () => {
    const headers = { Origin: "https://app.example" };
    const answers = [
      await call(server, `/images/${id}`, { headers }),
      await call(server, `/images/${randomUUID()}`, { headers }),
      await fetch(`${server.url}/images/${id}`, { headers }),
    ];
    assert.deepEqual(answers.map((r) => r.status), [200, 404, 403]);
    for (const res of answers) assert.equal(res.headers.get("access-control-allow-origin"), "*");
  });
});

describe("the handler's errors", () => {
  let started: Started;
  let server: LocalServer;
  let id: string;
  before(async () => {
    started = await start();
    server = started.server;
    id = await upload(server, await photo());
  });
  after(() => stop(started));

  async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
    const body = (await res.json()) as { error: { code: string; message: string } };
    return { status: res.status, ...body.error };
  }

  test("an id never uploaded: 404 IMAGE_NOT_FOUND", async () => {
    const error = await errorOf(await call(server, `/images/${randomUUID()}`));
    assert.deepEqual([error.status, error.code], [404, "IMAGE_NOT_FOUND"]);
  });

  test("an unknown size: 400 UNKNOWN_SIZE naming the valid ones", async () => {
    const error = await errorOf(await call(server, `/images/${id}/huge`));
    assert.deepEqual([error.status, error.code], [400, "UNKNOWN_SIZE"]);
    assert.match(error.message, /thumbnail, medium, large/);
  });

  test("rejected uploads answer a JSON error and store nothing", async () => {
    const before = await originalsInBucket(server);
    const garbage = await errorOf(await call(server, "/images", { method: "POST", body: "this is not an image", headers: { "Content-Type": "image/jpeg" } }));
    assert.equal(garbage.status, 415);
    assert.match(garbage.code, /^[A-Z_]+$/);
    const badJson = await errorOf(await call(server, "/images", { method: "POST", body: "{\"image\": 42", headers: { "Content-Type": "application/json" } }));
    assert.deepEqual([badJson.status, badJson.code], [400, "INVALID_REQUEST"]);
    assert.deepEqual(await originalsInBucket(server), before);
    assert.equal(before.length, 1);
  });
});

describe("a variant too large to answer inline", () => {
  let started: Started;
  before(async () => {
    started = await start({ maxInlineBytes: 16 });
  });
  after(() => stop(started));

  test("redirects (302) to a presigned URL of the local S3, which serves it", async () => {
    const { server } = started;
    const id = await upload(server, await photo());
    const res = await call(server, `/images/${id}/medium`, { redirect: "manual" });
    assert.equal(res.status, 302);
    const location = res.headers.get("location") ?? "";
    assert.ok(location.startsWith(`${server.s3.endpoint}/${server.bucket}/resized/${id}/medium.webp?`), location);
    const object = await fetch(location);
    const meta = await sharp(Buffer.from(await object.arrayBuffer())).metadata();
    assert.deepEqual([object.status, meta.format, meta.width, meta.height], [200, "webp", 800, 600]);
  });
});
