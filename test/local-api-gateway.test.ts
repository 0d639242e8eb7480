// The API Gateway stand-in of `npm start`: its own answers over HTTP (API key,
// routes, payload limit), the v1 proxy event it hands the function (route,
// query, headers, request context) and the binary media type rule both ways,
// as API Gateway does for a Lambda proxy integration.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { MAX_REQUEST_BYTES, toHttpResponse, toProxyEvent } from "../local/api-gateway.ts";
import { GATEWAY_ERRORS } from "../function/http/gateway-errors.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";

interface Started {
  server: LocalServer;
  dataDir: string;
}

async function start(): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-gateway-"));
  return { server: await startLocalServer({ port: 0, dataDir, log: () => {} }), dataDir };
}

async function stop(started: Started | undefined): Promise<void> {
  if (started === undefined) return;
  await started.server.close();
  rmSync(started.dataDir, { recursive: true, force: true });
}

function call(server: LocalServer, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { ...init, headers: { "x-api-key": server.apiKey, ...init.headers } });
}

async function originalsInBucket(server: LocalServer): Promise<string[]> {
  const listed = await server.s3.client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: "originals/" }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

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
      assert.deepEqual(await res.json(), { error: { code: "INVALID_API_KEY", message: GATEWAY_ERRORS.INVALID_API_KEY.message } });
    }
    // With the key, the same request reaches the handler.
    assert.equal((await fetch(`${server.url}${path}`, { headers: { "X-API-Key": server.apiKey } })).status, 404);
  });

  test("no route: 403 Missing Authentication Token, even for a known path with another method", async () => {
    for (const [method, path] of [["GET", "/"], ["GET", "/nope"], ["DELETE", "/images"], ["GET", "/images/a/b/c"], ["OPTIONS", "/nope"]] as const) {
      const res = await call(server, path, { method });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.deepEqual(await res.json(), { error: { code: "MISSING_AUTHENTICATION_TOKEN", message: GATEWAY_ERRORS.MISSING_AUTHENTICATION_TOKEN.message } });
    }
  });

  test("headers named like Object.prototype's members are headers like any other, not a 500", async () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${server.url}/images/${randomUUID()}`, { headers: { "x-api-key": server.apiKey, [name]: "x" } }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode!, body }));
        });
        req.on("error", reject);
        req.end();
      });
      assert.deepEqual([answer.status, (JSON.parse(answer.body) as { error: { code: string } }).error.code], [404, "IMAGE_NOT_FOUND"], name);
    }
  });

  test("a body over 10 MB: 413 Request Entity Too Large, and nothing stored", async () => {
    const res = await call(server, "/images", { method: "POST", body: Buffer.alloc(MAX_REQUEST_BYTES + 1), headers: { "Content-Type": "image/jpeg" } });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), { error: { code: "PAYLOAD_TOO_LARGE", message: GATEWAY_ERRORS.REQUEST_TOO_LARGE.message } });
    assert.deepEqual(await originalsInBucket(server), []);
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
