// `npm start`'s server, over real HTTP: the handler behind the API Gateway
// stand-in, with s3rver as its bucket. Each suite starts its own server on a
// free port with a temporary data folder, and closes it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { MAX_REQUEST_BYTES, toHttpResponse, toProxyEvent } from "../local/api-gateway.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
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

describe("API Gateway's own answers", () => {
  let started: Started;
  let server: LocalServer;
  before(async () => {
    started = await start();
    server = started.server;
  });
  after(() => stop(started));

  test("an API key is required, in the x-api-key header only", async () => {
    const path = `/images/${randomUUID()}`;
    const answers = [
      await fetch(`${server.url}${path}`),
      await fetch(`${server.url}${path}`, { headers: { "x-api-key": `${server.apiKey}x` } }),
      await fetch(`${server.url}${path}?x-api-key=${server.apiKey}`),
      await fetch(`${server.url}/images`, { method: "POST", body: "x", headers: { "Content-Type": "image/jpeg" } }),
    ];
    for (const res of answers) {
      assert.equal(res.status, 403);
      assert.deepEqual(await res.json(), { message: "Forbidden" });
    }
    // With the key, the same request reaches the handler.
    assert.equal((await fetch(`${server.url}${path}`, { headers: { "X-API-Key": server.apiKey } })).status, 404);
  });

  test("no route: 403 Missing Authentication Token, even for a known path with another method", async () => {
    for (const [method, path] of [["GET", "/"], ["GET", "/nope"], ["DELETE", "/images"], ["GET", "/images/a/b/c"], ["OPTIONS", "/nope"]] as const) {
      const res = await call(server, path, { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.deepEqual(await res.json(), { message: "Missing Authentication Token" });
    }
  });

  test("a body over 10 MB: 413 Request Entity Too Large, and nothing stored", async () => {
    const res = await call(server, "/images", { method: "POST", body: Buffer.alloc(MAX_REQUEST_BYTES + 1), headers: { "Content-Type": "image/jpeg" } });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), { message: "Request Entity Too Large" });
    assert.deepEqual(await originalsInBucket(server), []);
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

  test("redirects (302) to a presigned URL of the embedded S3, which serves it", async () => {
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

describe("proxy events, as API Gateway builds them", () => {
  const request = (over: Partial<Parameters<typeof toProxyEvent>[0]> = {}) => ({
    method: "POST",
    url: "/images?name=a%20b.jpg&tag=x&tag=y",
    rawHeaders: ["Host", "127.0.0.1:3000", "Content-Type", "image/jpeg", "X-Api-Key", "k", "Accept", "a/b", "accept", "*/*"],
    sourceIp: "127.0.0.1",
    localPort: 3000,
    body: Buffer.from([0xff, 0xd8, 0xff]),
    ...over,
  });
  const route = { route: { method: "POST", resource: "/images", access: "private", summary: "" }, params: {} } as const;

  test("carry the route, query, headers and request context", () => {
    const event = toProxyEvent(request(), route, { requestId: "r-1", apiKey: "k" });
    assert.equal(event.resource, "/images");
    assert.equal(event.path, "/images");
    assert.equal(event.httpMethod, "POST");
    assert.equal(event.pathParameters, null);
    assert.deepEqual(event.queryStringParameters, { name: "a b.jpg", tag: "y" });
    assert.deepEqual(event.multiValueQueryStringParameters, { name: ["a b.jpg"], tag: ["x", "y"] });
    assert.equal(event.headers["Accept"], "*/*");
    assert.deepEqual(event.multiValueHeaders["Accept"], ["a/b", "*/*"]);
    assert.equal(event.headers["X-Forwarded-Proto"], "http");
    assert.equal(event.headers["X-Forwarded-For"], "127.0.0.1");
    const ctx = event.requestContext;
    assert.deepEqual(
      [ctx.requestId, ctx.path, ctx.stage, ctx.domainName, ctx.httpMethod, ctx.resourcePath, ctx.identity.sourceIp, ctx.identity.apiKey],
      ["r-1", "/images", "local", "127.0.0.1", "POST", "/images", "127.0.0.1", "k"],
    );
  });

  test("a body with a Content-Type is base64 (binary type */*), one without is text, none is null", () => {
    const withType = toProxyEvent(request(), route, { requestId: "r", apiKey: null });
    assert.deepEqual([withType.isBase64Encoded, withType.body], [true, "/9j/"]);
    const noType = toProxyEvent(request({ rawHeaders: ["Host", "h"], body: Buffer.from("{}") }), route, { requestId: "r", apiKey: null });
    assert.deepEqual([noType.isBase64Encoded, noType.body], [false, "{}"]);
    const text = toProxyEvent(request(), route, { requestId: "r", apiKey: null, binaryMediaTypes: ["image/png"] });
    assert.deepEqual([text.isBase64Encoded, text.body], [false, Buffer.from([0xff, 0xd8, 0xff]).toString("utf8")]);
    const empty = toProxyEvent(request({ method: "GET", body: Buffer.alloc(0) }), route, { requestId: "r", apiKey: null });
    assert.deepEqual([empty.isBase64Encoded, empty.body], [false, null]);
  });

  test("a base64 result stays text when the first accepted type is not binary", () => {
    const result = { statusCode: 200, headers: { "Content-Type": "image/webp" }, body: "AAEC", isBase64Encoded: true };
    assert.deepEqual(toHttpResponse(result, "application/json", ["image/*"]).body, Buffer.from("AAEC"));
    assert.deepEqual(toHttpResponse(result, "application/json,image/webp", ["image/*"]).body, Buffer.from("AAEC"));
    assert.deepEqual(toHttpResponse(result, "image/webp,application/json", ["image/*"]).body, Buffer.from([0, 1, 2]));
    assert.deepEqual(toHttpResponse(result, undefined).body, Buffer.from("AAEC"));
  });
});

describe("the CLI (npm start)", () => {
  const tsx = join(ROOT, "node_modules", ".bin", "tsx");
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-cli-"));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  function run(args: string[], env: NodeJS.ProcessEnv = {}) {
    return spawn(tsx, ["local/index.ts", ...args], { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  }

  async function finished(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = run(args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stdout, stderr };
  }

  test("--json prints one line {url, apiKey, bucket}, serves it, and Ctrl-C stops it cleanly", async () => {
    const child = run(["--port", "0", "--json", "--data-dir", dataDir], { API_KEY: "cli-test-key" });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code} before printing`)));
      });
      const printed = JSON.parse(line) as { url: string; apiKey: string; bucket: string };
      assert.deepEqual(Object.keys(printed).sort(), ["apiKey", "bucket", "url"]);
      assert.match(printed.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(printed.apiKey, "cli-test-key");
      assert.equal(printed.bucket, "imgapi-local");
      const res = await fetch(`${printed.url}/images/${randomUUID()}`, { headers: { "x-api-key": "cli-test-key" } });
      assert.equal(res.status, 404);
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("--help lists every flag and exits 0", async () => {
    const { code, stdout } = await finished(["--help"]);
    assert.equal(code, 0);
    for (const flag of ["--port", "--config", "--data-dir", "--json", "--help", "--auth", "API_KEY", "PORT", "NO_COLOR", "/demo/"]) assert.ok(stdout.includes(flag), `${flag} in:\n${stdout}`);
  });

  test("without a terminal: no colour or progress escapes, and the banner names the demo page, which it serves", async () => {
    const child = run(["--port", "0", "--data-dir", dataDir]);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      const demoUrl = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          const found = /^ {2}demo\s+(\S+)/m.exec(stdout);
          if (found) resolve(found[1]!);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code} before printing the demo page:\n${stdout}${stderr}`)));
      });
      assert.match(demoUrl, /^http:\/\/127\.0\.0\.1:\d+\/demo\/$/);
      assert.equal((await fetch(demoUrl)).status, 200);
      assert.ok(!stdout.includes("\x1b") && !stderr.includes("\x1b"), `no escape codes:\n${JSON.stringify(stdout + stderr)}`);
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("an unknown flag or a bad port exits 2 and says why", async () => {
    const unknown = await finished(["--bogus"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^Unknown option '--bogus'\n/);
    assert.match(unknown.stderr, /--help/);
    const badPort = await finished(["--port", "abc"]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /Expected an integer from 0 to 65535 for --port but received "abc"/);
  });

  test("a config file that is not there exits 1 and says how to make one", async () => {
    const { code, stderr } = await finished(["--config", join(dataDir, "nope.json"), "--port", "0", "--data-dir", dataDir]);
    assert.equal(code, 1);
    assert.match(stderr, /nope\.json is not valid:\n {2}- file not found: copy config\.example\.json/);
  });
});
