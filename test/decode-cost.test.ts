// Every request's cost is bounded whatever its bytes (issue 11, item 1).
// Progressive-JPEG scan bombs and their kin in the other formats, generated
// here, are refused from their structure before any decoder runs: proved by
// counting sharp calls (zero), never by timing. The decode budget stops a
// pipeline that runs too long, answers DECODE_TIMEOUT and stores nothing.
// How fast the refusals are is measured by bench/hostile.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { parseRuntimeSettings } from "../config/load.ts";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { InputFormat, RuntimeSettings } from "../config/schema.ts";
import { createApp } from "../function/app.ts";
import { ApiError } from "../function/errors.ts";
import { DecodeBudget } from "../function/image/budget.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { checkDimensions, checkStructure, countJpegScans, MAX_IMAGE_SIDE, MAX_JPEG_SCANS, MAX_PNG_METADATA_BYTES } from "../function/image/structure.ts";
import { sniffFormat } from "../function/image/formats.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { fixturesIn, loadFixture } from "./support/fixtures.ts";
import { gifFrames, pngShape, pngTextBomb, tiffPages, webpFrames } from "./support/hostile-images.ts";
import { motoWithS3 } from "./support/moto-bucket.ts";
import { scanBomb } from "./support/scan-bomb.ts";
import { countSharpCalls } from "./support/sharp-calls.ts";

const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);
/** No request may take longer than this (a hang bound, not a performance claim). */
const HANG_BOUND_MS = 20_000;
/** The largest square within the default pixel limit (40 MP). */
const SIDE = Math.floor(Math.sqrt(settings.input.maxPixels));
const MAX_FRAMES = settings.input.maxFrames;

interface Bomb {
  name: string;
  bytes: Buffer;
  code: "IMAGE_TOO_COMPLEX" | "TOO_MANY_FRAMES";
}

const BOMBS: Bomb[] = [
  ...([
    [1, 101],
    [1, 300],
    [1, 882],
    [3, 101],
    [3, 1000],
    [3, 2646],
  ] as const).map(([channels, scans]) => ({ name: `JPEG ${SIDE}x${SIDE}, ${channels} channel(s), ${scans} scans`, bytes: scanBomb({ width: SIDE, height: SIDE, channels, scans }), code: "IMAGE_TOO_COMPLEX" as const })),
  { name: "JPEG 640x480, 3 channels, 150 scans", bytes: scanBomb({ width: 640, height: 480, channels: 3, scans: 150 }), code: "IMAGE_TOO_COMPLEX" },
  { name: "PNG with 3 zTXt chunks of 8 MB", bytes: pngTextBomb(3, 8_000_000), code: "IMAGE_TOO_COMPLEX" },
  { name: "PNG with 3 compressed iTXt chunks of 8 MB", bytes: pngTextBomb(3, 8_000_000, "iTXt"), code: "IMAGE_TOO_COMPLEX" },
  { name: `GIF of ${MAX_FRAMES + 1} frames`, bytes: gifFrames(MAX_FRAMES + 1), code: "TOO_MANY_FRAMES" },
  { name: "GIF of 200000 frames", bytes: gifFrames(200_000), code: "TOO_MANY_FRAMES" },
  { name: `WebP of ${MAX_FRAMES + 1} frames`, bytes: webpFrames(MAX_FRAMES + 1), code: "TOO_MANY_FRAMES" },
  { name: `TIFF of ${MAX_FRAMES + 1} pages`, bytes: tiffPages(MAX_FRAMES + 1), code: "TOO_MANY_FRAMES" },
];

function refusal(fn: () => void): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    return e;
  }
  assert.fail("not refused");
}

describe("the structural check (pure: no sharp, no I/O)", () => {
  test("every bomb is refused with its code and a message saying what to do; sharp is never called", () => {
    const calls = countSharpCalls();
    try {
      for (const bomb of BOMBS) {
        const format = sniffFormat(bomb.bytes);
        assert.ok(format === "jpeg" || format === "png" || format === "gif" || format === "webp" || format === "tiff", bomb.name);
        const e = refusal(() => checkStructure(bomb.bytes, format, settings.input));
        assert.equal(e.code, bomb.code, bomb.name);
        assert.equal(e.status, 422);
        assert.match(e.message, bomb.code === "TOO_MANY_FRAMES" ? /frames; the limit is 500\. Only the first frame is used/ : /Re-save it/, bomb.name);
      }
      assert.equal(calls.count, 0);
    } finally {
      calls.restore();
    }
  });

  test("every prefix of a real file of each format is either passed on or refused as unreadable: never a crash of the walk", () => {
    // A truncated TIFF header once read its first directory's offset past the end (a RangeError, a 500); found by property.test.ts.
    for (const name of ["sharp_8bit_depth.tiff", "sharp_concert.jpg", "pngsuite_basn6a08.png", "image-rs_interlaced.gif", "sharp_rotating-squares.webp", "libheif_avif32.heif"]) {
      const bytes = loadFixture(name);
      const format = sniffFormat(bytes)!;
      for (let length = 4; length <= Math.min(bytes.length, 600); length++) {
        try {
          checkStructure(bytes.subarray(0, length), format as InputFormat, settings.input);
        } catch (e) {
          assert.ok(e instanceof ApiError && e.status < 500, `${name} cut at ${length}: ${String(e)}`);
        }
      }
    }
  });

  test("the bombs are valid images: small ones decode without a single libjpeg or libpng warning", async () => {
    for (const bytes of [scanBomb({ width: 256, height: 256, channels: 1, scans: 882 }), scanBomb({ width: 256, height: 192, channels: 3, scans: 2646 }), pngTextBomb(3, 100_000), pngTextBomb(3, 100_000, "iTXt")]) {
      const { info } = await sharp(bytes, { failOn: "warning" }).raw().toBuffer({ resolveWithObject: true });
      assert.ok(info.width > 0);
    }
    assert.equal((await sharp(gifFrames(30)).metadata()).pages, 30);
    assert.equal((await sharp(webpFrames(30)).metadata()).pages, 30);
    assert.equal((await sharp(tiffPages(30)).metadata()).pages, 30);
  });

  test(`the limits' edges: ${MAX_JPEG_SCANS} scans, ${MAX_FRAMES} frames and ${MAX_PNG_METADATA_BYTES / 1048576} MiB of metadata pass`, () => {
    const edge = scanBomb({ width: 640, height: 480, channels: 3, scans: MAX_JPEG_SCANS - 1 }); // plus the DC scan
    assert.equal(countJpegScans(edge), MAX_JPEG_SCANS);
    checkStructure(edge, "jpeg", settings.input);
    checkStructure(pngTextBomb(2, 8_000_000), "png", settings.input);
    checkStructure(gifFrames(MAX_FRAMES), "gif", settings.input);
    checkStructure(webpFrames(MAX_FRAMES), "webp", settings.input);
    checkStructure(tiffPages(MAX_FRAMES), "tiff", settings.input);
    assert.equal(refusal(() => checkStructure(gifFrames(11), "gif", { maxFrames: 10 })).code, "TOO_MANY_FRAMES");
    assert.match(refusal(() => checkStructure(tiffPages(MAX_FRAMES + 1), "tiff", settings.input)).message, /^The image has 501 frames; the limit is 500\./);
    assert.match(refusal(() => checkStructure(gifFrames(200_000), "gif", settings.input)).message, /^The image has more than 100000 frames/);
  });

  test("every image the fixture corpora expect to resize passes, and scans inside an EXIF thumbnail do not count", () => {
    for (const f of fixturesIn("valid", "exif").filter((row) => row.expected === "resize")) {
      const bytes = loadFixture(f);
      const format = sniffFormat(bytes);
      if (format === "jpeg" || format === "png" || format === "gif" || format === "webp" || format === "tiff" || format === "avif") checkStructure(bytes, format, settings.input);
    }
    // A progressive thumbnail of 150 scans inside an APP1 segment of a baseline JPEG.
    const outer = loadFixture("sharp_320x240.jpg");
    const thumbnail = scanBomb({ width: 64, height: 64, channels: 1, scans: 150 });
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 0]), Buffer.from("Exif\0\0", "latin1"), thumbnail]);
    app1.writeUInt16BE(app1.length - 2, 2);
    assert.equal(countJpegScans(Buffer.concat([outer.subarray(0, 2), app1, outer.subarray(2)])), 1);
  });

  test(`extreme shapes: more than ${MAX_IMAGE_SIDE} pixels a side is refused, whatever the pixel count`, () => {
    checkDimensions(MAX_IMAGE_SIDE, 610);
    checkDimensions(610, MAX_IMAGE_SIDE);
    for (const [w, h] of [[MAX_IMAGE_SIDE + 1, 1], [1, MAX_IMAGE_SIDE + 1], [40_000_000, 1], [1, 40_000_000]]) {
      const e = refusal(() => checkDimensions(w!, h!));
      assert.equal(e.code, "IMAGE_TOO_COMPLEX");
      assert.match(e.message, new RegExp(`^The image is ${w}x${h}; images wider or taller than 65535 pixels are refused`));
    }
  });

  test("a spent budget starts no pipeline", () => {
    let now = 0;
    const budget = new DecodeBudget(2, () => now);
    now = 2_000;
    const e = refusal(() => void budget.apply(sharp()));
    assert.deepEqual([e.code, e.status], ["DECODE_TIMEOUT", 422]);
    assert.match(e.message, /longer than its 2-second budget/);
  });
});

describe("through the handler, on moto", () => {
  const aws = motoWithS3();
  let bucketCount = 0;

  /** A fresh bucket and an app on it, so every test starts empty. */
  async function app(custom: RuntimeSettings = settings) {
    const bucket = `imgapi-cost-${++bucketCount}`;
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const handler = createApp({ store: new ImageStore(aws.s3, bucket), settings: custom, log: () => {} });
    const keys = async () => ((await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
    return { handler: (event: APIGatewayProxyEvent) => bounded(handler(event)), keys };
  }

  function bounded(answer: Promise<APIGatewayProxyResult>): Promise<APIGatewayProxyResult> {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${HANG_BOUND_MS} ms`)), HANG_BOUND_MS)));
    return Promise.race([answer, hang]).finally(() => clearTimeout(timer));
  }

  const errorOf = (res: APIGatewayProxyResult) => [res.statusCode, responseJson<{ error: { code: string } }>(res).error.code];

  test("POST /images: every bomb is refused with its code before sharp runs, and nothing is stored", async () => {
    const { handler, keys } = await app();
    const calls = countSharpCalls();
    try {
      for (const bomb of BOMBS) {
        assert.deepEqual(errorOf(await handler(uploadEvent(bomb.bytes, { contentType: "image/jpeg" }))), [422, bomb.code], bomb.name);
      }
      assert.equal(calls.count, 0, "no sharp call for any of them");
    } finally {
      calls.restore();
    }
    assert.deepEqual(await keys(), []);
  });

  test("POST /images: extreme shapes within the pixel limit are refused from the header alone, nothing decoded or stored", async () => {
    const { handler, keys } = await app();
    const calls = countSharpCalls();
    try {
      for (const [w, h] of [[40_000_000, 1], [1, 40_000_000], [1_000_000, 40]] as const) {
        const res = await handler(uploadEvent(pngShape(w, h), { contentType: "image/png" }));
        assert.deepEqual(errorOf(res), [422, "IMAGE_TOO_COMPLEX"], `${w}x${h}`);
      }
      assert.equal(calls.decodes, 0, "no pixel decoded");
    } finally {
      calls.restore();
    }
    assert.deepEqual(await keys(), []);
  });

  test("POST /uploads: every bomb PUT through the presigned URL is refused on first use, deleted, and never decoded", async () => {
    const { handler, keys } = await app();
    const calls = countSharpCalls();
    try {
      for (const bomb of BOMBS) {
        const created = await handler(apiEvent({ method: "POST", resource: "/uploads", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ contentType: "image/jpeg", contentLength: bomb.bytes.length }), base64: true }));
        const { id, upload } = responseJson<{ id: string; upload: { url: string } }>(created);
        const put = await fetch(upload.url, { method: "PUT", body: bomb.bytes, headers: { "Content-Type": "image/jpeg" } });
        assert.equal(put.status, 200);
        assert.deepEqual(errorOf(await handler(sizeEvent(id, "thumbnail"))), [422, bomb.code], bomb.name);
        assert.deepEqual(await keys(), [], `${bomb.name}: the refused upload is deleted`);
        assert.deepEqual(errorOf(await handler(sizeEvent(id, "thumbnail"))), [404, "IMAGE_NOT_FOUND"], "and never checked again");
      }
      assert.equal(calls.count, 0, "no sharp call for any of them");
    } finally {
      calls.restore();
    }
  });

  test("a pipeline that outlives input.maxDecodeSeconds answers DECODE_TIMEOUT and stores no variant", async () => {
    // A 10000 px PNG enlarged from 320x240 takes seconds to encode; the budget is 1 s.
    const slow = parseRuntimeSettings({ sizes: { huge: { width: 10_000, enlarge: true, format: "png" } }, input: { maxDecodeSeconds: 1 } });
    const { handler, keys } = await app(slow);
    const posted = await handler(uploadEvent(loadFixture("sharp_320x240.jpg"), { contentType: "image/jpeg" }));
    assert.equal(posted.statusCode, 201, posted.body);
    const { id } = responseJson<{ id: string }>(posted);

    const res = await handler(sizeEvent(id, "huge"));

    assert.deepEqual(errorOf(res), [422, "DECODE_TIMEOUT"]);
    assert.match(responseJson<{ error: { message: string } }>(res).error.message, /longer than its 1-second budget/);
    assert.deepEqual(await keys(), [`originals/${id}`], "no variant stored");
  });
});
