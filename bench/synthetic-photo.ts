// A deterministic photo-like JPEG of any size: smooth gradients, blurred
// shapes at several scales and per-pixel grain, all from a seeded generator.
// A flat or purely synthetic test card would decode unrealistically fast; this
// has the mix of smooth areas and fine texture that makes a camera JPEG's
// entropy decoding cost what it does, and the same bytes on every run.
import sharp from "sharp";
import { mulberry32 } from "../test/support/seeded-random.ts";

/** Coloured value noise: a small random RGB image upscaled smoothly to the full size. */
async function octave(rand: () => number, cells: number, width: number, height: number, blur: number): Promise<Buffer> {
  const w = Math.max(2, cells);
  const h = Math.max(2, Math.round((cells * height) / width));
  const seed = Buffer.alloc(w * h * 3);
  for (let i = 0; i < seed.length; i++) seed[i] = Math.floor(rand() * 256);
  let p = sharp(seed, { raw: { width: w, height: h, channels: 3 } }).resize(width, height, { fit: "fill", kernel: "cubic" });
  if (blur > 0) p = p.blur(blur);
  return p.raw().toBuffer();
}

export interface SyntheticPhotoOptions {
  width: number;
  height: number;
  seed?: number;
  quality?: number;
}

/** The raw RGB pixels (before JPEG encoding) of the synthetic photo. */
export async function syntheticPixels({ width, height, seed = 24 }: SyntheticPhotoOptions): Promise<Buffer> {
  const rand = mulberry32(seed);
  // Large soft shapes, mid-size detail, and small texture; weights add to 1.
  const coarse = await octave(rand, 12, width, height, 0);
  const middle = await octave(rand, 120, width, height, 0);
  const fine = await octave(rand, Math.round(width / 8), width, height, 0);
  const out = Buffer.alloc(width * height * 3);
  const horizon = Math.round(height * (0.5 + 0.2 * rand()));
  let i = 0;
  for (let y = 0; y < height; y++) {
    // A bright sky gradient above a darker, more textured ground: one hard edge across the frame.
    const above = y < horizon;
    const base = above ? 120 + (120 * (horizon - y)) / horizon : 40 + (50 * (y - horizon)) / (height - horizon);
    const detail = above ? 0.5 : 1.4;
    for (let x = 0; x < width; x++) {
      const grain = (rand() - 0.5) * 14;
      for (let c = 0; c < 3; c++, i++) {
        const texture = detail * (0.4 * (coarse[i]! - 128) + 0.25 * (middle[i]! - 128) + 0.15 * (fine[i]! - 128));
        const v = base + texture + grain + (above ? (c - 1) * 12 : (1 - c) * 10);
        out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  discs(out, width, height, rand);
  return out;
}

/** A few hard-edged, shaded discs: the sharp outlines real subjects have. */
function discs(out: Buffer, width: number, height: number, rand: () => number): void {
  for (let n = 0; n < 14; n++) {
    const r = (0.03 + 0.1 * rand()) * Math.min(width, height);
    const cx = rand() * width;
    const cy = rand() * height;
    const colour = [rand() * 255, rand() * 255, rand() * 255];
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(height, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(width, Math.ceil(cx + r)); x++) {
        const d = Math.hypot(x - cx, y - cy) / r;
        if (d > 1) continue;
        const shade = 1 - 0.5 * d * d;
        const i = (y * width + x) * 3;
        // Keep a little of what is behind, so the disc carries the texture too.
        for (let c = 0; c < 3; c++) out[i + c] = Math.min(255, 0.75 * colour[c]! * shade + 0.25 * out[i + c]!);
      }
    }
  }
}

/** The synthetic photo as a baseline JPEG, like a camera's (4:2:0, quality 85 by default). */
export async function syntheticPhotoJpeg(options: SyntheticPhotoOptions): Promise<Buffer> {
  const { width, height, quality = 85 } = options;
  const pixels = await syntheticPixels(options);
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality, mozjpeg: false, chromaSubsampling: "4:2:0" }).toBuffer();
}
