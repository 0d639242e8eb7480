// The fast path may never silently change the output. Every size made from
// the one shared decode (function/image/render.ts) must have exactly the
// dimensions of the naive one-pipeline-per-size output (bench/naive.ts, sized
// by sharp's own options) and be visually equal to it: PSNR >= 38 dB, on the
// raw pixels before the final encode. Real fixtures of each kind, a WebP and a
// photo large enough for the decoders' scaled loading, and a generated
// photo-like JPEG that takes the same shrink-on-load steps as a 24 MP one.
//
// The pixels are compared with the naive pipeline run with fastShrinkOnLoad
// off, i.e. each size resized exactly from the original. With sharp's default
// the naive output of a real photo is itself only about 33 dB from that
// (JPEG DCT scaling by 8 and libwebp's scaler alias: the moire sharp's docs
// warn of), so it cannot be the yardstick; the PSNR against it is printed.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import sharp, { type Sharp } from "sharp";
import { naivePipelines } from "../bench/naive.ts";
import { syntheticPhotoJpeg } from "../bench/synthetic-photo.ts";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { SizeSpec } from "../config/schema.ts";
import { inspectImage } from "../function/image/inspect.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { planJobs, resizeAll } from "../function/image/render.ts";
import { loadFixture } from "./support/fixtures.ts";

const MIN_PSNR_DB = 38;
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

// The default sizes, plus a second crop and a box-bounded size, so the shared
// scale serves crops and fits of several shapes at once.
const SIZES: Array<[string, SizeSpec]> = [
  ...Object.entries(settings.sizes),
  ["banner", { width: 480, height: 240, fit: "cover", enlarge: false }],
  ["box", { width: 300, height: 300, fit: "inside", enlarge: false }],
];

interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** 8-bit sRGB pixels, so a grey or CMYK input compares channel for channel. */
async function pixels(p: Sharp): Promise<Pixels> {
  const { data, info } = await p.toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * PSNR over every channel. With alpha the colour is weighted by it (premultiplied),
 * as it is seen: the hidden colour of a transparent pixel is no difference.
 */
function psnr(a: Pixels, b: Pixels): number {
  const alpha = a.channels === 4 ? 3 : a.channels === 2 ? 1 : -1;
  let sum = 0;
  for (let px = 0; px < a.data.length; px += a.channels) {
    for (let c = 0; c < a.channels; c++) {
      let x = a.data[px + c]!;
      let y = b.data[px + c]!;
      if (alpha >= 0 && c !== alpha) {
        x = (x * a.data[px + alpha]!) / 255;
        y = (y * b.data[px + alpha]!) / 255;
      }
      sum += (x - y) ** 2;
    }
  }
  const mse = sum / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

const PHOTO = "sharp_2569067123_aca715a2ee_o.jpg";
const generated = new Map<string, Buffer>();

before(async () => {
  // 4800x3200 takes the same JPEG shrink-on-load steps as 6000x4000 for these
  // sizes (1/2 for the shared decode; 1/4 and 1/8 in the naive pipelines).
  generated.set("jpeg", await syntheticPhotoJpeg({ width: 4800, height: 3200 }));
  // A WebP wider than the largest size, so its decode is scaled by libwebp.
  generated.set("webp", await sharp(loadFixture(PHOTO)).webp({ quality: 90 }).toBuffer());
});

const inputs: Array<[string, () => Buffer]> = [
  ["JPEG photo, 2725x2225", () => loadFixture(PHOTO)],
  ["PNG with alpha, 2048x1536", () => loadFixture("sharp_blackbug.png")],
  ["EXIF-rotated JPEG (orientation 6)", () => loadFixture("recurser_Portrait_6.jpg")],
  ["lossy WebP photo, 1024x772", () => loadFixture("sharp_4.webp")],
  ["lossy WebP with alpha", () => loadFixture("sharp_5_webp_a.webp")],
  ["WebP photo, 2725x2225 (scaled decode)", () => generated.get("webp")!],
  ["CMYK JPEG", () => loadFixture("sharp_Channel_digital_image_CMYK_color.jpg")],
  ["greyscale JPEG", () => loadFixture("sharp_gamma_dalai_lama_gray.jpg")],
  ["generated photo-like JPEG, 4800x3200", () => generated.get("jpeg")!],
];

test("every size from the shared decode has the naive pipeline's dimensions and PSNR >= 38 dB against it", async (t) => {
  for (const [name, load] of inputs) {
    await t.test(name, async () => {
      const buf = load();
      const info = await inspectImage(buf, settings.input);
      const jobs = planJobs(info, SIZES, settings.output);

      const fast = await resizeAll(buf, info, jobs, settings.input);
      const exact = naivePipelines(buf, SIZES, settings.input, { fastShrinkOnLoad: false });
      const sharpDefault = naivePipelines(buf, SIZES, settings.input);

      const report: string[] = [];
      for (const [i, { job, pipeline }] of fast.entries()) {
        const [got, want, usual] = await Promise.all([pixels(pipeline), pixels(exact[i]!), pixels(sharpDefault[i]!)]);
        const planned = [job.plan.width, job.plan.height];
        assert.deepEqual([got.width, got.height], planned, `${job.name}: the shared path's dimensions`);
        assert.deepEqual([want.width, want.height], planned, `${job.name}: the naive pipeline's dimensions`);
        assert.deepEqual([usual.width, usual.height], planned, `${job.name}: the naive pipeline's dimensions with sharp's defaults`);
        assert.equal(got.channels, want.channels, `${job.name}: channels`);
        const db = psnr(got, want);
        report.push(`${job.name} ${got.width}x${got.height}: ${db.toFixed(1)} dB (${psnr(got, usual).toFixed(1)} against sharp's default)`);
        assert.ok(db >= MIN_PSNR_DB, `${job.name}: PSNR ${db.toFixed(2)} dB against the naive pipeline, below ${MIN_PSNR_DB}`);
      }
      t.diagnostic(`${name}: ${report.join("; ")}`);
    });
  }
});

test("a size made alone (no shared decode) meets the same bar", async (t) => {
  for (const [name, load] of [inputs[0]!, inputs.at(-1)!]) {
    await t.test(name, async () => {
      const buf = load();
      const info = await inspectImage(buf, settings.input);
      const report: string[] = [];
      for (const size of SIZES) {
        const [only] = await resizeAll(buf, info, planJobs(info, [size], settings.output), settings.input);
        const got = await pixels(only!.pipeline);
        const want = await pixels(naivePipelines(buf, [size], settings.input, { fastShrinkOnLoad: false })[0]!);
        assert.deepEqual([got.width, got.height], [want.width, want.height], size[0]);
        const db = psnr(got, want);
        report.push(`${size[0]}: ${db.toFixed(1)} dB`);
        assert.ok(db >= MIN_PSNR_DB, `${size[0]}: PSNR ${db.toFixed(2)} dB`);
      }
      t.diagnostic(`${name}: ${report.join("; ")}`);
    });
  }
});

test("the 38 dB bar catches the same picture shifted by one pixel", async () => {
  const buf = loadFixture(PHOTO);
  const a = await pixels(sharp(buf).resize(800, 653, { fit: "fill" }));
  const b = await pixels(sharp(buf).resize(801, 653, { fit: "fill" }).extract({ left: 1, top: 0, width: 800, height: 653 }));
  const db = psnr(a, b);
  assert.ok(db < MIN_PSNR_DB, `a picture shifted by one pixel scored ${db.toFixed(1)} dB`);
  assert.equal(psnr(a, a), Infinity);
});
