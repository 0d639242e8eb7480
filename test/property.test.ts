// Property-based tests (fast-check) through the whole handler on moto: random
// and mutated API Gateway events, mutated real images, garbage behind real
// magic numbers, random JSON. Whatever comes in: an answer within a time
// bound, never a 5xx, every 4xx with a stable code, an accepted upload that
// can really be resized, and no object for anything refused.
// Reproduce a failure with FC_SEED=<seed> (printed in the summary line);
// FC_RUNS multiplies the number of runs (e.g. FC_RUNS=20 for a long soak).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import fc from "fast-check";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { createApp, type Handler } from "../function/app.ts";
import { ERROR_STATUS, type ErrorCode } from "../function/errors.ts";
import { MIME_TYPES } from "../function/image/formats.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ROUTES } from "../function/routes.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, responseBytes, sizeEvent, uploadEvent, uploadJsonEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";
import { propertySeed } from "./support/ci.ts";

const BUCKET = "imgapi-property";
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);
const SEED = propertySeed();
const SCALE = Math.max(1, Number(process.env.FC_RUNS ?? 1));
const REQUEST_BOUND_MS = 20_000;
const CLIENT_ERROR_CODES = new Set((Object.keys(ERROR_STATUS) as ErrorCode[]).filter((c) => ERROR_STATUS[c] < 500));

let moto: Moto;
let s3: S3Client;
let handler: Handler;
/** Ids the handler accepted: the only ones allowed to own objects. */
const accepted = new Set<string>();
let seededId = "";
const totals = { runs: 0, properties: 0, failed: 0, accepted: 0, refused: 0 };

before(async () => {
  moto = await startMoto();
  s3 = new S3Client(s3ClientConfig(moto));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  handler = createApp({ store: new ImageStore(s3, BUCKET), settings, log: () => {} });
  // One real image, so random events also meet an id that exists.
  const res = await handler(uploadEvent(loadFixture("sharp_concert.jpg"), { contentType: "image/jpeg" }));
  seededId = (JSON.parse(res.body) as { id: string }).id;
  accepted.add(seededId);
});

after(async () => {
  s3?.destroy();
  await moto?.stop();
  console.log(`property: ${totals.runs} runs over ${totals.properties} properties, ${totals.failed} failures (${totals.accepted} accepted, ${totals.refused} refused); seed ${SEED}`);
});

// ---- checking one answer ---------------------------------------------------------

function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_BOUND_MS} ms: ${what}`)), REQUEST_BOUND_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Calls the handler and asserts the invariants every answer must keep. */
async function call(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  totals.runs += 1;
  const res = await bounded(handler(event), `${event.httpMethod} ${event.resource}`);
  assert.ok(Number.isInteger(res.statusCode), "a status code");
  assert.ok(res.statusCode < 500, `${res.statusCode}: ${res.body}`);
  if (res.statusCode >= 400) {
    totals.refused += 1;
    const body = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
    assert.ok(CLIENT_ERROR_CODES.has(body.error?.code as ErrorCode), `unstable code in ${res.body}`);
    assert.equal(ERROR_STATUS[body.error!.code as ErrorCode], res.statusCode);
    assert.ok(!/\n\s+at |\.ts:\d+|node_modules/.test(res.body), `internals in ${res.body}`);
  }
  if (res.statusCode === 201 && event.resource === "/images") {
    totals.accepted += 1;
    const { id, original } = JSON.parse(res.body) as { id: string; original: { key: string; format: keyof typeof MIME_TYPES } };
    accepted.add(id);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: original.key }));
    assert.equal(head.ContentType, MIME_TYPES[original.format], "stored as the type its bytes are");
  }
  return res;
}

/** An accepted upload must be resizable: its thumbnail is made and decodes. */
async function assertResizable(res: APIGatewayProxyResult): Promise<void> {
  if (res.statusCode !== 201) return;
  const { id } = JSON.parse(res.body) as { id: string };
  const thumb = await call(sizeEvent(id, "thumbnail"));
  assert.equal(thumb.statusCode, 200, `accepted, but its thumbnail is ${thumb.statusCode} ${thumb.body}`);
  const meta = await sharp(responseBytes(thumb)).metadata();
  assert.ok(meta.width! <= 150 && meta.height! <= 150, `${meta.width}x${meta.height}`);
}

async function strays(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.filter((key) => !accepted.has(/^[^/]+\/([^/]+)/.exec(key)?.[1] ?? ""));
}

/** Runs a property with the run's seed, counts it, and checks the bucket afterwards. */
async function check<T>(name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns: number): Promise<void> {
  totals.properties += 1;
  try {
    await fc.assert(fc.asyncProperty(arbitrary, predicate), { numRuns: numRuns * SCALE, seed: SEED, endOnFailure: false });
    assert.deepEqual(await strays(), [], `${name}: objects written for refused requests`);
  } catch (e) {
    totals.failed += 1;
    throw e;
  }
}

// ---- arbitraries ---------------------------------------------------------------------

const UUID = fc.uuid({ version: 4 });
const HOSTILE = ["..", "../", "%2e%2e", "..%2f", "\u0000", "😀", "\ud800", "x".repeat(10_000), "", " ", "__proto__", "constructor", "thumbnail", "medium", "large", "true", "false", "null", "-1", "1e309"];
/** Anything API Gateway could pass as a header, parameter or query value. */
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(...HOSTILE),
  UUID,
);
/** File names: anything, lone UTF-16 surrogates included (once a 502, see hostile-input.test.ts). */
const nameText = anyText;
const idText = fc.oneof(UUID, fc.constant("SEEDED"), anyText);
const contentType = fc.oneof(
  fc.constantFrom("image/jpeg", "image/png", "application/json", "application/json; charset=utf-8", "text/plain", "multipart/form-data; boundary=x", "application/octet-stream", "", "*/*"),
  fc.string({ maxLength: 60 }),
);
const body = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b).toString("base64")),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? "null"),
  fc.record({ image: fc.oneof(anyText, fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString("base64"))), name: fc.option(nameText) }).map((d) => JSON.stringify(d)),
);
const resource = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ROUTES.map((r) => r.resource)) },
  { weight: 1, arbitrary: fc.constantFrom("/", "/images/{id}/{size}/{extra}", "/admin", "/{proxy+}") },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

const randomEvent = fc
  .record({
    method: fc.oneof({ weight: 5, arbitrary: fc.constantFrom("GET", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "HEAD") }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }),
    resource,
    id: idText,
    size: anyText,
    params: fc.option(fc.dictionary(fc.constantFrom("id", "size", "extra", "proxy"), anyText, { maxKeys: 3 }), { nil: null }),
    query: fc.option(fc.dictionary(fc.constantFrom("force", "name", "expires", "signature", "sig", "x-api-key", "size"), anyText, { maxKeys: 4 })),
    name: fc.option(nameText),
    headers: fc.dictionary(fc.constantFrom("Origin", "If-None-Match", "Accept", "X-Forwarded-Proto", "Host", "content-type", "Content-Type", "X-Api-Key", "Authorization"), fc.string({ maxLength: 60 }), { maxKeys: 4 }),
    contentType,
    body,
    isBase64Encoded: fc.boolean(),
  })
  .map((r): APIGatewayProxyEvent => {
    const event = apiEvent({ method: "GET", resource: "/" });
    const id = r.id === "SEEDED" ? seededId : r.id;
    const params = r.params ?? (r.resource.includes("{") ? { id, size: r.size } : null);
    const query = { ...(r.query ?? {}), ...(r.name === null ? {} : { name: r.name }) };
    return {
      ...event,
      httpMethod: r.method,
      resource: r.resource,
      path: r.resource,
      pathParameters: params,
      queryStringParameters: Object.keys(query).length === 0 ? null : query,
      headers: { ...event.headers, "Content-Type": r.contentType, ...r.headers },
      body: r.body,
      isBase64Encoded: r.isBase64Encoded,
    };
  });

// Small, varied real images to mutate.
const SEEDS = ["sharp_concert.jpg", "image-rs_progressive_cat.jpg", "pngsuite_basn6a08.png", "pngsuite_basi0g08.png", "image-rs_interlaced.gif", "image-rs_lossy_alpha.webp", "sharp_8bit_depth.tiff", "libheif_avif32.heif", "sharp_rotating-squares.webp", "pillow_orientation_rectangle.jpg"].map((f) => loadFixture(f));

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; bytes: Uint8Array }
  | { op: "cut"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "repeat"; at: number; length: number; times: number }
  | { op: "u16"; at: number; value: number };

// Positions skewed toward headers, where the dimensions and chunk lengths are.
const position = fc.oneof(fc.nat({ max: 63 }), fc.nat({ max: 1023 }), fc.nat());
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant("cut" as const), at: position }),
  fc.record({ op: fc.constant("insert" as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ op: fc.constant("repeat" as const), at: position, length: fc.integer({ min: 1, max: 256 }), times: fc.integer({ min: 2, max: 20 }) }),
  fc.record({ op: fc.constant("u16" as const), at: position, value: fc.constantFrom(0, 1, 0x7fff, 0xffff, 0x8000, 0x0100) }),
);

function mutate(original: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(original);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.op) {
      case "flip":
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case "set":
        b.set(m.bytes.subarray(0, b.length - at), at);
        break;
      case "cut":
        b = b.subarray(0, Math.max(1, at));
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case "repeat": {
        const piece = b.subarray(at, at + m.length);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => piece), b.subarray(at + m.length)]);
        break;
      }
      case "u16":
        if (at + 2 <= b.length) b.writeUInt16BE(m.value, at);
        break;
    }
  }
  return b;
}

const MAGIC = [
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]),
  Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x00, 0x01, 0x00, 0x03]),
  SEEDS[2]!.subarray(0, 33), // PNG signature and a real IHDR
  Buffer.from("GIF89a\x10\x00\x10\x00\x80\x00\x00", "latin1"),
  Buffer.from("RIFF\x00\x10\x00\x00WEBPVP8 ", "latin1"),
  Buffer.from("RIFF\x00\x10\x00\x00WEBPVP8L", "latin1"),
  Buffer.from("II*\x00\x08\x00\x00\x00", "latin1"),
  Buffer.from("MM\x00*\x00\x00\x00\x08", "latin1"),
  Buffer.from("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "latin1"),
];

// ---- the properties -----------------------------------------------------------------

test("random API Gateway events: never a 5xx, a stable 4xx code, nothing stored for a refusal", async () => {
  await check("random events", randomEvent, async (event) => {
    await call(event);
  }, 400);
});

test("mutated real images: refused with a stable 4xx, or accepted and really resizable", async () => {
  const arbitrary = fc.record({
    seed: fc.nat({ max: SEEDS.length - 1 }),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    json: fc.boolean(),
  });
  await check("mutated images", arbitrary, async ({ seed, mutations, json }) => {
    const bytes = mutate(SEEDS[seed]!, mutations);
    const res = await call(json ? uploadJsonEvent({ image: bytes.toString("base64") }) : uploadEvent(bytes, { contentType: "image/jpeg" }));
    await assertResizable(res);
  }, 250);
});

test("garbage behind a real magic number: refused with a stable 4xx", async () => {
  const arbitrary = fc.record({ magic: fc.nat({ max: MAGIC.length - 1 }), tail: fc.uint8Array({ maxLength: 4096 }) });
  await check("magic + garbage", arbitrary, async ({ magic, tail }) => {
    const res = await call(uploadEvent(Buffer.concat([MAGIC[magic]!, tail]), { contentType: "image/png" }));
    await assertResizable(res);
  }, 200);
});

test("a valid image with any label and any name is accepted and stored as its bytes say", async () => {
  const valid = [SEEDS[0]!, SEEDS[2]!, SEEDS[4]!, SEEDS[5]!];
  const arbitrary = fc.record({ image: fc.nat({ max: valid.length - 1 }), type: contentType.filter((t) => !t.toLowerCase().trim().startsWith("application/json")), name: nameText });
  await check("labels and names", arbitrary, async ({ image, type, name }) => {
    const res = await call(uploadEvent(valid[image]!, { contentType: type, name }));
    assert.equal(res.statusCode, 201, res.body);
    const { original } = JSON.parse(res.body) as { original: { key: string; name?: string } };
    assert.match(original.key, /^originals\/[0-9a-f-]{36}$/);
    // eslint-disable-next-line no-control-regex
    assert.ok(original.name === undefined || (!/[/\\\u0000-\u001f]/.test(original.name) && original.name.length <= 200), JSON.stringify(original.name));
  }, 40);
});

test("random JSON documents as an upload: never a 5xx", async () => {
  const doc = fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.dictionary(fc.constantFrom("image", "name", "__proto__", "constructor"), fc.jsonValue({ maxDepth: 3 })));
  await check("random JSON", fc.record({ doc, base64: fc.boolean() }), async ({ doc, base64 }) => {
    await call(uploadJsonEvent(JSON.stringify(doc) ?? "null", { base64 }));
  }, 200);
});
