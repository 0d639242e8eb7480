// A placeholder a page shows before the image loads: a ThumbHash
// (https://evanw.github.io/thumbhash/, about 25 bytes for a blurred preview
// with its colours and alpha), the dominant colour and the aspect ratio. Made
// from pixels of a decode that happens anyway: the small decode that checks an
// upload, or the shared intermediate all sizes are resized from. Never a
// decode of its own.
import type { Sharp } from "sharp";
import { rgbaToThumbHash } from "thumbhash";

/** ThumbHash takes at most 100x100 pixels: more costs time and changes nothing. */
export const PLACEHOLDER_SIDE = 100;

export interface Placeholder {
  /** The ThumbHash, base64. */
  thumbhash: string;
  /** The dominant colour, #rrggbb. */
  color: string;
}

/** Upright sRGB pixels, 4 channels (RGBA, 8 bits), at most PLACEHOLDER_SIDE a side. */
export interface PlaceholderPixels {
  data: Buffer;
  width: number;
  height: number;
}

/** The last steps of a pipeline whose output is placeholder pixels (upright, sRGB, RGBA, 8 bits, at most 100x100). */
export function toPlaceholderPixels(pipeline: Sharp): Sharp {
  return pipeline
    .resize(PLACEHOLDER_SIDE, PLACEHOLDER_SIDE, { fit: "inside" })
    .toColourspace("srgb")
    .ensureAlpha()
    .raw({ depth: "uchar" });
}

const hex = (n: number) => Math.round(Math.min(255, Math.max(0, n))).toString(16).padStart(2, "0");

/**
 * The most common colour, as libvips' stats() finds it: pixels counted in
 * 16x16x16 bins (4 bits a channel) weighted by their alpha, and the winning
 * bin's mean. A fully transparent image has the mean of its colours.
 */
export function dominantColour({ data, width, height }: PlaceholderPixels): string {
  const weight = new Float64Array(4096);
  const sums = new Float64Array(4096 * 3);
  for (let i = 0; i < width * height * 4; i += 4) {
    const bin = ((data[i]! >> 4) << 8) | ((data[i + 1]! >> 4) << 4) | (data[i + 2]! >> 4);
    const a = data[i + 3]! / 255;
    weight[bin]! += a;
    sums[bin * 3]! += a * data[i]!;
    sums[bin * 3 + 1]! += a * data[i + 1]!;
    sums[bin * 3 + 2]! += a * data[i + 2]!;
  }
  let best = 0;
  for (let b = 1; b < 4096; b++) if (weight[b]! > weight[best]!) best = b;
  if (weight[best] === 0) {
    const mean = [0, 1, 2].map((c) => {
      let sum = 0;
      for (let i = c; i < data.length; i += 4) sum += data[i]!;
      return sum / (width * height);
    });
    return `#${mean.map(hex).join("")}`;
  }
  return `#${[0, 1, 2].map((c) => hex(sums[best * 3 + c]! / weight[best]!)).join("")}`;
}

export function placeholderOf(pixels: PlaceholderPixels): Placeholder {
  const hash = rgbaToThumbHash(pixels.width, pixels.height, pixels.data);
  return { thumbhash: Buffer.from(hash).toString("base64"), color: dominantColour(pixels) };
}

/** Width divided by height of the upright image, to 4 decimals: what a page sizes the placeholder's box with. */
export const aspectRatioOf = (width: number, height: number) => Math.round((width / height) * 10_000) / 10_000;

const THUMBHASH = /^[A-Za-z0-9+/]{5,64}={0,2}$/;
const COLOUR = /^#[0-9a-f]{6}$/;

/** A placeholder read back from storage, or undefined when it is absent or malformed (then made again). */
export function readPlaceholder(thumbhash: unknown, color: unknown): Placeholder | undefined {
  if (typeof thumbhash !== "string" || typeof color !== "string" || !THUMBHASH.test(thumbhash) || !COLOUR.test(color)) return undefined;
  return { thumbhash, color };
}
