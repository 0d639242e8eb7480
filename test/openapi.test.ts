// openapi.yaml against the code: the ROUTES table, the ErrorCode union, the
// REST API deploy builds (on moto), and what the handler really answers in a
// scripted run (on moto's S3). postman/collection.json against the spec is
// test/postman.test.ts's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { GetMethodCommand, GetResourcesCommand, GetRestApisCommand } from "@aws-sdk/client-api-gateway";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { parseConfig, parseRuntimeSettings } from "../config/load.ts";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createClients } from "../deploy/aws-clients.ts";
import { resourceNames } from "../deploy/names.ts";
import { deploy } from "../deploy/run.ts";
import { createApp, type AppOptions } from "../function/app.ts";
import { ERROR_STATUS, type ErrorCode } from "../function/errors.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ROUTES } from "../function/routes.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { loadSpec, operations, resolveRef, securityOf, type OpenApi } from "../scripts/postman-from-openapi.ts";
import { apiEvent, listEvent, responseJson, sizeEvent, uploadEvent, uploadJsonEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./support/moto.ts";
import { motoWithS3 } from "./support/moto-bucket.ts";
import { scanBomb } from "./support/scan-bomb.ts";
import { virtualClock } from "./support/clock.ts";
import { fakeZip } from "./support/fake-zip.ts";

const spec: OpenApi = loadSpec();
const ops = operations(spec);
const ALL_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];
/** Codes the function has but never answers through the API: documented in components.responses only. */
const NOT_ROUTED: ErrorCode[] = ["ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED"];

type Json = Record<string, unknown>;

/** Every error code listed (as an enum of a `code` property) anywhere inside a response. */
function codesIn(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) codesIn(n, out);
  else if (typeof node === "object" && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === "code" && typeof v === "object" && v !== null && Array.isArray((v as Json).enum)) for (const c of (v as { enum: string[] }).enum) out.add(c);
      codesIn(v, out);
    }
  }
  return out;
}

/** status -> error codes of one operation (response references resolved). */
function errorCodesOf(method: string, path: string): Map<number, Set<string>> {
  const op = ops.find((o) => o.method === method && o.path === path);
  assert.ok(op, `no operation ${method} ${path} in the spec`);
  const out = new Map<number, Set<string>>();
  for (const [status, response] of Object.entries(op.op.responses ?? {})) out.set(Number(status), codesIn(resolveRef(spec, response)));
  return out;
}

/** status -> codes documented anywhere: every operation, and components.responses marked with x-status. */
function documentedCodes(): Map<number, Set<string>> {
  const all = new Map<number, Set<string>>();
  const add = (status: number, codes: Set<string>) => {
    const set = all.get(status) ?? new Set<string>();
    for (const c of codes) set.add(c);
    all.set(status, set);
  };
  for (const o of ops) for (const [status, codes] of errorCodesOf(o.method, o.path)) add(status, codes);
  const responses = (spec.components?.responses ?? {}) as Record<string, Json>;
  for (const r of Object.values(responses)) if (typeof r["x-status"] === "number") add(r["x-status"], codesIn(r));
  return all;
}

const routeKey = (method: string, path: string) => `${method} ${path}`;

describe("openapi.yaml and the code", () => {
  test("is OpenAPI 3.1 with the apiKey scheme in x-api-key and a {baseUrl} server", () => {
    assert.equal(spec.openapi, "3.1.0");
    assert.deepEqual(spec.components?.securitySchemes?.apiKey, {
      ...spec.components?.securitySchemes?.apiKey,
      type: "apiKey",
      in: "header",
      name: "x-api-key",
    });
    assert.equal(spec.servers?.[0]?.url, "{baseUrl}");
    assert.ok(spec.servers?.[0]?.variables?.baseUrl?.default);
  });

  test("has every route of ROUTES with its method and access, and nothing else (OPTIONS excluded on purpose)", () => {
    const inSpec = ops.map((o) => routeKey(o.method, o.path)).sort();
    assert.deepEqual(inSpec, ROUTES.map((r) => routeKey(r.method, r.resource)).sort());
    assert.ok(!ops.some((o) => o.method === "OPTIONS"));
    assert.equal((spec as unknown as Json)["x-options-excluded"], true);
    for (const route of ROUTES) {
      const o = ops.find((x) => x.method === route.method && x.path === route.resource)!;
      const security = securityOf(spec, o.op);
      if (route.access === "public") assert.deepEqual(o.op.security, [], `${route.method} ${route.resource} must say security: []`);
      else assert.deepEqual(security, [{ apiKey: [] }], `${route.method} ${route.resource} needs the apiKey scheme`);
      // Path parameters: exactly the resource's placeholders, required.
      const placeholders = [...route.resource.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(o.parameters.filter((p) => p.in === "path").map((p) => p.name).sort(), placeholders);
      assert.ok(o.parameters.filter((p) => p.in === "path").every((p) => p.required === true));
      // Private routes answer API Gateway's 403 and every route its 429.
      const responses = o.op.responses ?? {};
      assert.ok("429" in responses, `${route.method} ${route.resource}: 429`);
      if (route.access === "private") assert.deepEqual(responses["403"], { $ref: "#/components/responses/GatewayForbidden" });
    }
    const query = (m: string, p: string) => ops.find((o) => o.method === m && o.path === p)!.parameters.filter((x) => x.in === "query").map((x) => x.name).sort();
    assert.deepEqual(query("POST", "/images"), ["focus", "name"]);
    assert.deepEqual(query("GET", "/images/{id}"), ["force"]);
    assert.deepEqual(query("GET", "/public/images/{id}/{size}"), ["expires", "sig"]);
  });

  test("documents every ErrorCode under its ERROR_STATUS status, and no other code", () => {
    const documented = documentedCodes();
    for (const code of ALL_CODES) {
      assert.ok(documented.get(ERROR_STATUS[code])?.has(code), `${code} is not documented under ${ERROR_STATUS[code]}`);
    }
    for (const [status, codes] of documented) {
      for (const code of codes) {
        assert.ok(code in ERROR_STATUS, `${code} (under ${status}) is not an ErrorCode`);
        assert.equal(ERROR_STATUS[code as ErrorCode], status, `${code} is documented under ${status}, answered with ${ERROR_STATUS[code as ErrorCode]}`);
      }
    }
    // Only the not-routed codes are kept out of the operations.
    const onRoutes = new Set(ops.flatMap((o) => [...errorCodesOf(o.method, o.path).values()].flatMap((s) => [...s])));
    assert.deepEqual(ALL_CODES.filter((c) => !onRoutes.has(c)).sort(), [...NOT_ROUTED].sort());
  });
});

// ---------------------------------------------------------------------------
// On moto: the deployed REST API, and the handler's real answers.


const BUCKET = "imgapi-openapi-test";
/** Response headers a client acts on: each one the handler sends must be in the spec's response. */
const DOCUMENTED_HEADERS = ["location", "etag", "cache-control", "retry-after", "x-imgapi-purge"];
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8"));

describe("openapi.yaml on moto", () => {
  const aws = motoWithS3();

  test("the deployed REST API has exactly the spec's paths and methods (plus OPTIONS), private ones keyed", async () => {
    const config = parseConfig(example);
    const clients = createClients({ region: MOTO_REGION, endpoint: aws.moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
    await deploy({ config, clients, zip: fakeZip(), clock: virtualClock() });
    const names = resourceNames(config.stackName, "123456789012", MOTO_REGION);
    const api = ((await clients.apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? []).find((a) => a.name === names.restApi);
    assert.ok(api?.id, "no REST API deployed");
    const resources = (await clients.apigw.send(new GetResourcesCommand({ restApiId: api.id, limit: 500, embed: ["methods"] }))).items ?? [];
    const deployed: string[] = [];
    const specPaths = new Set(ops.map((o) => o.path));
    for (const r of resources) {
      for (const [httpMethod, method] of Object.entries(r.resourceMethods ?? {})) {
        deployed.push(routeKey(httpMethod, r.path!));
        if (httpMethod === "OPTIONS") {
          // Deploy puts OPTIONS on every resource, the parents of the routes' (/public, /public/images) too.
          assert.ok([...specPaths].some((p) => p === r.path || p.startsWith(`${r.path}/`)), `OPTIONS on ${r.path}, a path under no route of the spec`);
          continue;
        }
        // moto's embed may leave apiKeyRequired out: then ask for the method.
        const apiKeyRequired: boolean =
          method.apiKeyRequired ?? (await clients.apigw.send(new GetMethodCommand({ restApiId: api.id, resourceId: r.id, httpMethod }))).apiKeyRequired ?? false;
        const o = ops.find((x) => x.method === httpMethod && x.path === r.path);
        assert.ok(o, `${httpMethod} ${r.path} is deployed but not in the spec`);
        const isPrivate = securityOf(spec, o.op).some((req) => "apiKey" in req);
        assert.equal(apiKeyRequired, isPrivate, `${httpMethod} ${r.path}: apiKeyRequired ${apiKeyRequired}, spec private ${isPrivate}`);
      }
    }
    const withoutOptions = deployed.filter((k) => !k.startsWith("OPTIONS ")).sort();
    assert.deepEqual(withoutOptions, ops.map((o) => routeKey(o.method, o.path)).sort());
    // OPTIONS (no key) on every path of the spec.
    const options = new Set(deployed.filter((k) => k.startsWith("OPTIONS ")).map((k) => k.slice(8)));
    for (const p of specPaths) assert.ok(options.has(p), `no OPTIONS on ${p}`);
  });

  test("every status and error code the handler answers in a scripted run is documented for its route", async () => {
    await aws.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const settings = settingsFromEnv({});
    configureLibvips(settings.input.formats);
    const secret = Buffer.alloc(32, 7);
    let clock = Date.now();
    const make = (options: Partial<AppOptions> = {}) =>
      createApp({ store: new ImageStore(aws.s3, BUCKET), settings, log: () => {}, signingSecret: () => Promise.resolve(secret), now: () => clock, ...options });
    const app = make();
    const seen: Array<{ route: string; status: number; code?: string; headers: string[] }> = [];
    const call = async (handler: ReturnType<typeof make>, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
      const res = await handler(event);
      const code = res.statusCode >= 400 ? responseJson<{ error: { code: string } }>(res).error.code : undefined;
      const headers = Object.keys(res.headers ?? {}).filter((h) => DOCUMENTED_HEADERS.includes(h.toLowerCase()));
      seen.push({ route: routeKey(event.httpMethod, event.resource), status: res.statusCode, headers, ...(code === undefined ? {} : { code }) });
      return res;
    };
    const jpeg = loadFixture("exif/pillow_orientation_rectangle.jpg");
    const small: RuntimeSettings = { ...settings, input: { ...settings.input, maxBytes: 100 } };

    // POST /images
    const up = responseJson<{ id: string }>(await call(app, uploadEvent(jpeg, { contentType: "image/jpeg", name: "r.jpg" })));
    await call(app, uploadJsonEvent({ image: jpeg.toString("base64"), name: "r.jpg" }));
    await call(app, uploadEvent(Buffer.alloc(0)));
    await call(app, uploadJsonEvent({ name: "no image" }));
    await call(app, uploadEvent(loadFixture("invalid/image-rs_basic-test.qoi")));
    await call(app, uploadEvent(loadFixture("invalid/imagetestsuite_754664a1.jpg")));
    await call(app, uploadEvent(loadFixture("bombs/fuzzdb_lottapixel.jpg")));
    await call(app, uploadEvent(loadFixture("bombs/fuzzdb_uber.gif")));
    await call(app, uploadEvent(scanBomb({ width: 640, height: 480, channels: 3, scans: 150 })));
    await call(make({ settings: small }), uploadEvent(jpeg));
    await call(make({ store: new ImageStore(aws.s3, "no-such-bucket-here") }), uploadEvent(jpeg));
    // GET /images/{id}
    const listing = responseJson<{ variants: Array<{ size: string; publicUrl: string }> }>(await call(app, listEvent(up.id)));
    await call(app, listEvent(up.id, { force: "maybe" }));
    await call(app, listEvent("not-an-id"));
    await call(app, listEvent("3f0c1b7e-0000-4000-8000-000000000000"));
    await call(make({ signingSecret: () => Promise.reject(new Error("KMS is down")) }), listEvent(up.id));
    // GET /images/{id}/{size}
    const got = await call(app, sizeEvent(up.id, "thumbnail"));
    const etag = String(got.headers?.ETag);
    await call(app, sizeEvent(up.id, "thumbnail", { "If-None-Match": etag }));
    await call(make({ maxInlineBytes: 1 }), sizeEvent(up.id, "thumbnail"));
    await call(app, sizeEvent(up.id, "gigantic"));
    await call(app, sizeEvent("nope", "thumbnail"));
    await call(app, sizeEvent("3f0c1b7e-0000-4000-8000-000000000000", "thumbnail"));
    // A 10000 px PNG takes seconds to encode: past a 1 s decode budget.
    const slow = parseRuntimeSettings({ sizes: { huge: { width: 10_000, enlarge: true, format: "png" } }, input: { maxDecodeSeconds: 1 } });
    await call(make({ settings: slow }), sizeEvent(up.id, "huge"));
    // GET /public/images/{id}/{size}
    const url = new URL(listing.variants[0]!.publicUrl);
    const publicEvent = (query: Record<string, string>, headers?: Record<string, string>) =>
      apiEvent({ method: "GET", resource: "/public/images/{id}/{size}", pathParameters: { id: up.id, size: listing.variants[0]!.size }, query, apiKey: null, ...(headers ? { headers } : {}) });
    const signed = Object.fromEntries(url.searchParams);
    await call(app, publicEvent(signed));
    await call(app, publicEvent(signed, { "If-None-Match": etag }));
    await call(app, publicEvent({ ...signed, sig: `${signed.sig!.slice(0, -1)}${signed.sig!.endsWith("A") ? "B" : "A"}` }));
    await call(make({ settings: { ...settings, publicUrls: { ...settings.publicUrls, enabled: false } } }), publicEvent(signed));
    // With the CDN on, a request that did not come through it (no origin secret).
    const cdnSettings = { url: "https://d111111abcdef8.cloudfront.net", distributionId: "E2QWRUHAPOMQZL", originSha256: "a".repeat(64), keyPairId: "K2JCJMDEHXQW5F" };
    const cdnApp = make({ cdn: { settings: cdnSettings, signingKey: () => Promise.reject(new Error("unused")), invalidate: () => Promise.resolve("I1") } });
    await call(cdnApp, publicEvent(signed));
    clock += (settings.publicUrls.expiresSeconds + 60) * 1000;
    await call(app, publicEvent(signed));
    clock = Date.now();
    // POST /uploads
    const uploads = (body: unknown) => apiEvent({ method: "POST", resource: "/uploads", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), base64: true });
    await call(app, uploads({ contentType: "image/jpeg", contentLength: 1234, name: "big.jpg" }));
    await call(app, uploads({ contentType: "image/svg+xml", contentLength: 1234 }));
    await call(app, uploads({ contentType: "image/jpeg", contentLength: -1 }));
    await call(app, uploads({ contentType: "image/jpeg", contentLength: settings.uploads.maxBytes + 1 }));
    // DELETE /images/{id}
    const del = (id: string) => apiEvent({ method: "DELETE", resource: "/images/{id}", pathParameters: { id } });
    // With the CDN on, the 204 says whether the purge was requested (X-Imgapi-Purge).
    assert.equal((await call(cdnApp, del(up.id))).headers?.["X-Imgapi-Purge"], "requested");
    await call(app, del(up.id));
    await call(app, del("nope"));
    // auth "jwt": the function's own check behind the authorizer (no caller; a caller without the scope).
    const jwtApp = make({ access: { scopes: { read: "images:read", write: "images:write" } } });
    await call(jwtApp, listEvent(up.id));
    const readOnly = uploadEvent(jpeg, { contentType: "image/jpeg" });
    readOnly.requestContext.authorizer = { principalId: "reader", sub: "reader", scope: "images:read" };
    await call(jwtApp, readOnly);
    // An event for a resource the function has no route for (API Gateway never sends one).
    await call(app, apiEvent({ method: "GET", resource: "/nowhere" }));

    const problems: string[] = [];
    const triggered = new Set<string>();
    const notRouted = documentedCodes();
    for (const s of seen) {
      if (s.code !== undefined) triggered.add(s.code);
      const [method, path] = s.route.split(" ") as [string, string];
      if (!ops.some((o) => o.method === method && o.path === path)) {
        if (s.code === undefined || !notRouted.get(s.status)?.has(s.code)) problems.push(`${s.route} ${s.status} ${s.code ?? ""}: not documented`);
        continue;
      }
      const documented = errorCodesOf(method, path);
      const response = resolveRef<{ headers?: Record<string, unknown> }>(spec, ops.find((o) => o.method === method && o.path === path)!.op.responses?.[String(s.status)] ?? {});
      const named = Object.keys(response.headers ?? {}).map((h) => h.toLowerCase());
      for (const h of s.headers) if (!named.includes(h.toLowerCase())) problems.push(`${s.route} ${s.status}: header ${h} not documented`);
      if (!documented.has(s.status)) problems.push(`${s.route} answered ${s.status}, not documented`);
      else if (s.code !== undefined && !documented.get(s.status)!.has(s.code)) problems.push(`${s.route} answered ${s.status} ${s.code}, not among the documented codes`);
    }
    if (process.env.OPENAPI_TEST_VERBOSE) console.log(seen.map((s) => `${s.route} ${s.status} ${s.code ?? ""}`).join("\n"));
    assert.deepEqual(problems, []);
    // The run reached what it set out to: every success status, and these codes.
    const statuses = (route: string) => new Set(seen.filter((s) => s.route === route).map((s) => s.status));
    assert.deepEqual([...statuses("POST /images")].filter((s) => s < 300), [201]);
    for (const s of [200, 302, 304]) assert.ok(statuses("GET /images/{id}/{size}").has(s), `GET size ${s}`);
    for (const s of [200, 304]) assert.ok(statuses("GET /public/images/{id}/{size}").has(s), `public ${s}`);
    assert.ok(statuses("DELETE /images/{id}").has(204));
    assert.ok(statuses("POST /uploads").has(201));
    const expected: ErrorCode[] = ALL_CODES.filter((c) => !["METHOD_NOT_ALLOWED", "STORAGE_UNAVAILABLE"].includes(c));
    assert.deepEqual(expected.filter((c) => !triggered.has(c)), [], `codes the run did not trigger (seen: ${[...triggered].join(", ")})`);
  });
});
