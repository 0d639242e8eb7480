// What a stored image's sizes are: each size's object key and settings tag
// (from the original's format, alpha and focal point), the format an "auto"
// size is negotiated to from the Accept header, and the id and size checks.
// Making and storing them is original-bytes.ts's work.
import type { OutputFormat, RuntimeSettings, SizeSpec } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import { cropOf, type Focus } from "./image/crop.ts";
import { chooseOutput, specTag } from "./image/output.ts";
import type { OriginalMeta } from "./storage/image-store.ts";
import { variantKey } from "./storage/key-layout.ts";

export interface SizeTarget {
  size: string;
  /** The size's spec with "auto" resolved to the format this request gets. */
  spec: SizeSpec;
  key: string;
  tag: string;
}

/** One size to make, for a request with this Accept header ("auto" sizes depend on it). */
export interface SizeRequest {
  size: string;
  accept?: string | undefined;
}

export const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function checkId(id: string | undefined): string {
  if (id === undefined || !ID_PATTERN.test(id)) {
    throw new ApiError("INVALID_ID", "The image id is not valid: use the id returned by POST /images.");
  }
  return id;
}

export function checkSize(settings: RuntimeSettings, size: string | undefined): string {
  if (size === undefined || !Object.hasOwn(settings.sizes, size)) {
    const shown = size === undefined ? "" : `"${size.length > 40 ? `${size.slice(0, 40)}...` : size}" `;
    throw new ApiError("UNKNOWN_SIZE", `Unknown size ${shown}. Valid sizes: ${Object.keys(settings.sizes).join(", ")}.`);
  }
  return size;
}

const formatOf = (settings: RuntimeSettings, size: string) => settings.sizes[size]!.format ?? settings.output.format;

/** Whether a size is negotiated per request (answers then carry Vary: Accept). */
export const isAuto = (settings: RuntimeSettings, size: string) => formatOf(settings, size) === "auto";

export const hasAutoSizes = (settings: RuntimeSettings) => Object.keys(settings.sizes).some((size) => isAuto(settings, size));

/**
 * What an "auto" size is made as: AVIF when the Accept header lists
 * image/avif, else WebP when it lists image/webp, else undefined (the
 * original's format). Wildcards do not count: curl's "*∕*" gets the original's
 * format, and a type refused with q=0 is not accepted.
 */
export function negotiateFormat(accept: string | undefined): "avif" | "webp" | undefined {
  const accepted = new Set<string>();
  for (const range of (accept ?? "").split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    if (q === undefined || Number(q.slice(2)) > 0) accepted.add(type);
  }
  if (accepted.has("image/avif")) return "avif";
  if (accepted.has("image/webp")) return "webp";
  return undefined;
}

/** Whether a size's key can only be known from the original's format. */
export function needsOriginalFormat(settings: RuntimeSettings, size: string, accept?: string): boolean {
  const format = formatOf(settings, size);
  return format === "original" || (format === "auto" && negotiateFormat(accept) === undefined);
}

/** What a size's key and tag depend on: the original's format and alpha, and its focal point. */
type TargetFacts = Pick<OriginalMeta, "format"> & { hasAlpha?: boolean; focus?: Focus | undefined };

function resolveSpec(settings: RuntimeSettings, size: string, original: TargetFacts, accept: string | undefined): SizeSpec {
  const spec = settings.sizes[size]!;
  if (formatOf(settings, size) !== "auto") return spec;
  // "original" never encodes GIF (a GIF becomes PNG), so this is an output format.
  const format = negotiateFormat(accept) ?? (chooseOutput({ ...spec, format: "original" }, settings.output, { hasAlpha: false, ...original }).format as OutputFormat);
  return { ...spec, format };
}

export function targetOf(settings: RuntimeSettings, id: string, size: string, original?: TargetFacts, accept?: string): SizeTarget {
  const facts = { format: original?.format ?? "jpeg", hasAlpha: original?.hasAlpha ?? false };
  const spec = resolveSpec(settings, size, facts, accept);
  const output = chooseOutput(spec, settings.output, facts);
  return { size, spec, key: variantKey(id, size, output.extension), tag: specTag(spec, settings.output, cropOf(spec, original?.focus)) };
}

/** Whether a size may be cropped, so its tag depends on the original's focal point. */
export const isCover = (settings: RuntimeSettings, size: string) => cropOf(settings.sizes[size]!, { x: 0, y: 0 }) !== "centre";

/** The distinct objects a set of requests makes (an "auto" size for a WebP original is the WebP size). */
export function targetsOf(settings: RuntimeSettings, id: string, requests: readonly SizeRequest[], info: TargetFacts): SizeTarget[] {
  return [...new Map(requests.map((r) => targetOf(settings, id, r.size, info, r.accept)).map((t) => [t.key, t])).values()];
}
