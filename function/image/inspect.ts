// First look at an upload: its real format, its structure, upright dimensions
// and frame count, from the header only. Size, structure, pixel and frame
// limits are enforced here, before anything is decoded, so a 4.8 KB "pixel
// flood" or a progressive-JPEG scan bomb costs microseconds.
import sharp from "sharp";
import type { Metadata, SharpOptions } from "sharp";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { DecodeBudget, isTimeout } from "./budget.ts";
import { sniffFormat } from "./formats.ts";
import { toPlaceholderPixels, type PlaceholderPixels } from "./placeholder.ts";
import { checkDimensions, checkStructure } from "./structure.ts";
import type { InputFormat } from "../../config/schema.ts";

export type InputLimits = RuntimeSettings["input"];

export interface ImageInfo {
  format: InputFormat;
  /** Upright dimensions (after EXIF orientation). */
  width: number;
  height: number;
  /** Frames in an animated GIF/WebP (1 for still images). */
  pages: number;
  hasAlpha: boolean;
  bytes: number;
}

/** Options every sharp pipeline over untrusted bytes must use. */
export function decodeOptions(limits: InputLimits): SharpOptions {
  // failOn "warning": truncated or corrupt data is refused instead of producing
  // a half-grey image; every valid fixture decodes cleanly under it.
  return { limitInputPixels: limits.maxPixels, failOn: "warning" };
}

export function describeLimit(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

export function checkByteLimit(bytes: number, limits: InputLimits): void {
  if (bytes > limits.maxBytes) {
    throw new ApiError(
      "PAYLOAD_TOO_LARGE",
      `The image is ${bytes} bytes; the limit is ${describeLimit(limits.maxBytes)}. Resize or recompress it before uploading.`,
    );
  }
}

/** A request's decode budget, from the limits. */
export const budgetOf = (limits: InputLimits) => new DecodeBudget(limits.maxDecodeSeconds);

/** A sharp failure in the API's terms; a pipeline the budget stopped is DECODE_TIMEOUT. */
export function unreadable(cause: unknown, budget?: DecodeBudget): ApiError {
  if (isTimeout(cause)) return (budget ?? new DecodeBudget(0)).exceeded(cause);
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (/exceeds pixel limit/i.test(detail)) {
    return new ApiError("TOO_MANY_PIXELS", "The image has more pixels than the configured limit.", { cause });
  }
  if (/unsupported image format/i.test(detail)) {
    return new ApiError("UNSUPPORTED_IMAGE_TYPE", "The image format is not supported.", { cause });
  }
  return new ApiError("UNREADABLE_IMAGE", "The image data is corrupt or truncated and cannot be decoded.", { cause });
}

export async function inspectImage(buf: Buffer, limits: InputLimits): Promise<ImageInfo> {
  if (buf.length === 0) throw new ApiError("INVALID_REQUEST", "The request body is empty: send the image bytes.");
  checkByteLimit(buf.length, limits);
  const sniffed = sniffFormat(buf);
  if (sniffed === undefined || !(limits.formats as readonly string[]).includes(sniffed)) {
    throw new ApiError(
      "UNSUPPORTED_IMAGE_TYPE",
      `${sniffed === undefined ? "The data is not a recognised image" : `${sniffed.toUpperCase()} images are not accepted`}. Accepted formats: ${limits.formats.join(", ")}.`,
    );
  }
  const format = sniffed as InputFormat;
  checkStructure(buf, format, limits);
  let meta: Metadata;
  try {
    // Header only. No pixel limit here, so the error can name the dimensions.
    meta = await sharp(buf, { ...decodeOptions(limits), limitInputPixels: false }).metadata();
  } catch (e) {
    throw unreadable(e);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new ApiError("UNREADABLE_IMAGE", "The image declares no dimensions.");
  if (width * height > limits.maxPixels) {
    throw new ApiError(
      "TOO_MANY_PIXELS",
      `The image is ${width}x${height} (${width * height} pixels); the limit is ${limits.maxPixels} pixels. Downscale it before uploading.`,
    );
  }
  checkDimensions(width, height);
  const pages = meta.pages ?? 1;
  if (pages > limits.maxFrames) {
    throw new ApiError(
      "TOO_MANY_FRAMES",
      `The image has ${pages} frames; the limit is ${limits.maxFrames}. Only the first frame is used, so upload a still image.`,
    );
  }
  return { format, width, height, pages, hasAlpha: meta.hasAlpha ?? false, bytes: buf.length };
}

/**
 * Decodes the whole image once at a small scale to prove it is readable, so a
 * truncated or corrupt file is refused at upload instead of failing later.
 * Shrink-on-load keeps this cheap while every compressed byte is still read.
 * The small upright pixels it decodes to are the placeholder's (placeholder.ts):
 * the placeholder costs no decode of its own.
 */
export async function assertDecodes(buf: Buffer, limits: InputLimits, budget = budgetOf(limits)): Promise<PlaceholderPixels> {
  try {
    const { data, info } = await budget.apply(toPlaceholderPixels(sharp(buf, decodeOptions(limits)).autoOrient())).toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch (e) {
    throw e instanceof ApiError ? e : unreadable(e, budget);
  }
}
