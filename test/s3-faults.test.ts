// The S3 path under real faults: the handler's own S3 client (createS3Client,
// maxAttempts 3) talks to moto through a fault-injecting proxy that answers
// chosen calls with throttling, 500s, access denied, a dropped connection or
// silence past the client's timeout, or deletes an object between two calls.
// Expected: transient faults retried a bounded number of times, then 503 with
// Retry-After (STORAGE_UNAVAILABLE); anything else 502 (STORAGE_ERROR); never
// a response that claims a variant S3 did not store; the same request
// succeeds once the fault is gone; nothing in the bucket is half-written.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { NodeHttpHandler } from "@smithy/node-http-handler";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { createS3Client, S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";
import { listEvent, responseBytes, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { s3Error, startFaultProxy, type Fault, type FaultProxy, type MatchSpec } from "./support/fault-proxy.ts";
import { loadFixture } from "./support/fixtures.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-faults";
const settings = settingsFromEnv({});
const SIZES = Object.keys(settings.sizes);
configureLibvips(settings.input.formats);
/** The handler's client makes at most this many attempts per call (createS3Client). */
const MAX_ATTEMPTS = 3;
/** For the timeout scenarios: shorter than production's 8 s, so "past the timeout" costs seconds, not half a minute. */
const REQUEST_TIMEOUT_MS = 3_000;


let moto: Moto;
let proxy: FaultProxy;
let s3: S3Client;
let client: S3Client;
let handler: Handler;
/** The same, with the client's timeouts shortened (and nothing else changed). */
let quickClient: S3Client;
let quickHandler: Handler;
let logLines: string[] = [];
let scenarios = 0;
let failures = 0;
let knownBugs = 0;
const jpeg = loadFixture("sharp_320x240.jpg");

before(async () => {
  moto = await startMoto();
  s3 = new S3Client(s3ClientConfig(moto));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  proxy = await startFaultProxy(moto.endpoint);
  // The handler's client exactly as production makes it.
  client = createS3Client({ [S3_ENDPOINT_ENV]: proxy.url }, { region: MOTO_REGION, credentials: MOTO_CREDENTIALS });
  handler = createApp({ store: new ImageStore(client, BUCKET), settings, log: (line) => logLines.push(line) });
  quickClient = createS3Client({ [S3_ENDPOINT_ENV]: proxy.url }, { region: MOTO_REGION, credentials: MOTO_CREDENTIALS });
  const http = quickClient.config.requestHandler as NodeHttpHandler;
  http.updateHttpClientConfig("requestTimeout", REQUEST_TIMEOUT_MS);
  quickHandler = createApp({ store: new ImageStore(quickClient, BUCKET), settings, log: (line) => logLines.push(line) });
});

after(async () => {
  client?.destroy();
  quickClient?.destroy();
  s3?.destroy();
  await proxy?.close();
  await moto?.stop();
  console.log(`s3-faults: ${scenarios} scenarios, ${proxy?.log.filter((r) => r.fault !== undefined).length ?? 0} S3 calls faulted, ${failures} failures${knownBugs > 0 ? `, ${knownBugs} known product bug(s) marked todo` : ""}`);
});

/** Each scenario: counted, and a failure counted for the summary line. */
function scenario(name: string, fn: () => Promise<void>, options: { todo?: string } = {}) {
  test(name, options, async () => {
    scenarios += 1;
    proxy.clear();
    logLines = [];
    try {
      await fn();
    } catch (e) {
      if (options.todo === undefined) failures += 1;
      else knownBugs += 1;
      throw e;
    } finally {
      proxy.clear();
      await proxy.idle();
    }
  });
}

// ---- helpers -----------------------------------------------------------------

const originalPath = (id = "[^/]+") => new RegExp(`^/${BUCKET}/originals/${id}$`);
const variantPath = (id = "[^/]+", size = "[^/]+") => new RegExp(`^/${BUCKET}/resized/${id}/${size}\\.\\w+$`);

function errorOf(res: APIGatewayProxyResult): { code: string; message: string } {
  return responseJson<{ error: { code: string; message: string } }>(res).error;
}

function assertUnavailable(res: APIGatewayProxyResult): void {
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(errorOf(res).code, "STORAGE_UNAVAILABLE");
  assert.match(String(res.headers?.["Retry-After"]), /^[1-9]\d*$/, "503 carries Retry-After");
  assertNoLeak(res);
}

function assertStorageError(res: APIGatewayProxyResult): void {
  assert.equal(res.statusCode, 502, res.body);
  assert.equal(errorOf(res).code, "STORAGE_ERROR");
  assert.equal(res.headers?.["Retry-After"], undefined, "retrying a refusal will not help");
  assertNoLeak(res);
}

function assertNoLeak(res: APIGatewayProxyResult): void {
  for (const secret of [BUCKET, "originals/", "resized/", "SlowDown", "AccessDenied", "127.0.0.1", "    at "]) {
    assert.ok(!String(res.body).includes(secret), `the answer leaks ${JSON.stringify(secret)}: ${res.body}`);
  }
}

/** Requests the proxy saw since `mark` that match. */
function attempts(mark: number, spec: MatchSpec): number {
  return proxy.log.slice(mark).filter((r) => (spec.method === undefined || r.method === spec.method) && (spec.path === undefined || spec.path.test(r.path))).length;
}

async function keys(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

async function objectBytes(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/** Uploads through the handler with no fault, for scenarios about reads. */
async function uploaded(): Promise<string> {
  const res = await handler(uploadEvent(jpeg, { contentType: "image/jpeg" }));
  assert.equal(res.statusCode, 201, res.body);
  return responseJson<{ id: string }>(res).id;
}

interface Listed {
  variants: Array<{ size: string; key: string; contentType: string; width: number; height: number; bytes: number; created: boolean }>;
}

/** Every variant a 200 listing names is in the bucket, whole, as described. */
async function assertListedAreStored(res: APIGatewayProxyResult): Promise<Listed> {
  assert.equal(res.statusCode, 200, res.body);
  const body = responseJson<Listed>(res);
  assert.deepEqual(body.variants.map((v) => v.size), SIZES);
  for (const v of body.variants) {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: v.key }));
    assert.equal(head.ContentLength, v.bytes, `${v.key}: listed ${v.bytes} bytes, stored ${head.ContentLength}`);
    assert.equal(head.ContentType, v.contentType);
    const meta = await sharp(await objectBytes(v.key)).metadata();
    assert.deepEqual([meta.width, meta.height], [v.width, v.height], v.key);
  }
  return body;
}

function inject(name: string, match: MatchSpec, fault: Fault, times = 1, skip = 0): void {
  proxy.inject({ name, match, fault, times, skip });
}

/** Waits (up to 5 s) for the writes still in flight after an answer, then for the proxy to be idle. */
async function settle(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 100));
  await proxy.idle();
}

async function timed(event: APIGatewayProxyEvent): Promise<{ res: APIGatewayProxyResult; ms: number }> {
  const started = performance.now();
  const res = await quickHandler(event);
  return { res, ms: performance.now() - started };
}

// ---- the scenarios ------------------------------------------------------------

describe("storing an original", () => {
  const put = { method: "PUT", path: originalPath() };

  scenario("throttled twice (503 SlowDown): retried, then 201 and stored byte for byte", async () => {
    inject("slowdown", put, s3Error(503, "SlowDown", "Please reduce your request rate."), 2);
    const mark = proxy.log.length;
    const res = await handler(uploadEvent(jpeg, { contentType: "image/jpeg" }));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(attempts(mark, put), 3, "two throttled attempts and one that went through");
    const { id } = responseJson<{ id: string }>(res);
    assert.ok((await objectBytes(`originals/${id}`)).equals(jpeg));
  });

  const persistent: Array<[string, Fault, "unavailable" | "error", number]> = [
    ["throttled on every attempt (503 SlowDown)", s3Error(503, "SlowDown", "Please reduce your request rate."), "unavailable", MAX_ATTEMPTS],
    ["500 InternalError on every attempt", s3Error(500, "InternalError", "We encountered an internal error. Please try again."), "unavailable", MAX_ATTEMPTS],
    ["the connection dropped on every attempt", { kind: "reset" }, "unavailable", MAX_ATTEMPTS],
    ["403 AccessDenied", s3Error(403, "AccessDenied", "Access Denied"), "error", 1],
    ["400 KMS.DisabledException (the bucket's key disabled)", s3Error(400, "KMS.DisabledException", "The key is disabled"), "error", 1],
  ];
  for (const [what, fault, expected, tries] of persistent) {
    scenario(`${what}: ${expected === "unavailable" ? "503 with Retry-After" : "502 STORAGE_ERROR"} after ${tries} attempt(s), nothing stored; the same request then succeeds`, async () => {
      const before = await keys("originals/");
      inject("persistent", put, fault, Infinity);
      const event = uploadEvent(jpeg, { contentType: "image/jpeg" });
      const mark = proxy.log.length;
      const res = await handler(event);
      if (expected === "unavailable") assertUnavailable(res);
      else assertStorageError(res);
      assert.equal(attempts(mark, put), tries, "bounded attempts");
      await proxy.idle();
      assert.deepEqual(await keys("originals/"), before, "no original stored");
      const line = JSON.parse(logLines.at(-1)!) as { status: number; errorCode: string; detail: string };
      assert.equal(line.status, res.statusCode);
      assert.match(line.detail, /storing the original/);

      proxy.clear();
      const retry = await handler(event);
      assert.equal(retry.statusCode, 201, retry.body);
      const { id } = responseJson<{ id: string }>(retry);
      assert.ok((await objectBytes(`originals/${id}`)).equals(jpeg));
    });
  }

  scenario("no answer within the client's timeout, once: retried, then 201", async () => {
    inject("silent", put, { kind: "delay", ms: REQUEST_TIMEOUT_MS + 2_000 }, 1);
    const mark = proxy.log.length;
    const { res, ms } = await timed(uploadEvent(jpeg, { contentType: "image/jpeg" }));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(attempts(mark, put), 2);
    assert.ok(ms < 2 * REQUEST_TIMEOUT_MS + 3_000, `took ${ms.toFixed(0)} ms`);
  });

  scenario("no answer within the client's timeout, ever: 503 after 3 attempts, in bounded time", async () => {
    const before = await keys("originals/");
    inject("silent", put, { kind: "delay", ms: REQUEST_TIMEOUT_MS + 2_000 }, Infinity);
    const mark = proxy.log.length;
    const { res, ms } = await timed(uploadEvent(jpeg, { contentType: "image/jpeg" }));
    assertUnavailable(res);
    assert.equal(attempts(mark, put), MAX_ATTEMPTS);
    // 3 timeouts plus backoff: well inside API Gateway's 29 s with production's 8 s timeouts too.
    assert.ok(ms < MAX_ATTEMPTS * REQUEST_TIMEOUT_MS + 4_000, `took ${ms.toFixed(0)} ms`);
    await proxy.idle();
    assert.deepEqual(await keys("originals/"), before, "the held requests never reached S3");
  });
});

describe("reading an original", () => {
  scenario("HEAD answers 500 on every attempt: GET /images/{id} is 503, nothing rendered", async () => {
    const id = await uploaded();
    const head = { method: "HEAD", path: originalPath(id) };
    inject("head-500", head, s3Error(500, "InternalError"), Infinity);
    const mark = proxy.log.length;
    assertUnavailable(await handler(listEvent(id)));
    assert.equal(attempts(mark, head), MAX_ATTEMPTS);
    assert.deepEqual(await keys(`resized/${id}/`), []);
    proxy.clear();
    await assertListedAreStored(await handler(listEvent(id)));
  });

  scenario("HEAD answers 403: GET /images/{id} is 502, not a 404 for the image", async () => {
    const id = await uploaded();
    const head = { method: "HEAD", path: originalPath(id) };
    inject("head-403", head, s3Error(403, "AccessDenied"), Infinity);
    const mark = proxy.log.length;
    assertStorageError(await handler(listEvent(id)));
    assert.equal(attempts(mark, head), 1);
    proxy.clear();
    await assertListedAreStored(await handler(listEvent(id)));
  });

  scenario("GET of the original throttled twice: retried, then the sizes are made", async () => {
    const id = await uploaded();
    const get = { method: "GET", path: originalPath(id) };
    inject("get-slowdown", get, s3Error(503, "SlowDown"), 2);
    const mark = proxy.log.length;
    const body = await assertListedAreStored(await handler(listEvent(id)));
    assert.ok(body.variants.every((v) => v.created));
    assert.equal(attempts(mark, get), 3);
  });

  scenario("the original deleted between HEAD and GET: 404 IMAGE_NOT_FOUND, no variant written", async () => {
    const id = await uploaded();
    inject("delete-after-head", { method: "HEAD", path: originalPath(id) }, {
      kind: "after",
      run: async () => {
        await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `originals/${id}` }));
      },
    });
    const res = await handler(listEvent(id));
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(errorOf(res).code, "IMAGE_NOT_FOUND");
    await proxy.idle();
    assert.deepEqual(await keys(`resized/${id}/`), []);
    assert.deepEqual(await keys(`originals/${id}`), []);
  });

  scenario("the original deleted while a size is looked up: GET /images/{id}/{size} is 404, no variant written", async () => {
    const id = await uploaded();
    inject("delete-before-variant-get", { method: "GET", path: variantPath(id, "medium") }, {
      kind: "before",
      run: async () => {
        await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `originals/${id}` }));
      },
    });
    const res = await handler(sizeEvent(id, "medium"));
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(errorOf(res).code, "IMAGE_NOT_FOUND");
    await proxy.idle();
    assert.deepEqual(await keys(`resized/${id}/`), []);
  });
});

describe("storing variants", () => {
  const writes = (id: string) => ({ method: "PUT", path: variantPath(id) });

  scenario("the 2nd of 3 variant writes refused (403): GET /images/{id} fails and claims nothing; a retry lists only stored variants", async () => {
    const id = await uploaded();
    inject("second-put", writes(id), s3Error(403, "AccessDenied"), 1, 1);
    const mark = proxy.log.length;
    const res = await handler(listEvent(id));
    assertStorageError(res);
    // The handler answers at the first refusal; its other writes may still be on their way.
    await settle(() => attempts(mark, writes(id)) >= 3);
    assert.equal(attempts(mark, writes(id)), 3, "three writes, the refused one not retried");
    const stored = await keys(`resized/${id}/`);
    assert.equal(stored.length, 2, `the other two writes completed: ${stored.join(", ")}`);

    const retry = await handler(listEvent(id));
    const body = await assertListedAreStored(retry);
    assert.equal(body.variants.filter((v) => v.created).length, 1, "only the missing size is made again");
    assert.equal((await keys(`resized/${id}/`)).length, 3);
  });

  scenario("the 2nd of 3 variant writes fails on every attempt (500): 503, claims nothing; a retry succeeds", async () => {
    const id = await uploaded();
    // The key of the 2nd write to arrive, on every attempt.
    const order: string[] = [];
    const second = (path: string) => {
      if (!order.includes(path)) order.push(path);
      return order[1] === path;
    };
    inject("second-key-500", { method: "PUT", path: variantPath(id), where: (r) => second(r.path) }, s3Error(500, "InternalError"), Infinity);
    const res = await handler(listEvent(id));
    assertUnavailable(res);
    await proxy.idle();
    assert.equal(proxy.faulted("second-key-500"), MAX_ATTEMPTS);
    proxy.clear();
    await assertListedAreStored(await handler(listEvent(id)));
  });

  scenario("the 2nd of 3 variant writes throttled once: retried, 200, all three stored", async () => {
    const id = await uploaded();
    inject("second-put-slowdown", writes(id), s3Error(503, "SlowDown"), 1, 1);
    const body = await assertListedAreStored(await handler(listEvent(id)));
    assert.ok(body.variants.every((v) => v.created));
    assert.equal(proxy.faulted("second-put-slowdown"), 1);
  });

  scenario("a size's write refused: GET /images/{id}/{size} is 502 with no image bytes; a retry serves exactly what is stored", async () => {
    const id = await uploaded();
    const put = { method: "PUT", path: variantPath(id, "medium") };
    inject("size-put-403", put, s3Error(403, "AccessDenied"), Infinity);
    const res = await handler(sizeEvent(id, "medium"));
    assertStorageError(res);
    assert.notEqual(res.isBase64Encoded, true);
    await proxy.idle();
    assert.deepEqual(await keys(`resized/${id}/`), []);

    proxy.clear();
    const retry = await handler(sizeEvent(id, "medium"));
    assert.equal(retry.statusCode, 200, retry.body);
    const [key] = await keys(`resized/${id}/medium`);
    assert.ok(responseBytes(retry).equals(await objectBytes(key!)), "the bytes served are the bytes stored");
  });

  scenario("reading a size throttled on every attempt: 503, and no render is attempted", async () => {
    const id = await uploaded();
    const get = { method: "GET", path: variantPath(id, "thumbnail") };
    inject("variant-get", get, s3Error(503, "SlowDown"), Infinity);
    const mark = proxy.log.length;
    assertUnavailable(await handler(sizeEvent(id, "thumbnail")));
    assert.equal(attempts(mark, get), MAX_ATTEMPTS);
    assert.equal(attempts(mark, { method: "PUT" }), 0);
  });
});

describe("the bucket afterwards", () => {
  test("every object is whole: originals are the uploaded bytes, every variant decodes at its recorded size", async () => {
    await proxy.idle();
    const all = await keys("");
    assert.ok(all.length > 10, `${all.length} objects`);
    for (const key of all) {
      const data = await objectBytes(key);
      if (key.startsWith("originals/")) {
        assert.ok(data.equals(jpeg), `${key} is not the uploaded image`);
        continue;
      }
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      const meta = await sharp(data).metadata();
      assert.deepEqual([meta.width, meta.height], [Number(head.Metadata?.width), Number(head.Metadata?.height)], key);
    }
    console.log(`s3-faults: bucket audit: ${all.length} objects, all whole`);
  });
});
