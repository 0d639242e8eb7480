// The exact output dimensions of a size, from the upright original's
// dimensions alone. Computed here, not left to sharp, so the API can promise
// them and tests can check them.
import type { SizeSpec } from "../../config/schema.ts";

export interface Dimensions {
  width: number;
  height: number;
}

export interface VariantPlan extends Dimensions {
  /** How much the original is scaled before any crop (1 = untouched). */
  scale: number;
  /** True when the output is a crop of the scaled image (fit "cover"). */
  crop: boolean;
  /** The whole image scaled, before a crop (undefined: the output's own size, no crop). */
  scaled?: Dimensions;
}

export function fitOf(size: SizeSpec): "cover" | "inside" {
  return size.fit ?? (size.height === undefined ? "inside" : "cover");
}

export function planVariant(original: Dimensions, size: SizeSpec): VariantPlan {
  const { width: W, height: H } = original;
  const fit = fitOf(size);
  if (fit === "cover" && size.height !== undefined) {
    let scale = Math.max(size.width / W, size.height / H);
    if (!size.enlarge) scale = Math.min(scale, 1);
    const scaledW = Math.max(1, Math.round(W * scale));
    const scaledH = Math.max(1, Math.round(H * scale));
    // A box larger than the (unenlarged) image shrinks to the image.
    const width = Math.min(size.width, scaledW);
    const height = Math.min(size.height, scaledH);
    return { width, height, scale, crop: width !== scaledW || height !== scaledH, scaled: { width: scaledW, height: scaledH } };
  }
  let scale = Math.min(size.width / W, size.height === undefined ? Infinity : size.height / H);
  if (!size.enlarge) scale = Math.min(scale, 1);
  const width = Math.max(1, Math.round(W * scale));
  const height = Math.max(1, Math.round(H * scale));
  return { width, height, scale, crop: false, scaled: { width, height } };
}
