// The pure image core on real-world fixtures: every valid image gives every
// size at the exact promised dimensions, upright and without metadata; every
// invalid file and decompression bomb is refused fast with a stable 4xx code.
// No AWS, no HTTP.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import sharp, { type Sharp } from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings, SizeSpec } from "../config/schema.ts";
import { ApiError, type ErrorCode } from "../function/errors.ts";
import { sniffFormat } from "../function/image/formats.ts";
import { assertDecodes, inspectImage, type InputLimits } from "../function/image/inspect.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { planVariant } from "../function/image/plan.ts";
import { renderVariants, type Variant } from "../function/image/render.ts";
import { fixture, fixturesIn, loadFixture } from "./support/fixtures.ts";

const settings = settingsFromEnv({});
const SIZES = Object.entries(settings.sizes);
configureLibvips(settings.input.formats);

/** The manifest spells AVIF "heif" (the container); the API calls it avif. */
const EXPECTED_FORMAT: Record<string, string> = { jpeg: "jpeg", png: "png", webp: "webp", gif: "gif", tiff: "tiff", heif: "avif" };

/**
 * What each default size must come out as, worked out here from the upright
 * dimensions alone, independently of function/image/plan.ts.
 */
function expectedDimensions(size: string, W: number, H: number): [number, number] {
  switch (size) {
    case "thumbnail": // cover 150x150: the box, shrunk to the image on any side where the image is smaller
      return [Math.min(150, W), Math.min(150, H)];
    case "medium": // 800 wide, proportional, never enlarged
      return W <= 800 ? [W, H] : [800, Math.round((H * 800) / W)];
    case "large":
      return W <= 1600 ? [W, H] : [1600, Math.round((H * 1600) / W)];
    default:
      throw new Error(`no expectation for size ${size}`);
  }
}

async function variantsOf(buf: Buffer, sizes = SIZES, s: RuntimeSettings = settings): Promise<Variant[]> {
  const info = await inspectImage(buf, s.input);
  await assertDecodes(buf, s.input);
  return renderVariants(buf, info, sizes, s);
}

async function rejection(buf: Buffer, limits: InputLimits = settings.input): Promise<ApiError> {
  try {
    await inspectImage(buf, limits);
    await assertDecodes(buf, limits);
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
    return e;
  }
  assert.fail("the image was accepted");
}

/** A 32x32 greyscale thumbnail, to compare pictures whatever their size. */
async function fingerprint(img: Buffer | Sharp): Promise<Buffer> {
  return (Buffer.isBuffer(img) ? sharp(img) : img).flatten({ background: "#ffffff" }).greyscale().resize(32, 32, { fit: "fill" }).raw().toBuffer();
}

/** Mean absolute difference of two fingerprints, 0-255. */
function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

// Measured: a correctly oriented output differs from the reference by < 1.3;
// any wrong rotation or mirror of the same photo by > 20.
const SAME_PICTURE = 5;
const OTHER_PICTURE = 20;

async function medium(name: string): Promise<Variant> {
  const [variant] = await variantsOf(loadFixture(name), [["medium", settings.sizes.medium!]]);
  return variant!;
}

test("the fixtures are byte for byte the files MANIFEST.tsv describes", () => {
  const rows = fixturesIn("valid", "exif", "invalid", "bomb");
  assert.equal(rows.length, 154);
  for (const f of rows) {
    const buf = loadFixture(f);
    assert.equal(buf.length, f.bytes, f.file);
    assert.equal(createHash("sha256").update(buf).digest("hex"), f.sha256, f.file);
  }
});

test("every valid and EXIF-rotated fixture gives every size at the exact dimensions, as WebP", async (t) => {
  const rows = fixturesIn("valid", "exif").filter((f) => f.expected === "resize");
  assert.ok(rows.length >= 100, `only ${rows.length} fixtures to resize`);
  for (const f of rows) {
    await t.test(f.file, async () => {
      const buf = loadFixture(f);
      const W = f.uprightWidth!;
      const H = f.uprightHeight!;
      const info = await inspectImage(buf, settings.input);
      assert.equal(info.format, EXPECTED_FORMAT[f.format], "sniffed format");
      assert.deepEqual([info.width, info.height], [W, H], "upright dimensions");
      assert.equal(info.bytes, f.bytes);
      await assertDecodes(buf, settings.input);
      const variants = await renderVariants(buf, info, SIZES, settings);
      assert.deepEqual(variants.map((v) => v.size), ["thumbnail", "medium", "large"]);
      for (const v of variants) {
        const [width, height] = expectedDimensions(v.size, W, H);
        assert.deepEqual([v.width, v.height], [width, height], `${v.size} reported dimensions`);
        assert.equal(v.contentType, "image/webp");
        assert.equal(v.extension, "webp");
        const out = await sharp(v.data).metadata();
        assert.equal(out.format, "webp", `${v.size} encoded format`);
        assert.deepEqual([out.width, out.height], [width, height], `${v.size} encoded dimensions`);
        assert.ok((out.pages ?? 1) === 1, `${v.size} is a still image`);
      }
    });
  }
});

test("a single size (no shared decode) gives the same dimensions as the batch", async (t) => {
  for (const name of ["recurser_Portrait_6.jpg", "pillow_g4_orientation_5.tif", "sharp_big-height.webp", "pillow_orientation_rectangle.jpg", "sharp_pitm.avif"]) {
    await t.test(name, async () => {
      const f = fixture(name);
      for (const [size, spec] of SIZES) {
        const [v] = await variantsOf(loadFixture(f), [[size, spec]]);
        const out = await sharp(v!.data).metadata();
        assert.deepEqual([out.width, out.height], expectedDimensions(size, f.uprightWidth!, f.uprightHeight!), size);
      }
    });
  }
});

test("every EXIF orientation of the recurser photos comes out upright: same shape, same picture", async (t) => {
  for (const kind of ["Landscape", "Portrait"] as const) {
    const reference = await fingerprint((await medium(`recurser_${kind}_1.jpg`)).data);
    await t.test(`${kind}: a wrongly oriented picture would be told apart`, async () => {
      const ref = (await medium(`recurser_${kind}_1.jpg`)).data;
      const wrong = [sharp(ref).flip(), sharp(ref).flop(), sharp(ref).rotate(90), sharp(ref).rotate(180), sharp(ref).rotate(270)];
      for (const w of wrong) assert.ok(difference(reference, await fingerprint(w)) > OTHER_PICTURE);
    });
    for (let n = 0; n <= 8; n++) {
      const name = `recurser_${kind}_${n}.jpg`;
      await t.test(name, async () => {
        const v = await medium(name);
        const out = await sharp(v.data).metadata();
        assert.deepEqual([out.width, out.height], kind === "Landscape" ? [800, 533] : [800, 1200]);
        const d = difference(reference, await fingerprint(v.data));
        assert.ok(d < SAME_PICTURE, `differs from ${kind}_1 by ${d.toFixed(2)}`);
        // Proves the fixture needs rotating at all (0 and 1 are already upright).
        const stored = difference(reference, await fingerprint(loadFixture(name)));
        if (n >= 2) assert.ok(stored > OTHER_PICTURE, `stored pixels differ by only ${stored.toFixed(2)}`);
      });
    }
  }
});

test("TIFF and WebP orientation samples all come out as the same upright picture", async (t) => {
  const sets = [
    ["pillow_g4_orientation_2.tif", "pillow_g4_orientation_3.tif", "pillow_g4_orientation_5.tif", "pillow_g4_orientation_6.tif", "pillow_g4_orientation_8.tif"],
    ["pillow_hopper_orientation_2.webp", "pillow_hopper_orientation_4.webp", "pillow_hopper_orientation_6.webp", "pillow_hopper_orientation_8.webp"],
  ];
  for (const names of sets) {
    const first = await fingerprint((await medium(names[0]!)).data);
    const firstStored = await fingerprint(loadFixture(names[0]!));
    for (const name of names.slice(1)) {
      await t.test(`${name} matches ${names[0]}`, async () => {
        const f = fixture(name);
        const v = await medium(name);
        assert.deepEqual([v.width, v.height], [f.uprightWidth, f.uprightHeight]);
        const d = difference(first, await fingerprint(v.data));
        assert.ok(d < SAME_PICTURE, `differs by ${d.toFixed(2)}`);
        const stored = difference(firstStored, await fingerprint(loadFixture(name)));
        assert.ok(stored > OTHER_PICTURE, `stored pixels differ by only ${stored.toFixed(2)}`);
      });
    }
  }
  await t.test("pillow_orientation_rectangle.jpg: 2x1 with orientation 8 comes out 1x2", async () => {
    const buf = loadFixture("pillow_orientation_rectangle.jpg");
    const stored = await sharp(buf).metadata();
    assert.deepEqual([stored.width, stored.height, stored.orientation], [2, 1, 8]);
    const variants = await variantsOf(buf);
    for (const v of variants) {
      const out = await sharp(v.data).metadata();
      assert.deepEqual([out.width, out.height], [1, 2], v.size);
    }
  });
});

// What each refusal costs is measured by npm run bench (bench/checks.ts), with
// the machine's load; here only a hang fails, far above any decode budget.
const REFUSAL_HANG_MS = 60_000;

test("every invalid file and bomb is refused with a stable 4xx code", async (t) => {
  const allowed: ErrorCode[] = ["UNSUPPORTED_IMAGE_TYPE", "UNREADABLE_IMAGE", "TOO_MANY_PIXELS", "TOO_MANY_FRAMES", "INVALID_REQUEST"];
  const expected: Record<string, ErrorCode> = {
    "fuzzdb_lottapixel.jpg": "TOO_MANY_PIXELS",
    "sharp_65536-uint32-limit.png": "TOO_MANY_PIXELS",
    "fuzzdb_uber.gif": "TOO_MANY_FRAMES",
    "weserv_giant.svg": "UNSUPPORTED_IMAGE_TYPE",
    "empty.jpg": "INVALID_REQUEST",
  };
  // Formats outside the allow list are refused as such, whatever their name says.
  const unsupported = ["svg", "heif", "heif(heic)", "bmp", "pdf", "psd", "qoi", "ico", "jp2", "text(gimp-palette)"];
  const rows = fixturesIn("invalid", "bomb");
  assert.ok(rows.length >= 50, `only ${rows.length} fixtures to refuse`);
  for (const f of rows) {
    await t.test(f.file, { timeout: REFUSAL_HANG_MS }, async () => {
      const e = await rejection(loadFixture(f));
      assert.ok(e.status >= 400 && e.status < 500, `status ${e.status}`);
      assert.ok(allowed.includes(e.code), `code ${e.code}`);
      const want = expected[f.name] ?? (unsupported.includes(f.format) ? "UNSUPPORTED_IMAGE_TYPE" : undefined);
      if (want !== undefined) assert.equal(e.code, want);
      assert.ok(e.message.length > 10 && !/vips|libpng|tiff2vips|jpeg datastream/i.test(e.message), `message leaks decoder detail: ${e.message}`);
    });
  }
  await t.test("the bombs name what is wrong", async () => {
    assert.match((await rejection(loadFixture("fuzzdb_lottapixel.jpg"))).message, /64250x64250 .*limit is 40000000 pixels/);
    assert.match((await rejection(loadFixture("fuzzdb_uber.gif"))).message, /40000 frames; the limit is 500/);
    assert.match((await rejection(loadFixture("weserv_giant.svg"))).message, /SVG images are not accepted/);
  });
});

test("the format is sniffed from the bytes, never the name", async () => {
  const avif = loadFixture("libheif_avif32.heif");
  assert.equal(sniffFormat(avif), "avif");
  assert.equal((await inspectImage(avif, settings.input)).format, "avif");
  // A HEIC (also ISO-BMFF "ftyp") is not mistaken for AVIF.
  assert.equal(sniffFormat(loadFixture("libheif_rainbow-451x461.heic")), "heic");
  // A JPEG whose name says .png is a JPEG; PNG bytes are refused when only JPEG is allowed.
  assert.equal(sniffFormat(loadFixture("sharp_320x240.jpg")), "jpeg");
  const onlyJpeg = { ...settings.input, formats: ["jpeg" as const] };
  const e = await rejection(loadFixture("sharp_swiss.png"), onlyJpeg);
  assert.equal(e.code, "UNSUPPORTED_IMAGE_TYPE");
  assert.match(e.message, /PNG images are not accepted\. Accepted formats: jpeg\./);
});

test("loaders outside the allow list are blocked inside libvips too", async () => {
  const png = loadFixture("sharp_swiss.png");
  const jpeg = loadFixture("sharp_320x240.jpg");
  const svg = loadFixture("sharp_check.svg");
  try {
    configureLibvips(["jpeg"]);
    await assert.rejects(sharp(png).toBuffer(), /unsupported image format/i);
    assert.equal((await sharp(jpeg).metadata()).format, "jpeg");
    configureLibvips(settings.input.formats);
    assert.equal((await sharp(png).metadata()).format, "png");
    await assert.rejects(sharp(svg).toBuffer(), /unsupported image format/i);
    await assert.rejects(sharp(svg).metadata(), /unsupported image format/i);
  } finally {
    configureLibvips(settings.input.formats);
  }
});

test("metadata is stripped from every output format", async (t) => {
  const formats: Array<[string, SizeSpec]> = (["webp", "jpeg", "png", "avif"] as const).map((format) => [format, { width: 300, format, enlarge: false }]);
  for (const name of ["fuzzdb_POC_phpinfo-metadata.jpg", "sharp_Landscape_9_iptc_xmp.jpg", "sharp_Channel_digital_image_CMYK_color.jpg"]) {
    await t.test(name, async () => {
      const buf = loadFixture(name);
      const input = await sharp(buf).metadata();
      assert.ok(input.exif !== undefined, "the input carries EXIF");
      if (name.includes("iptc_xmp")) assert.ok(input.xmp !== undefined && input.iptc !== undefined && input.icc !== undefined);
      for (const v of await variantsOf(buf, formats)) {
        const out = await sharp(v.data).metadata();
        assert.equal(out.exif, undefined, `${v.size}: EXIF`);
        assert.equal(out.icc, undefined, `${v.size}: ICC`);
        assert.equal(out.xmp, undefined, `${v.size}: XMP`);
        assert.equal(out.iptc, undefined, `${v.size}: IPTC`);
        assert.ok(!v.data.includes("phpinfo"), `${v.size}: the PHP payload survived`);
      }
    });
  }
});

test("CMYK input comes out as 3-channel sRGB", async () => {
  const buf = loadFixture("sharp_Channel_digital_image_CMYK_color.jpg");
  assert.equal((await sharp(buf).metadata()).space, "cmyk");
  // libvips' own CMYK -> sRGB conversion (through the embedded profile) is the reference colour.
  const referencePng = await sharp(buf).toColourspace("srgb").png().toBuffer();
  const referenceMeans = (await sharp(referencePng).stats()).channels.map((c) => c.mean);
  const both = [...(await variantsOf(buf)), ...(await variantsOf(buf, [["medium", settings.sizes.medium!]]))];
  for (const v of both) {
    const out = await sharp(v.data).metadata();
    assert.equal(out.space, "srgb", v.size);
    assert.equal(out.channels, 3, v.size);
    if (v.size === "thumbnail") continue; // a crop: other colours
    const means = (await sharp(v.data).stats()).channels.map((c) => c.mean);
    means.forEach((m, i) => assert.ok(Math.abs(m - referenceMeans[i]!) < 4, `${v.size} channel ${i}: mean ${m.toFixed(1)}, expected ${referenceMeans[i]!.toFixed(1)}`));
  }
});

test("alpha is kept in WebP and PNG output and flattened onto white for JPEG", async (t) => {
  const sizes = (format: "webp" | "png" | "jpeg"): Array<[string, SizeSpec]> => [
    ["thumbnail", { width: 150, height: 150, fit: "cover", format, enlarge: false }],
    ["medium", { width: 800, format, enlarge: false }],
  ];
  for (const name of ["sharp_blackbug.png", "pillow_avif_transparency.avif"]) {
    await t.test(name, async () => {
      const buf = loadFixture(name);
      for (const format of ["webp", "png"] as const) {
        for (const v of await variantsOf(buf, sizes(format))) {
          const out = await sharp(v.data).metadata();
          assert.equal(out.format, format);
          assert.equal(out.hasAlpha, true, `${format} ${v.size}`);
          const alpha = (await sharp(v.data).stats()).channels[3]!;
          assert.ok(alpha.min < 128, `${format} ${v.size}: no transparent pixel left (min alpha ${alpha.min})`);
        }
      }
      for (const v of await variantsOf(buf, sizes("jpeg"))) {
        const out = await sharp(v.data).metadata();
        assert.deepEqual([out.format, out.channels, out.hasAlpha], ["jpeg", 3, false], v.size);
      }
    });
  }
  await t.test("fully transparent pixels become white, not their hidden colour", async () => {
    // Every pixel is rgb(71,112,76) at alpha 0.
    const buf = loadFixture("sharp_full-transparent.png");
    for (const v of [...(await variantsOf(buf, sizes("jpeg"))), ...(await variantsOf(buf, [["one", { width: 100, format: "jpeg", enlarge: false }]]))]) {
      const { channels } = await sharp(v.data).stats();
      for (const c of channels) assert.ok(c.mean > 250, `${v.size}: mean ${c.mean.toFixed(0)}, expected white`);
    }
  });
});

test("animated GIF and WebP give still outputs of their first frame", async (t) => {
  for (const name of ["sharp_rotating-squares.gif", "sharp_rotating-squares.webp"]) {
    await t.test(name, async () => {
      const buf = loadFixture(name);
      const info = await inspectImage(buf, settings.input);
      assert.ok(info.pages > 1, `the fixture is animated (${info.pages} pages)`);
      const first = await fingerprint(sharp(buf, { page: 0 }));
      const later = await fingerprint(sharp(buf, { page: 5 }));
      assert.ok(difference(first, later) > 5, "frames 0 and 5 differ");
      for (const format of ["webp", "png", "jpeg"] as const) {
        for (const v of await variantsOf(buf, [["still", { width: 80, format, enlarge: false }]])) {
          const out = await sharp(v.data).metadata();
          assert.ok(out.pages === undefined || out.pages === 1, `${format}: ${out.pages} pages`);
          assert.deepEqual([out.width, out.height], [80, 80]);
          if (format !== "jpeg") {
            const d = difference(first, await fingerprint(v.data));
            assert.ok(d < 3, `${format}: differs from frame 0 by ${d.toFixed(2)}`);
          }
        }
      }
    });
  }
});

test("planVariant: hand-worked numbers", () => {
  const thumbnail: SizeSpec = { width: 150, height: 150, fit: "cover", enlarge: false };
  const mediumSize: SizeSpec = { width: 800, enlarge: false };
  const plan = (w: number, h: number, s: SizeSpec) => {
    const p = planVariant({ width: w, height: h }, s);
    return [p.width, p.height];
  };
  assert.deepEqual(plan(320, 240, thumbnail), [150, 150]);
  assert.equal(planVariant({ width: 320, height: 240 }, thumbnail).crop, true);
  assert.deepEqual(plan(320, 240, mediumSize), [320, 240]);
  assert.equal(planVariant({ width: 320, height: 240 }, mediumSize).scale, 1);
  assert.deepEqual(plan(13, 169, thumbnail), [13, 150]);
  assert.deepEqual(plan(100, 80, thumbnail), [100, 80]);
  assert.deepEqual(plan(1800, 1200, mediumSize), [800, 533]);
  assert.deepEqual(plan(1800, 1200, { width: 1600, enlarge: false }), [1600, 1067]);
  assert.deepEqual(plan(4096, 800, mediumSize), [800, 156]); // 156.25
  assert.deepEqual(plan(1, 2, thumbnail), [1, 2]);
  assert.deepEqual(plan(5000, 1, mediumSize), [800, 1]); // never 0 pixels high
  assert.deepEqual(plan(100, 100, { width: 800, enlarge: true }), [800, 800]);
  assert.deepEqual(plan(100, 50, { width: 150, height: 150, fit: "cover", enlarge: true }), [150, 150]);
  assert.deepEqual(plan(2000, 1000, { width: 800, height: 600, fit: "inside", enlarge: false }), [800, 400]);
  assert.deepEqual(plan(1000, 2000, { width: 800, height: 600, fit: "inside", enlarge: false }), [300, 600]);
  // A height without a fit means cover.
  assert.deepEqual(plan(1000, 2000, { width: 800, height: 600, enlarge: false }), [800, 600]);
});

test("renderVariants honours enlarge: true", async () => {
  const buf = await sharp({ create: { width: 100, height: 100, channels: 3, background: "#3366cc" } }).png().toBuffer();
  const [v] = await variantsOf(buf, [["big", { width: 800, enlarge: true }]]);
  assert.deepEqual([(await sharp(v!.data).metadata()).width, (await sharp(v!.data).metadata()).height], [800, 800]);
});

test("byte limit: an upload over input.maxBytes is refused with 413 before any decoding", async () => {
  const jpeg = loadFixture("sharp_320x240.jpg");
  const limits = { ...settings.input, maxBytes: jpeg.length - 1 };
  const e = await rejection(jpeg, limits);
  assert.deepEqual([e.status, e.code], [413, "PAYLOAD_TOO_LARGE"]);
  assert.match(e.message, new RegExp(`the limit is ${jpeg.length - 1} bytes`));
  // Exactly at the limit is fine.
  assert.equal((await inspectImage(jpeg, { ...settings.input, maxBytes: jpeg.length })).width, 320);
  // Garbage over the limit gets 413 too, not "unsupported": the size is checked first.
  const garbage = Buffer.alloc(2048, 0x41);
  const g = await rejection(garbage, { ...settings.input, maxBytes: 1024 });
  assert.deepEqual([g.status, g.code], [413, "PAYLOAD_TOO_LARGE"]);
  assert.equal((await rejection(garbage, settings.input)).code, "UNSUPPORTED_IMAGE_TYPE");
});

test("pixel limit: an image above input.maxPixels is refused with 422 naming its dimensions", async () => {
  const buf = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#808080" } }).png().toBuffer();
  const e = await rejection(buf, { ...settings.input, maxPixels: 50_000 });
  assert.deepEqual([e.status, e.code], [422, "TOO_MANY_PIXELS"]);
  assert.match(e.message, /300x200 \(60000 pixels\); the limit is 50000 pixels/);
  assert.equal((await inspectImage(buf, { ...settings.input, maxPixels: 60_000 })).width, 300);
});

test("frame limit: an animation with more frames than input.maxFrames is refused with 422", async () => {
  const e = await rejection(loadFixture("sharp_rotating-squares.gif"), { ...settings.input, maxFrames: 29 });
  assert.deepEqual([e.status, e.code], [422, "TOO_MANY_FRAMES"]);
  assert.match(e.message, /30 frames; the limit is 29/);
});
