// Placeholders on the real fixtures, without AWS: the ThumbHash made from the
// decode that checks an upload decodes back to the stated aspect ratio (as
// closely as ThumbHash can store a shape) and to a mean colour close to the
// original's; the colour is the dominant one. And making it costs no decode.
import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from "thumbhash";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { assertDecodes, inspectImage } from "../function/image/inspect.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { aspectRatioOf, dominantColour, placeholderOf } from "../function/image/placeholder.ts";
import { renderImage } from "../function/image/render.ts";
import { countDecodes } from "./support/decode-count.ts";
import { fixture, fixturesIn, loadFixture } from "./support/fixtures.ts";

const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

/**
 * Mean colour tolerance, per channel, out of 255. ThumbHash keeps the average
 * colour in its DC terms (6 bits of luminance, 6 of each chroma axis), and
 * decoding clamps what its few AC terms overshoot. Measured worst over the
 * fixtures: 13.5, a PNG whose 8x32 pixels are one saturated gradient; photos
 * stay under 4.
 */
const MEAN_TOLERANCE = 16;

/** Alpha-weighted mean RGB. */
function meanColour(rgba: ArrayLike<number>): number[] {
  const sum = [0, 0, 0];
  let weight = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]! / 255;
    for (let c = 0; c < 3; c++) sum[c]! += a * rgba[i + c]!;
    weight += a;
  }
  return sum.map((s) => (weight === 0 ? 0 : s / weight));
}

/**
 * How ThumbHash stores a shape (https://evanw.github.io/thumbhash/): as the
 * count of luminance terms along each side, at most 7 (5 when any pixel is
 * transparent), so past 7:1 it says 7:1. Worked out here from the stated
 * ratio alone, independently of the encoder.
 */
function storedShape(aspectRatio: number, transparent: boolean): number {
  const limit = transparent ? 5 : 7;
  const [w, h] = aspectRatio >= 1 ? [1, 1 / aspectRatio] : [aspectRatio, 1];
  const longest = Math.max(w, h);
  return Math.max(1, Math.round((limit * w) / longest)) / Math.max(1, Math.round((limit * h) / longest));
}

test("every valid fixture's placeholder decodes to its stated aspect ratio and a mean colour within 16/255 of the original's", async (t) => {
  const rows = fixturesIn("valid", "exif").filter((f) => f.expected === "resize");
  assert.ok(rows.length >= 100);
  let worst = 0;
  for (const f of rows) {
    await t.test(f.file, async () => {
      const buf = loadFixture(f);
      const info = await inspectImage(buf, settings.input);
      const placeholder = placeholderOf(await assertDecodes(buf, settings.input));
      const aspectRatio = aspectRatioOf(info.width, info.height);
      assert.equal(aspectRatio, Math.round((f.uprightWidth! / f.uprightHeight!) * 10_000) / 10_000, "upright width / height");
      assert.match(placeholder.color, /^#[0-9a-f]{6}$/);
      const hash = Buffer.from(placeholder.thumbhash, "base64");
      assert.ok(hash.length >= 5 && hash.length <= 40, `${hash.length} bytes`);

      // The original's own pixels, decoded apart at another scale.
      const reference = await sharp(buf).autoOrient().resize(256, 256, { fit: "inside" }).toColourspace("srgb").ensureAlpha().raw({ depth: "uchar" }).toBuffer();
      let transparent = false;
      for (let i = 3; i < reference.length; i += 4) if (reference[i]! < 255) transparent = true;
      const shape = storedShape(aspectRatio, transparent);
      assert.ok(Math.abs(thumbHashToApproximateAspectRatio(hash) - shape) < 1e-9, `stored shape ${thumbHashToApproximateAspectRatio(hash)}, expected ${shape} for ${aspectRatio}`);
      const decoded = thumbHashToRGBA(hash);
      // thumbHashToRGBA draws the shape at 32 pixels on its long side: within half a pixel of it.
      const drawn = decoded.w / decoded.h;
      assert.ok(Math.abs(drawn - shape) / shape <= 0.5 / Math.min(decoded.w, decoded.h) + 1e-9, `drawn ${decoded.w}x${decoded.h} for ${shape}`);

      const expected = meanColour(reference);
      const got = meanColour(decoded.rgba);
      const off = Math.max(...expected.map((v, c) => Math.abs(v - got[c]!)));
      worst = Math.max(worst, off);
      assert.ok(off <= MEAN_TOLERANCE, `mean colour ${got.map(Math.round)} vs ${expected.map(Math.round)}: ${off.toFixed(1)} apart`);
    });
  }
  t.diagnostic(`worst mean colour difference: ${worst.toFixed(1)} of 255`);
});

test("the colour is the dominant one, not the mean, and transparent pixels do not count", async () => {
  // 70% red, 30% blue: the mean would be a purple no pixel has.
  const red = { r: 220, g: 30, b: 30 };
  const photo = await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 20, g: 40, b: 200 } } })
    .composite([{ input: { create: { width: 70, height: 100, channels: 3, background: red } }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  assert.equal(placeholderOf(await assertDecodes(photo, settings.input)).color, "#dc1e1e");
  // Mostly transparent green with an opaque orange quarter: orange.
  const pixels = Buffer.alloc(10 * 10 * 4);
  for (let i = 0; i < 100; i++) pixels.set(i % 10 < 5 && i < 50 ? [255, 128, 0, 255] : [0, 255, 0, 10], i * 4);
  assert.equal(dominantColour({ data: pixels, width: 10, height: 10 }), "#ff8000");
});

test("making the placeholder adds no decode: one to check an upload, one for every size and the placeholder", async () => {
  const buf = loadFixture(fixture("sharp_2569067123_aca715a2ee_o.jpg"));
  const info = await inspectImage(buf, settings.input);
  const calls = countDecodes();
  try {
    const pixels = await assertDecodes(buf, settings.input);
    placeholderOf(pixels);
    assert.equal(calls.decodes, 1, "checking the upload and its placeholder: one decode");
    const made = await renderImage(buf, info, Object.entries(settings.sizes), settings, undefined, { placeholder: true });
    assert.equal(made.variants.length, 3);
    assert.ok(made.placeholder !== undefined);
    assert.equal(calls.decodes, 2, "three sizes and the placeholder: one more decode");
    // The sizes and the placeholder are resized from the decoded pixels.
    assert.equal(calls.fromPixels, 4);
  } finally {
    calls.restore();
  }
});
