// Which encoder and settings a size is written with, and a short tag of those
// settings stored beside each variant so a changed config regenerates it.
import { createHash } from "node:crypto";
import type { InputFormat, RuntimeSettings, SizeSpec } from "../../config/schema.ts";
import { cropTag, type Crop } from "./crop.ts";
import { FILE_EXTENSIONS, MIME_TYPES } from "./formats.ts";

export type EncodedFormat = "jpeg" | "png" | "webp" | "avif" | "gif";

export interface OutputChoice {
  format: EncodedFormat;
  quality: number;
  contentType: string;
  extension: string;
}

/**
 * "original" keeps the input's format where browsers show it. A GIF becomes a
 * PNG (we keep only the first frame, losslessly) and a TIFF becomes PNG when it
 * has alpha, JPEG otherwise.
 */
export function chooseOutput(
  size: SizeSpec,
  defaults: RuntimeSettings["output"],
  input: { format: InputFormat; hasAlpha: boolean },
): OutputChoice {
  const wanted = size.format ?? defaults.format;
  let format: EncodedFormat;
  // "auto" is negotiated per request (Accept) by the caller; without one it means "original".
  if (wanted !== "original" && wanted !== "auto") format = wanted;
  else if (input.format === "gif") format = "png";
  else if (input.format === "tiff") format = input.hasAlpha ? "png" : "jpeg";
  else format = input.format;
  return {
    format,
    quality: size.quality ?? defaults.quality,
    contentType: MIME_TYPES[format],
    extension: FILE_EXTENSIONS[format],
  };
}

/**
 * Changes whenever anything that shapes a size's output changes: its settings
 * and its crop (a position or the original's focal point). A centre crop adds
 * nothing, so variants made before crops could move keep their tags.
 */
export function specTag(size: SizeSpec, defaults: RuntimeSettings["output"], crop: Crop = "centre"): string {
  const effective: unknown[] = [size.width, size.height ?? null, size.fit ?? null, size.enlarge, size.format ?? defaults.format, size.quality ?? defaults.quality];
  const cropped = cropTag(crop);
  if (cropped !== undefined) effective.push(cropped);
  return createHash("sha256").update(JSON.stringify(effective)).digest("hex").slice(0, 16);
}
