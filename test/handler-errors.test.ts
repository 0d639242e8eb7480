// What a caller sees when something is wrong: every error is JSON
// {"error": {"code", "message"}} with a stable code, CORS headers on every
// answer, 4xx messages that say what to fix, and 5xx messages that give away
// nothing (no bucket name, no stack trace) while the log keeps the detail.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, type Handler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, listEvent, preflightEvent, responseJson, sizeEvent, uploadEvent, uploadJsonEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { freePort, MOTO_CREDENTIALS, MOTO_REGION, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-errors";
const MISSING_BUCKET = "imgapi-bucket-that-was-never-made";
const UNKNOWN_ID = "0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f";
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

let moto: Moto;
let s3: S3Client;
let logLines: string[] = [];

before(async () => {
  moto = await startMoto();
  s3 = new S3Client(s3ClientConfig(moto));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(async () => {
  s3?.destroy();
  await moto?.stop();
});

function app(options: { settings?: RuntimeSettings; bucket?: string; client?: S3Client } = {}): Handler {
  logLines = [];
  return createApp({
    store: new ImageStore(options.client ?? s3, options.bucket ?? BUCKET),
    settings: options.settings ?? settings,
    log: (line) => logLines.push(line),
  });
}

function withSettings(patch: Partial<Pick<RuntimeSettings, "input" | "cors">>): RuntimeSettings {
  return { ...settings, ...patch };
}

/** Asserts the common shape of every error answer and returns its code and message. */
function apiError(res: APIGatewayProxyResult, status: number, code: string): string {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers?.["Content-Type"]), /^application\/json/);
  assert.equal(res.headers?.["Access-Control-Allow-Origin"], "*", "CORS headers on errors too");
  assert.equal(res.isBase64Encoded ?? false, false);
  const body = responseJson<{ error: { code: string; message: string } }>(res);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.deepEqual(Object.keys(body.error).sort(), ["code", "message"]);
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10);
  return body.error.message;
}

function withBody(event: APIGatewayProxyEvent, body: string | null, isBase64Encoded: boolean): APIGatewayProxyEvent {
  return { ...event, body, isBase64Encoded };
}

test("an unknown size is 400 UNKNOWN_SIZE listing the valid sizes", async () => {
  const handler = app();
  for (const size of ["huge", "Thumbnail", "__proto__", "constructor", "medium.webp", ""]) {
    const message = apiError(await handler(sizeEvent(UNKNOWN_ID, size)), 400, "UNKNOWN_SIZE");
    assert.match(message, /Valid sizes: thumbnail, medium, large\.$/, size);
  }
  const long = apiError(await handler(sizeEvent(UNKNOWN_ID, "x".repeat(10_000))), 400, "UNKNOWN_SIZE");
  assert.ok(long.length < 200, `the message echoes ${long.length} characters`);
});

test("an invalid id is 400 INVALID_ID on every route, never a lookup", async (t) => {
  const handler = app();
  const ids = ["../etc/passwd", "..", "%2e%2e", "..%2F..%2Fetc", "a\u0000b", `${UNKNOWN_ID}\u0000`, `${UNKNOWN_ID}\n`, "x".repeat(10 * 1024), "ünïcödé-ïd", "😀", "", "0b6f5c1e-2a3b-1c5d-8e9f-0a1b2c3d4e5f"];
  for (const id of ids) {
    await t.test(JSON.stringify(id.slice(0, 24)), async () => {
      for (const event of [listEvent(id), sizeEvent(id, "medium")]) {
        const res = await handler(event);
        const message = apiError(res, 400, "INVALID_ID");
        assert.equal(message, "The image id is not valid: use the id returned by POST /images.");
        assert.ok(String(res.body).length < 300);
      }
    });
  }
});

test("an unknown id is 404 IMAGE_NOT_FOUND", async () => {
  const handler = app();
  assert.match(apiError(await handler(listEvent(UNKNOWN_ID)), 404, "IMAGE_NOT_FOUND"), new RegExp(UNKNOWN_ID));
  assert.match(apiError(await handler(sizeEvent(UNKNOWN_ID, "medium")), 404, "IMAGE_NOT_FOUND"), new RegExp(UNKNOWN_ID));
  assert.match(apiError(await handler(listEvent(UNKNOWN_ID, { force: "true" })), 404, "IMAGE_NOT_FOUND"), new RegExp(UNKNOWN_ID));
});

test("a bad upload body is 400 INVALID_REQUEST saying what to send", async () => {
  const handler = app();
  const jpeg = loadFixture("sharp_320x240.jpg").toString("base64");
  const cases: Array<[string, APIGatewayProxyEvent, RegExp]> = [
    ["empty bytes", uploadEvent(Buffer.alloc(0)), /body is empty/],
    ["no body at all", withBody(uploadEvent(Buffer.alloc(0)), null, false), /body is empty/],
    ["invalid base64", withBody(uploadEvent(Buffer.alloc(0)), "this is *not* base64!", true), /not valid base64/],
    ["base64 with a bad length", withBody(uploadEvent(Buffer.alloc(0)), "QUJDRA=", true), /not valid base64/],
    ["JSON without image", uploadJsonEvent({ name: "cat.jpg" }), /needs "image"/],
    ["JSON with an empty image", uploadJsonEvent({ image: "" }), /needs "image"/],
    ["JSON with a numeric image", uploadJsonEvent({ image: 42 }), /needs "image"/],
    ["JSON image not base64", uploadJsonEvent({ image: "%%%%" }), /"image" is not valid base64/],
    ["JSON with a non-string name", uploadJsonEvent({ image: jpeg, name: 7 }), /"name" must be a string/],
    ["malformed JSON", uploadJsonEvent('{"image": "abc'), /not valid JSON/],
    ["malformed JSON, not base64-encoded", uploadJsonEvent("{image: abc}", { base64: false }), /not valid JSON/],
    ["a JSON array", uploadJsonEvent("[1, 2]"), /must be an object/],
    ["JSON null", uploadJsonEvent("null"), /must be an object/],
  ];
  for (const [what, event, message] of cases) {
    assert.match(apiError(await handler(event), 400, "INVALID_REQUEST"), message, what);
  }
  assert.equal(logLines.length, cases.length);
});

test("a body over input.maxBytes is 413 PAYLOAD_TOO_LARGE stating the limit", async () => {
  const jpeg = loadFixture("sharp_320x240.jpg"); // 81198 bytes
  const small = app({ settings: withSettings({ input: { ...settings.input, maxBytes: 50_000 } }) });
  for (const event of [uploadEvent(jpeg), uploadJsonEvent({ image: jpeg.toString("base64") }), uploadJsonEvent({ image: jpeg.toString("base64") }, { base64: false })]) {
    const message = apiError(await small(event), 413, "PAYLOAD_TOO_LARGE");
    assert.match(message, /The image is 81198 bytes; the limit is 50000 bytes\./);
  }
  // The default limit, 4 MiB, is written so a person can read it.
  const big = Buffer.alloc(4_500_000, 0xff);
  const message = apiError(await app()(uploadEvent(big)), 413, "PAYLOAD_TOO_LARGE");
  assert.match(message, /the limit is 4\.0 MiB \(4194304 bytes\)\. Upload larger images through POST \/uploads/, "the 413 names the route for large images");
});

test("OPTIONS is 204 with the CORS headers", async () => {
  const handler = app();
  for (const [resource, params] of [
    ["/images", undefined],
    ["/images/{id}", { id: UNKNOWN_ID }],
    ["/images/{id}/{size}", { id: UNKNOWN_ID, size: "medium" }],
  ] as const) {
    const res = await handler(preflightEvent(resource, params, "https://anywhere.example"));
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, "");
    assert.equal(res.headers?.["Access-Control-Allow-Origin"], "*");
    assert.match(String(res.headers?.["Access-Control-Allow-Methods"]), /\bPOST\b/);
    assert.match(String(res.headers?.["Access-Control-Allow-Methods"]), /\bGET\b/);
    assert.match(String(res.headers?.["Access-Control-Allow-Headers"]), /\bX-Api-Key\b/i);
    assert.match(String(res.headers?.["Access-Control-Allow-Headers"]), /\bContent-Type\b/i);
    assert.match(String(res.headers?.["Access-Control-Expose-Headers"]), /\bETag\b/);
  }
});

test("with a list of origins, an allowed Origin is echoed with Vary: Origin and another is not", async () => {
  const handler = app({ settings: withSettings({ cors: { origins: ["https://app.example"] } }) });
  const allowed = await handler(preflightEvent("/images", undefined, "https://app.example"));
  assert.equal(allowed.statusCode, 204);
  assert.equal(allowed.headers?.["Access-Control-Allow-Origin"], "https://app.example");
  assert.equal(allowed.headers?.Vary, "Origin");
  assert.match(String(allowed.headers?.["Access-Control-Allow-Methods"]), /POST/);

  const other = await handler(preflightEvent("/images", undefined, "https://evil.example"));
  assert.equal(other.headers?.["Access-Control-Allow-Origin"], undefined);
  assert.equal(other.headers?.["Access-Control-Allow-Methods"], undefined);
  assert.equal(other.headers?.Vary, "Origin");

  // A prefix or a different scheme of an allowed origin is another origin.
  for (const origin of ["https://app.example.evil.example", "http://app.example", "null"]) {
    assert.equal((await handler(listEvent(UNKNOWN_ID, undefined, { Origin: origin }))).headers?.["Access-Control-Allow-Origin"], undefined, origin);
  }
  // Real requests (errors included) carry the same answer; the header name is matched without case.
  const notFound = await handler(listEvent(UNKNOWN_ID, undefined, { origin: "https://app.example" }));
  assert.equal(notFound.statusCode, 404);
  assert.equal(notFound.headers?.["Access-Control-Allow-Origin"], "https://app.example");
  assert.equal(notFound.headers?.Vary, "Origin");
});

test("an unknown route or method is 404 ROUTE_NOT_FOUND", async () => {
  const handler = app();
  apiError(await handler(apiEvent({ method: "PUT", resource: "/images/{id}", pathParameters: { id: UNKNOWN_ID } })), 404, "ROUTE_NOT_FOUND");
  apiError(await handler(apiEvent({ method: "GET", resource: "/admin" })), 404, "ROUTE_NOT_FOUND");
});

test("S3 NoSuchBucket is 502 STORAGE_ERROR with a generic message; the log keeps the detail", async () => {
  const handler = app({ bucket: MISSING_BUCKET });
  const res = await handler(uploadEvent(loadFixture("sharp_320x240.jpg")));
  const message = apiError(res, 502, "STORAGE_ERROR");
  assert.equal(message, "Storage refused the request. The operator should check the function's logs.");
  for (const secret of [MISSING_BUCKET, "NoSuchBucket", "    at ", ".ts:", "originals/"]) {
    assert.ok(!String(res.body).includes(secret), `the answer leaks ${JSON.stringify(secret)}`);
  }
  assert.equal(res.headers?.["Retry-After"], undefined, "retrying will not help");
  const [line] = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([line?.level, line?.status, line?.errorCode], ["error", 502, "STORAGE_ERROR"]);
  assert.match(String(line?.detail), /NoSuchBucket/);
  assert.ok(!String(line?.detail).includes("\n"), "one line, no stack trace");
});

test("S3 NoSuchBucket on a read is 502 STORAGE_ERROR, not a 404 for the image", async () => {
  const handler = app({ bucket: MISSING_BUCKET });
  apiError(await handler(sizeEvent(UNKNOWN_ID, "medium")), 502, "STORAGE_ERROR");
});

test("S3 unreachable is 503 STORAGE_UNAVAILABLE with Retry-After, quickly", async () => {
  const port = await freePort(); // nothing listens there
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    region: MOTO_REGION,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 500, requestTimeout: 500 },
  });
  try {
    const handler = app({ client });
    const started = performance.now();
    for (const event of [uploadEvent(loadFixture("sharp_320x240.jpg")), listEvent(UNKNOWN_ID), sizeEvent(UNKNOWN_ID, "medium")]) {
      const res = await handler(event);
      const message = apiError(res, 503, "STORAGE_UNAVAILABLE");
      assert.match(message, /Retry-After/);
      assert.ok(!String(res.body).includes(String(port)) && !String(res.body).includes("ECONNREFUSED"));
      assert.match(String(res.headers?.["Retry-After"]), /^[1-9]\d*$/);
    }
    const ms = performance.now() - started;
    assert.ok(ms < 10_000, `three requests took ${ms.toFixed(0)} ms`);
    assert.deepEqual(
      logLines.map((l) => (JSON.parse(l) as { errorCode: string }).errorCode),
      ["STORAGE_UNAVAILABLE", "STORAGE_UNAVAILABLE", "STORAGE_UNAVAILABLE"],
    );
  } finally {
    client.destroy();
  }
});
