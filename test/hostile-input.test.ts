// Hostile input through the whole handler (createApp with its ImageStore on
// moto, API Gateway events as the deployed API sends them): every file of the
// fixture corpora, plus generated cases — empty and broken bodies, images that
// lie about their type or size, pixel floods in a few hundred bytes, SVG/XML,
// truncated JPEGs, path tricks in ids and size names, malformed JSON.
// For every case: an answer within a time bound, never a 5xx, a 4xx carrying
// one of the stable error codes, and no object in the bucket for anything
// that was refused.
import assert from "node:assert/strict";
import { deflateSync, gzipSync, crc32 } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { createApp, type Handler } from "../function/app.ts";
import { ERROR_STATUS, type ErrorCode } from "../function/errors.ts";
import { MIME_TYPES } from "../function/image/formats.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, listEvent, responseBytes, sizeEvent, uploadEvent, uploadJsonEvent } from "./support/events.ts";
import { fixturesIn, loadFixture, type Fixture } from "./support/fixtures.ts";
import { s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-hostile";
const settings = settingsFromEnv({});
const MAX_BYTES = settings.input.maxBytes;
configureLibvips(settings.input.formats);
/** No single request may take longer than this, whatever it carries. */
const REQUEST_BOUND_MS = 20_000;
const UNKNOWN_ID = "0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f";
/** A UTF-16 surrogate that is not half of a pair. */
const LONE_SURROGATE = /\p{Cs}/u;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The stable 4xx codes a caller can meet: the 4xx half of ERROR_STATUS, which
 * must hold at least these (new routes add their own codes).
 */
const CLIENT_ERROR_CODES = (Object.keys(ERROR_STATUS) as ErrorCode[]).filter((code) => ERROR_STATUS[code] < 500);
const BASELINE_CLIENT_ERROR_CODES: readonly ErrorCode[] = [
  "INVALID_REQUEST",
  "INVALID_ID",
  "UNKNOWN_SIZE",
  "IMAGE_NOT_FOUND",
  "ROUTE_NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_IMAGE_TYPE",
  "UNREADABLE_IMAGE",
  "TOO_MANY_PIXELS",
  "TOO_MANY_FRAMES",
];
const IMAGE_REFUSALS: readonly ErrorCode[] = ["UNSUPPORTED_IMAGE_TYPE", "UNREADABLE_IMAGE", "TOO_MANY_PIXELS", "TOO_MANY_FRAMES", "INVALID_REQUEST", "PAYLOAD_TOO_LARGE"];

let moto: Moto;
let s3: S3Client;
let handler: Handler;
let total = 0;
let failures = 0;
let slowest = { ms: 0, name: "" };
const statuses = new Map<number, number>();
const codesSeen = new Map<string, number>();
/** Ids the handler accepted: the only ones allowed to own objects. */
const accepted = new Set<string>();

before(async () => {
  moto = await startMoto();
  s3 = new S3Client(s3ClientConfig(moto));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  handler = createApp({ store: new ImageStore(s3, BUCKET), settings, log: () => {} });
});

after(async () => {
  s3?.destroy();
  await moto?.stop();
  const by = (m: Map<string | number, number>) => [...m].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([k, n]) => `${k}:${n}`).join(" ");
  console.log(`hostile-input: ${total} cases, ${failures} failures; statuses ${by(statuses)}; slowest ${slowest.ms.toFixed(0)} ms (${slowest.name})`);
  console.log(`hostile-input: error codes ${by(codesSeen)}`);
});

// ---- running cases -----------------------------------------------------------

type Expect =
  /** Refused with one of these codes (any stable 4xx code when omitted). */
  | { refuse: readonly ErrorCode[] | "any" }
  /** Accepted (201 upload / 200 fetch). */
  | { accept: true }
  /** Either is fine (e.g. a polyglot), but never a 5xx. */
  | { either: true };

interface Case {
  name: string;
  event: APIGatewayProxyEvent;
  expect: Expect;
  /** More checks on an accepted answer. */
  then?: (res: APIGatewayProxyResult) => Promise<void>;
}

const refuse = (...codes: ErrorCode[]): Expect => ({ refuse: codes.length === 0 ? "any" : codes });
const ACCEPT: Expect = { accept: true };

function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_BOUND_MS} ms: ${what}`)), REQUEST_BOUND_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The problems with one answer; empty when it is as expected. */
async function judge(c: Case, res: APIGatewayProxyResult): Promise<string[]> {
  const problems: string[] = [];
  const status = res.statusCode;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  if (status >= 500) return [`${status}: ${res.body}`];
  if (res.headers?.["Access-Control-Allow-Origin"] !== "*") problems.push("no CORS header");
  if (status >= 400) {
    let code: string | undefined;
    try {
      const body = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
      code = body.error?.code;
      const message = body.error?.message ?? "";
      if (message.length < 10 || message.length > 400) problems.push(`message of ${message.length} characters`);
      if (/\n\s+at |\.ts:\d+|node_modules|imgapi-hostile/.test(res.body)) problems.push(`internals in the answer: ${res.body.slice(0, 200)}`);
    } catch {
      return [`${status} without a JSON error body: ${res.body.slice(0, 200)}`];
    }
    codesSeen.set(code ?? "?", (codesSeen.get(code ?? "?") ?? 0) + 1);
    if (code === undefined || !CLIENT_ERROR_CODES.includes(code as ErrorCode)) problems.push(`unstable code ${code}`);
    else if (ERROR_STATUS[code as ErrorCode] !== status) problems.push(`${code} answered with ${status}`);
    if ("accept" in c.expect) problems.push(`refused (${status} ${code}) but should be accepted: ${res.body.slice(0, 300)}`);
    if ("refuse" in c.expect && c.expect.refuse !== "any" && !c.expect.refuse.includes(code as ErrorCode)) {
      problems.push(`${code}, expected one of ${c.expect.refuse.join(", ")}`);
    }
    return problems;
  }
  if ("refuse" in c.expect) problems.push(`accepted (${status}) but should be refused`);
  if (status === 201) {
    const body = JSON.parse(res.body) as { id: string; original: { key: string; format: keyof typeof MIME_TYPES } };
    if (!UUID_V4.test(body.id) || body.original.key !== `originals/${body.id}`) problems.push(`id ${body.id}, key ${body.original.key}`);
    accepted.add(body.id);
    // Stored with the type its bytes are, whatever the request claimed.
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: body.original.key }));
    if (head.ContentType !== MIME_TYPES[body.original.format]) problems.push(`stored as ${head.ContentType} for ${body.original.format}`);
  }
  if (c.then !== undefined && problems.length === 0) {
    try {
      await c.then(res);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems;
}

/** Runs every case, then proves the bucket holds objects of accepted uploads only. */
async function runCases(cases: Case[]): Promise<void> {
  const problems: string[] = [];
  const fail = () => {
    failures += 1;
  };
  for (const c of cases) {
    total += 1;
    const started = performance.now();
    let res: APIGatewayProxyResult;
    try {
      res = await bounded(handler(c.event), c.name);
    } catch (e) {
      fail();
      problems.push(`${c.name}: threw ${(e as Error).message}`);
      continue;
    }
    const ms = performance.now() - started;
    if (ms > slowest.ms) slowest = { ms, name: c.name };
    const found = await judge(c, res);
    if (found.length > 0) {
      fail();
      problems.push(`${c.name}: ${found.join("; ")}`);
    }
  }
  const strays = (await allKeys()).filter((key) => !accepted.has(/^(?:originals|resized)\/([^/]+)/.exec(key)?.[1] ?? ""));
  if (strays.length > 0) fail();
  assert.deepEqual(strays, [], "objects written for refused requests");
  assert.deepEqual(problems, [], `${problems.length} of ${cases.length} cases failed`);
}

async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

function withBody(event: APIGatewayProxyEvent, body: string | null, isBase64Encoded: boolean): APIGatewayProxyEvent {
  return { ...event, body, isBase64Encoded };
}

/** The event API Gateway would send for these path parameters (any string, lone surrogates included). */
function withParams(event: APIGatewayProxyEvent, params: Record<string, string>): APIGatewayProxyEvent {
  const encode = (text: string) => encodeURIComponent(text.replace(/\p{Cs}/gu, "\uFFFD"));
  const path = event.resource.replace(/\{(\w+)\}/g, (_, name: string) => encode(params[name] ?? ""));
  return { ...event, pathParameters: params, path, requestContext: { ...event.requestContext, path: `/prod${path}` } };
}
const listOf = (id: string, query?: Record<string, string>) => withParams(listEvent("x", query), { id });
const sizeOf = (id: string, size: string) => withParams(sizeEvent("x", "y"), { id, size });

const idOf = (res: APIGatewayProxyResult) => (JSON.parse(res.body) as { id: string }).id;

/** After an accepted upload: its thumbnail is made and decodes. */
async function thumbnailDecodes(res: APIGatewayProxyResult): Promise<void> {
  const got = await bounded(handler(sizeEvent(idOf(res), "thumbnail")), "thumbnail");
  if (got.statusCode !== 200) throw new Error(`thumbnail: ${got.statusCode} ${got.body.slice(0, 200)}`);
  const meta = await sharp(responseBytes(got)).metadata();
  if (meta.format !== "webp" || !meta.width || meta.width > 150 || !meta.height || meta.height > 150) {
    throw new Error(`thumbnail is ${meta.format} ${meta.width}x${meta.height}`);
  }
}

// ---- generated images ----------------------------------------------------------

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An RGB PNG declaring any dimensions, with the IDAT given (a few rows, or none). */
function pngDeclaring(width: number, height: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr), pngChunk("IDAT", idat), pngChunk("IEND", Buffer.alloc(0))]);
}

/** A valid PNG padded with a private ancillary chunk to exactly `length` bytes. */
function pngOfLength(base: Buffer, length: number): Buffer {
  const iend = base.length - 12; // IEND is the last 12 bytes
  const padding = length - base.length - 12;
  assert.ok(padding >= 0);
  const out = Buffer.concat([base.subarray(0, iend), pngChunk("prVt", Buffer.alloc(padding, 0x61)), base.subarray(iend)]);
  assert.equal(out.length, length);
  return out;
}

/** A GIF89a whose screen and only frame declare w x h, with a tiny LZW stream. */
function gifDeclaring(width: number, height: number): Buffer {
  const header = Buffer.from("GIF89a", "latin1");
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen.set([0x80, 0, 0], 4); // a 2-colour global table follows
  const table = Buffer.from([0, 0, 0, 255, 255, 255]);
  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c;
  descriptor.writeUInt16LE(width, 5);
  descriptor.writeUInt16LE(height, 7);
  const data = Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]); // min code size 2, one sub-block, terminator
  return Buffer.concat([header, screen, table, descriptor, data, Buffer.from([0x3b])]);
}

/** A copy of a JPEG with its SOF's dimensions replaced. */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) break;
    const marker = out[i + 1]!;
    const length = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error("no SOF marker found");
}

/** A copy of a simple lossy WebP ("VP8 ") with its frame's dimensions replaced. */
function webpDeclaring(webp: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(webp);
  assert.equal(out.toString("latin1", 12, 16), "VP8 ");
  out.writeUInt16LE(width & 0x3fff, 26);
  out.writeUInt16LE(height & 0x3fff, 28);
  return out;
}

// ---- the suites -------------------------------------------------------------------

test("the stable 4xx codes: every baseline code is still a 4xx of the API", () => {
  assert.deepEqual(BASELINE_CLIENT_ERROR_CODES.filter((code) => !CLIENT_ERROR_CODES.includes(code)), []);
  assert.ok(CLIENT_ERROR_CODES.every((code) => /^[A-Z][A-Z_]+$/.test(code)));
});

const CONTENT_TYPES: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp", avif: "image/avif", heif: "image/heif", heic: "image/heic", tif: "image/tiff", tiff: "image/tiff", svg: "image/svg+xml", pdf: "application/pdf" };
const labelled = (f: Fixture) => CONTENT_TYPES[f.name.split(".").pop()!.toLowerCase()] ?? "application/octet-stream";

describe("the fixture corpora", () => {
  for (const category of ["valid", "exif", "invalid", "bomb"] as const) {
    test(`every ${category} fixture, as raw bytes and as base64 JSON`, async () => {
      const cases: Case[] = [];
      for (const f of fixturesIn(category)) {
        const bytes = loadFixture(f);
        const expect = f.expected === "resize" ? ACCEPT : { refuse: IMAGE_REFUSALS };
        cases.push({ name: `${f.file} raw`, event: uploadEvent(bytes, { contentType: labelled(f), name: f.name }), expect, ...(f.expected === "resize" ? { then: thumbnailDecodes } : {}) });
        cases.push({ name: `${f.file} json`, event: uploadJsonEvent({ image: bytes.toString("base64"), name: f.name }), expect });
      }
      await runCases(cases);
    });
  }
});

describe("generated bodies", () => {
  const jpeg = loadFixture("sharp_320x240.jpg");
  const png = loadFixture("pngsuite_basn2c08.png");

  test("empty, absent and undecodable bodies", async () => {
    const blank = uploadEvent(Buffer.alloc(0));
    const cases: Case[] = [
      { name: "empty bytes", event: blank, expect: refuse("INVALID_REQUEST") },
      { name: "null body", event: withBody(blank, null, false), expect: refuse("INVALID_REQUEST") },
      { name: "null body claiming base64", event: withBody(blank, null, true), expect: refuse("INVALID_REQUEST") },
      { name: "whitespace-only base64", event: withBody(blank, " \n\t ", true), expect: refuse("INVALID_REQUEST") },
      { name: "base64 of nothing but padding", event: withBody(blank, "====", true), expect: refuse("INVALID_REQUEST") },
      { name: "JSON {} ", event: uploadJsonEvent({}), expect: refuse("INVALID_REQUEST") },
    ];
    const notBase64 = ["this is *not* base64!", "QUJDRA=", "QUJD RA=", "QUJD\u0000RA==", "QUJDRA===", "QU=JDRA=", "-_-_", "😀😀😀😀", "%41%42%43%44", "QUJDRA==QUJDRA==", "\\x00\\x01"];
    for (const text of notBase64) {
      cases.push({ name: `invalid base64 ${JSON.stringify(text)}`, event: withBody(blank, text, true), expect: refuse("INVALID_REQUEST") });
      cases.push({ name: `invalid base64 in JSON ${JSON.stringify(text)}`, event: uploadJsonEvent({ image: text }), expect: refuse("INVALID_REQUEST") });
    }
    await runCases(cases);
  });

  test("base64 of things that are not images", async () => {
    const things: Array<[string, Buffer]> = [
      ["plain text", Buffer.from("hello, world\n")],
      ["three bytes", Buffer.from([0xff, 0xd8, 0xff])],
      ["zeros", Buffer.alloc(4096)],
      ["random bytes", Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919 + 13) % 256))],
      ["an ELF header", Buffer.concat([Buffer.from("\x7fELF\x02\x01\x01", "latin1"), Buffer.alloc(64)])],
      ["a ZIP", Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(64)])],
      ["a gzip", gzipSync(Buffer.from("not an image"))],
      ["a PHP script", Buffer.from("<?php system($_GET['c']); ?>")],
      ["JSON", Buffer.from('{"image": "nope"}')],
      ["a PDF header", Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1")],
      ["a BMP header", Buffer.concat([Buffer.from("BM", "latin1"), Buffer.alloc(60)])],
      ["a JPEG signature then text", Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from("not really a JPEG at all")])],
      ["a PNG signature alone", PNG_SIGNATURE],
      ["a GIF signature alone", Buffer.from("GIF89a", "latin1")],
      ["RIFF WEBP with nothing in it", Buffer.from("RIFF\x04\x00\x00\x00WEBP", "latin1")],
    ];
    const cases: Case[] = [];
    for (const [what, bytes] of things) {
      cases.push({ name: `${what} as image/png`, event: uploadEvent(bytes, { contentType: "image/png" }), expect: refuse("UNSUPPORTED_IMAGE_TYPE", "UNREADABLE_IMAGE") });
      cases.push({ name: `${what} in JSON`, event: uploadJsonEvent({ image: bytes.toString("base64") }), expect: refuse("UNSUPPORTED_IMAGE_TYPE", "UNREADABLE_IMAGE") });
    }
    await runCases(cases);
  });

  test("bytes that disagree with the Content-Type: judged by the bytes", async () => {
    const cases: Case[] = [];
    for (const type of ["image/png", "image/gif", "text/plain", "text/html", "application/octet-stream", "image/svg+xml", "x/y", "", "image/jpeg; charset=utf-16", "IMAGE/PNG", "😀/😀", "a".repeat(10_000)]) {
      cases.push({ name: `a JPEG labelled ${JSON.stringify(type.slice(0, 30))}`, event: uploadEvent(jpeg, { contentType: type }), expect: ACCEPT });
      cases.push({ name: `a PNG labelled ${JSON.stringify(type.slice(0, 30))}`, event: uploadEvent(png, { contentType: type }), expect: ACCEPT });
    }
    // Labelled JSON but not JSON: the JSON rules apply, and refuse it.
    cases.push({ name: "a JPEG labelled application/json", event: uploadEvent(jpeg, { contentType: "application/json" }), expect: refuse("INVALID_REQUEST") });
    cases.push({ name: "a JPEG in a multipart form", event: uploadEvent(Buffer.concat([Buffer.from('--x\r\nContent-Disposition: form-data; name="f"\r\n\r\n'), jpeg, Buffer.from("\r\n--x--\r\n")]), { contentType: "multipart/form-data; boundary=x" }), expect: refuse("UNSUPPORTED_IMAGE_TYPE") });
    // Two Content-Type headers differing in case: whichever is read, never a 5xx.
    cases.push({ name: "two Content-Type headers", event: uploadEvent(jpeg, { contentType: "image/jpeg", headers: { "content-type": "application/json" } }), expect: { either: true } });
    await runCases(cases);
  });

  test("a body at input.maxBytes exactly is taken; one byte over is 413", async () => {
    const base = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#c33" } }).png().toBuffer();
    const atLimit = pngOfLength(base, MAX_BYTES);
    const over = pngOfLength(base, MAX_BYTES + 1);
    const cases: Case[] = [
      { name: "raw, at the limit", event: uploadEvent(atLimit, { contentType: "image/png" }), expect: ACCEPT, then: thumbnailDecodes },
      { name: "raw, one byte over", event: uploadEvent(over, { contentType: "image/png" }), expect: refuse("PAYLOAD_TOO_LARGE") },
      { name: "JSON, at the limit", event: uploadJsonEvent({ image: atLimit.toString("base64") }), expect: ACCEPT },
      { name: "JSON, one byte over", event: uploadJsonEvent({ image: over.toString("base64") }), expect: refuse("PAYLOAD_TOO_LARGE") },
      { name: "JSON (not base64-encoded by the gateway), one byte over", event: uploadJsonEvent({ image: over.toString("base64") }, { base64: false }), expect: refuse("PAYLOAD_TOO_LARGE") },
      { name: "a body not base64-encoded, one byte over", event: withBody(uploadEvent(Buffer.alloc(0)), over.toString("latin1"), false), expect: refuse("PAYLOAD_TOO_LARGE", "UNREADABLE_IMAGE", "UNSUPPORTED_IMAGE_TYPE") },
      { name: "10 MB of zeros", event: uploadEvent(Buffer.alloc(10 * 1024 * 1024)), expect: refuse("PAYLOAD_TOO_LARGE") },
    ];
    await runCases(cases);
  });

  test("pixel floods: huge declared dimensions in a few hundred bytes", async () => {
    const rows = deflateSync(Buffer.alloc(4096));
    const smallJpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#345" } }).jpeg().toBuffer();
    const smallWebp = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#345" } }).webp().toBuffer();
    const floods: Array<[string, Buffer, ErrorCode[]]> = [
      ["PNG 100000x100000", pngDeclaring(100_000, 100_000, rows), ["TOO_MANY_PIXELS"]],
      ["PNG 2^31-1 x 1", pngDeclaring(2 ** 31 - 1, 1, rows), ["TOO_MANY_PIXELS", "UNREADABLE_IMAGE"]],
      ["PNG 1 x 50000000", pngDeclaring(1, 50_000_000, rows), ["TOO_MANY_PIXELS"]],
      ["PNG 0x0", pngDeclaring(0, 0, rows), ["UNREADABLE_IMAGE"]],
      ["PNG 4294967295 x 4294967295", pngDeclaring(2 ** 32 - 1, 2 ** 32 - 1, rows), ["TOO_MANY_PIXELS", "UNREADABLE_IMAGE"]],
      // Within the pixel limit, but 40,000,000 pixels wide: refused from the header.
      ["PNG at maxPixels with almost no data", pngDeclaring(settings.input.maxPixels, 1, rows), ["IMAGE_TOO_COMPLEX"]],
      ["GIF 65535x65535", gifDeclaring(65_535, 65_535), ["TOO_MANY_PIXELS", "UNREADABLE_IMAGE"]],
      ["GIF 65535x1000", gifDeclaring(65_535, 1_000), ["TOO_MANY_PIXELS", "UNREADABLE_IMAGE"]],
      ["JPEG 65500x65500", jpegDeclaring(smallJpeg, 65_500, 65_500), ["TOO_MANY_PIXELS"]],
      ["JPEG 0x0", jpegDeclaring(smallJpeg, 0, 0), ["UNREADABLE_IMAGE"]],
      ["WebP 16383x16383", webpDeclaring(smallWebp, 16_383, 16_383), ["TOO_MANY_PIXELS", "UNREADABLE_IMAGE"]],
    ];
    const cases: Case[] = [];
    for (const [what, bytes, codes] of floods) {
      assert.ok(bytes.length < 1024 || what.startsWith("JPEG") || what.startsWith("WebP"), `${what} is ${bytes.length} bytes`);
      cases.push({ name: `${what} (${bytes.length} bytes)`, event: uploadEvent(bytes, { contentType: "image/png" }), expect: refuse(...codes) });
    }
    await runCases(cases);
  });

  test("SVG and XML are refused, however they are dressed", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="red"/></svg>';
    const documents: Array<[string, string]> = [
      ["plain SVG", svg],
      ["SVG with an XML declaration", `<?xml version="1.0" encoding="UTF-8"?>\n${svg}`],
      ["SVG after a BOM", `\uFEFF${svg}`],
      ["SVG after whitespace", `\n\n   \t${svg}`],
      ["SVG with a script", '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.domain)</script></svg>'],
      ["SVG with an external entity (XXE)", '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>'],
      ["billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`).join("")}]><svg>&lol9;</svg>`],
      ["SVG with a huge viewBox", '<svg xmlns="http://www.w3.org/2000/svg" width="10000000" height="10000000" viewBox="0 0 10000000 10000000"/>'],
      ["SVG linking a remote image", '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="http://169.254.169.254/latest/meta-data/"/></svg>'],
      ["plain XML", '<?xml version="1.0"?><root><a>1</a></root>'],
      ["HTML", "<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"],
    ];
    const cases: Case[] = [];
    for (const [what, text] of documents) {
      const bytes = Buffer.from(text, "utf8");
      for (const type of ["image/svg+xml", "image/png", "application/xml"]) {
        cases.push({ name: `${what} as ${type}`, event: uploadEvent(bytes, { contentType: type }), expect: refuse("UNSUPPORTED_IMAGE_TYPE") });
      }
      cases.push({ name: `${what} in JSON`, event: uploadJsonEvent({ image: bytes.toString("base64"), name: "x.svg" }), expect: refuse("UNSUPPORTED_IMAGE_TYPE") });
    }
    cases.push({ name: "gzipped SVG (svgz)", event: uploadEvent(gzipSync(Buffer.from(svg)), { contentType: "image/svg+xml" }), expect: refuse("UNSUPPORTED_IMAGE_TYPE") });
    await runCases(cases);
  });

  test("JPEGs truncated at many offsets are refused, never half-stored", async () => {
    const cases: Case[] = [];
    for (const name of ["sharp_320x240.jpg", "image-rs_progressive_cat.jpg"]) {
      const whole = loadFixture(name);
      const L = whole.length;
      const offsets = new Set([1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 400, 700, 1000, 2000, L - 1000, L - 100, L - 10, L - 3, L - 2, L - 1]);
      for (let i = 1; i < 40; i++) offsets.add(Math.floor((L * i) / 40));
      for (const at of [...offsets].filter((n) => n > 0 && n < L).sort((a, b) => a - b)) {
        cases.push({ name: `${name} cut at ${at}/${L}`, event: uploadEvent(whole.subarray(0, at), { contentType: "image/jpeg" }), expect: refuse("UNREADABLE_IMAGE", "UNSUPPORTED_IMAGE_TYPE") });
      }
    }
    await runCases(cases);
  });

  test("polyglots: an image with a payload after its end is stored as sent but served re-encoded", async () => {
    const payload = Buffer.from("PK\x03\x04<?php system($_GET['c']); ?><script>alert(1)</script>", "latin1");
    const cases: Case[] = [jpeg, png, loadFixture("sharp_grey-plus-alpha.gif")].map((img, i) => ({
      name: `polyglot ${i}`,
      event: uploadEvent(Buffer.concat([img, payload]), { contentType: "image/jpeg" }),
      expect: { either: true },
      then: async (res: APIGatewayProxyResult) => {
        if (res.statusCode !== 201) return;
        const got = await handler(sizeEvent(idOf(res), "medium"));
        if (got.statusCode !== 200) throw new Error(`medium: ${got.statusCode}`);
        if (responseBytes(got).includes(Buffer.from("<?php"))) throw new Error("the payload survived into the variant");
      },
    }));
    await runCases(cases);
  });
});

describe("generated paths, names and JSON", () => {
  const jpeg = loadFixture("sharp_concert.jpg");
    const HOSTILE_STRINGS = [
    "../etc/passwd",
    "../../../../../../etc/passwd",
    "..",
    "../",
    "..\\..\\windows",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2f",
    "..%2F..%2Fetc",
    "%252e%252e",
    "..;/",
    "/etc/passwd",
    "\u0000",
    "a\u0000b",
    "%00",
    `${UNKNOWN_ID}\u0000`,
    `${UNKNOWN_ID}/../x`,
    `${UNKNOWN_ID}\n`,
    UNKNOWN_ID.toUpperCase(),
    "ünïcödé",
    "😀",
    "\u202egnp.exe",
    "\ud800",
    "CON",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "${jndi:ldap://x}",
    "x".repeat(10 * 1024),
    "é".repeat(10 * 1024),
    "",
    " ",
    "__proto__",
    "constructor",
    "thumbnail/../medium",
    "medium\u0000",
    "MEDIUM",
  ];

  test("ids and size names with ../, %2e%2e, NUL, unicode and 10 KB strings", async () => {
    const cases: Case[] = [];
    for (const s of HOSTILE_STRINGS) {
      const label = JSON.stringify(s.slice(0, 24));
      cases.push({ name: `list id ${label}`, event: listOf(s), expect: refuse("INVALID_ID") });
      cases.push({ name: `size of id ${label}`, event: sizeOf(s, "medium"), expect: refuse("INVALID_ID") });
      cases.push({ name: `size name ${label}`, event: sizeOf(UNKNOWN_ID, s), expect: refuse("UNKNOWN_SIZE") });
      cases.push({ name: `both ${label}`, event: sizeOf(s, s), expect: refuse("INVALID_ID", "UNKNOWN_SIZE") });
      cases.push({ name: `force=${label}`, event: listOf(UNKNOWN_ID, { force: s }), expect: refuse("INVALID_REQUEST") });
    }
    await runCases(cases);
    // The 10 KB strings are not echoed back whole.
    const res = await handler(sizeEvent(UNKNOWN_ID, "x".repeat(10 * 1024)));
    assert.ok(res.body.length < 300, `${res.body.length} characters`);
  });

  test("hostile file names: stored under the generated id, the name cleaned", async () => {
    const cases: Case[] = [];
    const check = async (res: APIGatewayProxyResult) => {
      const { original } = JSON.parse(res.body) as { original: { key: string; name?: string } };
      if (original.name !== undefined) {
        // eslint-disable-next-line no-control-regex
        if (/[/\\\u0000-\u001f\u007f]/.test(original.name)) throw new Error(`name kept ${JSON.stringify(original.name)}`);
        if (original.name.length > 200) throw new Error(`name of ${original.name.length} characters`);
      }
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: original.key }));
      if (head.Metadata?.name !== undefined && !/^[\u0020-\u007e]*$/.test(head.Metadata.name)) throw new Error(`metadata ${head.Metadata.name}`);
    };
    for (const s of HOSTILE_STRINGS.filter((text) => !LONE_SURROGATE.test(text))) {
      const label = JSON.stringify(s.slice(0, 24));
      cases.push({ name: `?name=${label}`, event: uploadEvent(jpeg, { contentType: "image/jpeg", name: s }), expect: ACCEPT, then: check });
      cases.push({ name: `JSON name ${label}`, event: uploadJsonEvent({ image: jpeg.toString("base64"), name: s }), expect: ACCEPT, then: check });
    }
    await runCases(cases);
  });

  test("file names with a lone UTF-16 surrogate (or cut to 200 inside a pair) are cleaned, not a 502", async () => {
    const cases: Case[] = [];
    for (const s of ["\ud800", "cat\udfff.jpg", `a${"😀".repeat(150)}`]) {
      const label = JSON.stringify(s.slice(0, 24));
      cases.push({ name: `?name=${label}`, event: uploadEvent(jpeg, { contentType: "image/jpeg", name: s }), expect: ACCEPT });
      cases.push({ name: `JSON name ${label}`, event: uploadJsonEvent({ image: jpeg.toString("base64"), name: s }), expect: ACCEPT });
    }
    await runCases(cases);
  });

  test("malformed JSON bodies", async () => {
    const b64 = jpeg.toString("base64");
    const texts: Array<[string, string, Expect]> = [
      ["empty", "", refuse("INVALID_REQUEST")],
      ["a space", " ", refuse("INVALID_REQUEST")],
      ["{", "{", refuse("INVALID_REQUEST")],
      ["}", "}", refuse("INVALID_REQUEST")],
      ["cut after the key", '{"image":', refuse("INVALID_REQUEST")],
      ["cut inside the image", `{"image": "${b64.slice(0, 1000)}`, refuse("INVALID_REQUEST")],
      ["single quotes", `{'image': '${b64.slice(0, 100)}'}`, refuse("INVALID_REQUEST")],
      ["trailing garbage", `{"image": "${b64}"} trailing`, refuse("INVALID_REQUEST")],
      ["a trailing comma", `{"image": "${b64}",}`, refuse("INVALID_REQUEST")],
      ["a BOM first", `\uFEFF{"image": "${b64}"}`, refuse("INVALID_REQUEST")],
      ["100000 nested arrays", "[".repeat(100_000) + "]".repeat(100_000), refuse("INVALID_REQUEST")],
      ["50000 nested objects", '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000), refuse("INVALID_REQUEST")],
      ["unclosed nesting", "[".repeat(100_000), refuse("INVALID_REQUEST")],
      ["a huge number", "1e999999", refuse("INVALID_REQUEST")],
      ["a string", '"just a string"', refuse("INVALID_REQUEST")],
      ["true", "true", refuse("INVALID_REQUEST")],
      ["an array of the image", `["${b64}"]`, refuse("INVALID_REQUEST")],
      ["image null", '{"image": null}', refuse("INVALID_REQUEST")],
      ["image an array", `{"image": ["${b64}"]}`, refuse("INVALID_REQUEST")],
      ["image an object", '{"image": {"$ne": 1}}', refuse("INVALID_REQUEST")],
      ["image a number", '{"image": 1e308}', refuse("INVALID_REQUEST")],
      ["image under __proto__", `{"__proto__": {"image": "${b64}"}}`, refuse("INVALID_REQUEST")],
      ["image under constructor.prototype", `{"constructor": {"prototype": {"image": "${b64}"}}}`, refuse("INVALID_REQUEST")],
      ["a duplicate key, last one bad", `{"image": "${b64}", "image": "%%%"}`, refuse("INVALID_REQUEST")],
      ["a duplicate key, last one good", `{"image": "%%%", "image": "${b64}"}`, ACCEPT],
      ["name an object", `{"image": "${b64}", "name": {"a": 1}}`, refuse("INVALID_REQUEST")],
      ["a data URL", `{"image": "data:image/jpeg;base64,${b64}"}`, ACCEPT],
      ["a data URL of HTML", `{"image": "data:text/html;base64,${Buffer.from("<html></html>").toString("base64")}"}`, refuse("UNSUPPORTED_IMAGE_TYPE")],
      ["a data URL with a 10 KB type", `{"image": "data:${"a".repeat(10_000)};base64,${b64}"}`, refuse("INVALID_REQUEST")],
      ["base64 wrapped at 76 columns", `{"image": "${b64.replace(/.{76}/g, "$&\\n")}"}`, ACCEPT],
      ["base64url alphabet", `{"image": "${jpeg.toString("base64url")}"}`, refuse("INVALID_REQUEST")],
      ["unicode escapes for the image", `{"image": "${[...b64.slice(0, 400)].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"}`, refuse("INVALID_REQUEST", "UNREADABLE_IMAGE")],
    ];
    const cases: Case[] = texts.map(([what, text, expect]) => ({ name: `JSON ${what}`, event: uploadJsonEvent(text), expect }));
    // Bytes that are not UTF-8 at all, labelled JSON.
    cases.push({ name: "JSON body of invalid UTF-8", event: uploadEvent(Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), { contentType: "application/json" }), expect: refuse("INVALID_REQUEST") });
    cases.push({ name: "JSON labelled Application/JSON; charset=UTF-8", event: uploadEvent(Buffer.from(JSON.stringify({ image: b64 })), { contentType: "Application/JSON; charset=UTF-8" }), expect: ACCEPT });
    await runCases(cases);
  });

  test("unknown routes, methods and odd events", async () => {
    const cases: Case[] = [
      { name: "PATCH /images/{id}", event: { ...listEvent(UNKNOWN_ID), httpMethod: "PATCH" }, expect: refuse("ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED") },
      { name: "PUT /images", event: apiEvent({ method: "PUT", resource: "/images", body: loadFixture("sharp_320x240.jpg") }), expect: refuse("ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED") },
      { name: "GET /admin", event: apiEvent({ method: "GET", resource: "/admin" }), expect: refuse("ROUTE_NOT_FOUND") },
      { name: "GET /images/{id} without pathParameters", event: { ...listEvent(UNKNOWN_ID), pathParameters: null }, expect: refuse("INVALID_ID") },
      { name: "GET /images/{id}/{size} without pathParameters", event: { ...sizeEvent(UNKNOWN_ID, "medium"), pathParameters: null }, expect: refuse("INVALID_ID") },
      { name: "headers null", event: { ...listEvent(UNKNOWN_ID), headers: null as unknown as APIGatewayProxyEvent["headers"] }, expect: refuse("IMAGE_NOT_FOUND") },
      { name: "an upload with headers null", event: { ...uploadEvent(jpeg), headers: null as unknown as APIGatewayProxyEvent["headers"] }, expect: ACCEPT },
      { name: "queryStringParameters with a null value", event: { ...listEvent(UNKNOWN_ID), queryStringParameters: { force: null as unknown as string } }, expect: refuse("IMAGE_NOT_FOUND") },
      { name: "an API key header but no identity", event: { ...listEvent(UNKNOWN_ID), requestContext: { ...listEvent(UNKNOWN_ID).requestContext, identity: { ...listEvent(UNKNOWN_ID).requestContext.identity, apiKey: null } } }, expect: refuse("IMAGE_NOT_FOUND") },
      { name: "an event with a 10 KB Host", event: listEvent(UNKNOWN_ID, undefined, { Host: "h".repeat(10_000) }), expect: refuse("IMAGE_NOT_FOUND") },
    ];
    await runCases(cases);
  });
});

describe("the bucket afterwards", () => {
  test("holds only objects of accepted uploads, and every accepted upload has its original", async () => {
    const keys = await allKeys();
    const originals = new Set(keys.filter((k) => k.startsWith("originals/")).map((k) => k.slice("originals/".length)));
    assert.deepEqual([...accepted].filter((id) => !originals.has(id)), [], "accepted but not stored");
    assert.deepEqual(keys.filter((k) => !accepted.has(/^(?:originals|resized)\/([^/]+)/.exec(k)?.[1] ?? "")), []);
  });
});
