// Cover crops that keep what matters: on generated images with one salient
// object off-centre, and on real photos with such an object placed on them,
// "attention" (and "entropy" for detail) and a focal point keep the object in
// the crop where "centre" cuts it. No AWS.
import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { CropPosition, SizeSpec } from "../config/schema.ts";
import { parseRuntimeSettings } from "../config/load.ts";
import type { Focus } from "../function/image/crop.ts";
import { inspectImage } from "../function/image/inspect.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { specTag } from "../function/image/output.ts";
import { renderVariants } from "../function/image/render.ts";
import { loadFixture } from "./support/fixtures.ts";

const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);

const RED = { r: 230, g: 20, b: 30 };

/** Share of the object's pixels (pure red) the output keeps: 1 whole, 0 cut off. */
async function redShare(output: Buffer, expectedPixels: number): Promise<number> {
  const { data, info } = await sharp(output).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let red = 0;
  for (let i = 0; i < info.width * info.height * 3; i += 3) if (data[i]! > 170 && data[i + 1]! < 90 && data[i + 2]! < 90) red++;
  return red / expectedPixels;
}

const disc = (radius: number) =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${radius * 2}" height="${radius * 2}"><circle cx="${radius}" cy="${radius}" r="${radius}" fill="rgb(${RED.r},${RED.g},${RED.b})"/></svg>`);

/** A dull grey field with faint noise, and a red disc centred at (x, y) in relative coordinates. */
async function scene(width: number, height: number, at: Focus, radius: number, base?: Buffer): Promise<Buffer> {
  const background = base ?? (await sharp({ create: { width, height, channels: 3, background: "#7a7d80", noise: { type: "gaussian", mean: 120, sigma: 6 } } }).png().toBuffer());
  const left = Math.round(at.x * width - radius);
  const top = Math.round(at.y * height - radius);
  // The SVG is rendered here by sharp's own librsvg, in the test only: the API blocks SVG input.
  sharp.unblock({ operation: ["VipsForeignLoadSvg"] });
  const overlay = await sharp(disc(radius)).png().toBuffer();
  configureLibvips(settings.input.formats);
  // JPEG: a real photo as PNG would pass the upload limit.
  return sharp(background).resize(width, height, { fit: "fill" }).composite([{ input: overlay, left, top }]).jpeg({ quality: 92 }).toBuffer();
}

async function crop(buf: Buffer, size: SizeSpec, focus?: Focus): Promise<Buffer> {
  const info = await inspectImage(buf, settings.input);
  const [v] = await renderVariants(buf, info, [["crop", size]], settings, undefined, { focus });
  const out = await sharp(v!.data).metadata();
  assert.deepEqual([out.width, out.height], [size.width, size.height]);
  return v!.data;
}

const box = (position?: CropPosition): SizeSpec => ({ width: 300, height: 300, fit: "cover", enlarge: false, format: "png", ...(position === undefined ? {} : { position }) });

test("a red object at the right edge: centre cuts it, attention and a focal point keep it whole", async () => {
  // 1200x600 to 300x300: scaled to 600x300, the centre keeps x from 0.25 to 0.75.
  const buf = await scene(1200, 600, { x: 0.85, y: 0.5 }, 60);
  const area = Math.PI * 30 * 30; // the disc's pixels once scaled by half
  assert.ok((await redShare(await crop(buf, box("centre")), area)) < 0.01, "centre cuts the object off");
  assert.ok((await redShare(await crop(buf, box()), area)) < 0.01, "no position means centre");
  assert.ok((await redShare(await crop(buf, box("attention")), area)) > 0.95, "attention keeps it");
  assert.ok((await redShare(await crop(buf, box(), { x: 0.85, y: 0.5 }), area)) > 0.95, "the focal point keeps it");
  // The focal point wins over the size's own position.
  assert.ok((await redShare(await crop(buf, box("centre"), { x: 0.85, y: 0.5 }), area)) > 0.95);
  // A focal point at the very edge: the crop stops at the edge, the point stays in it.
  assert.ok((await redShare(await crop(buf, box(), { x: 1, y: 0.5 }), area)) > 0.95);
});

test("a detailed patch on a flat field: entropy keeps it, centre cuts it", async () => {
  const flat = await sharp({ create: { width: 600, height: 1200, channels: 3, background: "#506070" } }).png().toBuffer();
  const patch = await sharp({ create: { width: 200, height: 200, channels: 3, background: "#000000", noise: { type: "gaussian", mean: 128, sigma: 80 } } }).png().toBuffer();
  const buf = await sharp(flat).composite([{ input: patch, left: 200, top: 40 }]).png().toBuffer();
  const detail = async (out: Buffer) => (await sharp(out).stats()).channels[0]!.stdev;
  assert.ok((await detail(await crop(buf, box("centre")))) < 5, "the centre of a 1:2 portrait misses a patch near the top");
  // The patch is a ninth of the crop, its noise smoothed by the downscale: a flat crop has none.
  assert.ok((await detail(await crop(buf, box("entropy")))) > 10, "entropy keeps the detail");
});

/** A real photo with a red disc (a radius of 6% of its height) centred at `at`, and the disc's area once scaled to a 300-high box. */
async function photoScene(name: string, at: Focus): Promise<{ buf: Buffer; area: number }> {
  const photo = await sharp(loadFixture(name)).autoOrient().toColourspace("srgb").jpeg({ quality: 92 }).toBuffer();
  const { width, height } = await inspectImage(photo, settings.input);
  const radius = Math.round(height * 0.06);
  return { buf: await scene(width, height, at, radius, photo), area: Math.PI * ((radius * 300) / height) ** 2 };
}

// A narrow portrait box from landscape photos: the centre keeps the middle of the width only.
const PORTRAIT: SizeSpec = { width: 150, height: 300, fit: "cover", enlarge: false, format: "png" };

test("real photos with a red object placed off-centre: attention keeps it where centre cuts it", async (t) => {
  // libvips' attention weighs the photo's own subjects too: on the other photos
  // tried (recurser_Landscape_1, sharp_2569067123, the CMYK channel photo,
  // sharp_Landscape_9) it keeps their subject instead of a disc this small.
  // The focal point below is what keeps a chosen object whatever the photo.
  for (const [name, at] of [
    ["sharp_flowers.jpeg", { x: 0.1, y: 0.5 }],
    ["pillow_sugarshack_bad_mpo_header.jpg", { x: 0.88, y: 0.5 }],
    ["sharp_4.webp", { x: 0.12, y: 0.5 }],
  ] as const) {
    await t.test(name, async () => {
      const { buf, area } = await photoScene(name, at);
      assert.ok((await redShare(await crop(buf, PORTRAIT), area)) < 0.05, "centre cuts it");
      assert.ok((await redShare(await crop(buf, { ...PORTRAIT, position: "attention" }), area)) > 0.9, "attention keeps it");
    });
  }
});

test("real photos: a focal point keeps the object in the crop on every photo, attention or not", async (t) => {
  for (const [name, at] of [
    ["recurser_Landscape_1.jpg", { x: 0.12, y: 0.3 }],
    ["sharp_2569067123_aca715a2ee_o.jpg", { x: 0.88, y: 0.6 }],
    ["sharp_Channel_digital_image_CMYK_color.jpg", { x: 0.9, y: 0.5 }],
    ["sharp_flowers.jpeg", { x: 0.1, y: 0.2 }],
  ] as const) {
    await t.test(name, async () => {
      const { buf, area } = await photoScene(name, at);
      assert.ok((await redShare(await crop(buf, PORTRAIT), area)) < 0.05, "centre cuts it");
      assert.ok((await redShare(await crop(buf, PORTRAIT, at), area)) > 0.9, "the focal point keeps it");
    });
  }
});

test("a size's tag names its crop: another position or focal point remakes it, a centre crop keeps old tags", () => {
  const spec = box();
  const centre = specTag(spec, settings.output);
  assert.equal(specTag(spec, settings.output, "centre"), centre);
  assert.equal(specTag({ ...spec, position: "centre" }, settings.output), centre, "tags of variants made before positions existed stay valid");
  const tags = [centre, specTag(spec, settings.output, "attention"), specTag(spec, settings.output, "entropy"), specTag(spec, settings.output, { x: 0.2, y: 0.5 }), specTag(spec, settings.output, { x: 0.21, y: 0.5 })];
  assert.equal(new Set(tags).size, tags.length);
});

test("position is checked in config: only on a cover crop, one of the strategies", () => {
  const ok = parseRuntimeSettings({ sizes: { a: { width: 10, height: 10, position: "attention" } } });
  assert.equal(ok.sizes.a!.position, "attention");
  assert.throws(() => parseRuntimeSettings({ sizes: { a: { width: 10, position: "attention" } } }), /position only with a cover crop.*for sizes\.a\.position/s);
  assert.throws(() => parseRuntimeSettings({ sizes: { a: { width: 10, height: 10, fit: "inside", position: "entropy" } } }), /sizes\.a\.position/);
  assert.throws(() => parseRuntimeSettings({ sizes: { a: { width: 10, height: 10, position: "north" } } }), /Expected one of "centre", "attention", "entropy" for sizes\.a\.position but received "north"/);
  assert.throws(() => parseRuntimeSettings({ sizes: { a: { width: 10 } }, sizesAt: "later" }), /Expected one of "request", "upload" for sizesAt/);
});
