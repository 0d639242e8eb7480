// Which part of the image a cover crop keeps: a focal point stored with the
// original (POST /images?focus=x,y, PUT /images/{id}/focus) wins for every
// cover size; otherwise the size's position: the centre, or libvips'
// "attention" or "entropy" strategy. A size that is not cropped ignores both.
import sharp, { type Region, type Sharp } from "sharp";
import type { CropPosition, SizeSpec } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { fitOf, type VariantPlan } from "./plan.ts";

/** A point of the upright image, in relative coordinates: 0,0 its top left corner, 1,1 its bottom right. */
export interface Focus {
  x: number;
  y: number;
}

export type Crop = CropPosition | Focus;

/** How a size is cropped, for an original with this focal point (or none). */
export function cropOf(size: SizeSpec, focus: Focus | undefined): Crop {
  if (fitOf(size) !== "cover" || size.height === undefined) return "centre";
  return focus ?? size.position ?? "centre";
}

/** What of the crop changes a cover size's bytes, for its settings tag; undefined for the centre (tags made before crops existed stay valid). */
export function cropTag(crop: Crop): string | undefined {
  if (crop === "centre") return undefined;
  return typeof crop === "string" ? crop : `focus:${formatFocus(crop)}`;
}

/**
 * The box of the scaled image that keeps the focal point in frame: centred on
 * it, then moved inside the image, so the point stays in the crop and as near
 * its middle as the edges allow.
 */
export function focusRegion(plan: VariantPlan, focus: Focus): Region {
  const { width, height } = plan;
  const scaled = plan.scaled ?? { width, height };
  const left = Math.round(focus.x * scaled.width - width / 2);
  const top = Math.round(focus.y * scaled.height - height / 2);
  return { left: Math.min(Math.max(0, left), scaled.width - width), top: Math.min(Math.max(0, top), scaled.height - height), width, height };
}

/**
 * Resizes to the plan with the crop. fastShrinkOnLoad off: decoding straight
 * to a small size (JPEG DCT scaling by 8, libwebp's scaler) costs the moire
 * sharp documents, about 33 dB from the exact resize on a real photo; a size
 * made alone must look as it does in a batch.
 */
export function resizeWithCrop(pipeline: Sharp, plan: VariantPlan, crop: Crop): Sharp {
  // "fill" is exact because the plan keeps the aspect ratio (to a rounding).
  if (!plan.crop) return pipeline.resize(plan.width, plan.height, { fit: "fill", fastShrinkOnLoad: false });
  if (typeof crop === "object" && plan.scaled !== undefined) {
    return pipeline.resize(plan.scaled.width, plan.scaled.height, { fit: "fill", fastShrinkOnLoad: false }).extract(focusRegion(plan, crop));
  }
  const position = typeof crop === "object" || crop === "centre" ? "centre" : sharp.strategy[crop];
  return pipeline.resize(plan.width, plan.height, { fit: "cover", position, fastShrinkOnLoad: false });
}

/** 4 decimals: a ten-thousandth of the image, below a pixel up to 10,000 pixels a side. */
export const formatFocus = (f: Focus) => `${f.x.toFixed(4)},${f.y.toFixed(4)}`;

const COORDINATE = /^(0(\.[0-9]{1,12})?|1(\.0{1,12})?|\.[0-9]{1,12})$/;

function coordinate(value: unknown, name: string, received: string): number {
  const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== "string" || !COORDINATE.test(text)) {
    throw new ApiError("INVALID_REQUEST", `Expected a number from 0 to 1 for focus ${name} (relative to the upright image: 0 left or top, 1 right or bottom) but received ${received}.`);
  }
  return Math.round(Number(text) * 10_000) / 10_000;
}

const shown = (v: unknown) => (typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : `${JSON.stringify(v) ?? "nothing"} of type ${typeof v}`);

/** "x,y" as in POST /images?focus=0.3,0.6. */
export function parseFocusText(text: string): Focus {
  const parts = text.split(",");
  if (parts.length !== 2) throw new ApiError("INVALID_REQUEST", `Expected focus as x,y (two numbers from 0 to 1, e.g. focus=0.3,0.6) but received ${shown(text)}.`);
  return { x: coordinate(parts[0]!.trim(), "x", shown(parts[0])), y: coordinate(parts[1]!.trim(), "y", shown(parts[1])) };
}

/** {"x": 0.3, "y": 0.6}, as PUT /images/{id}/focus takes it. */
export function parseFocusObject(doc: unknown): Focus {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ApiError("INVALID_REQUEST", `Expected a JSON object {"x": 0.3, "y": 0.6} but received ${shown(doc)}.`);
  }
  const unknown = Object.keys(doc).filter((k) => k !== "x" && k !== "y");
  if (unknown.length > 0) throw new ApiError("INVALID_REQUEST", `Unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}: expected only "x" and "y".`);
  const { x, y } = doc as { x?: unknown; y?: unknown };
  return { x: coordinate(x, "x", shown(x)), y: coordinate(y, "y", shown(y)) };
}

/** A focal point read back from storage; undefined when absent or malformed. */
export function readFocus(text: string | undefined): Focus | undefined {
  if (text === undefined) return undefined;
  try {
    return parseFocusText(text);
  } catch {
    return undefined;
  }
}
