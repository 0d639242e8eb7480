// Making sure a stored image's sizes exist: find what is missing (or made with
// other settings), render it from one decode of the original, store it, and
// only then report it. Nothing is reported as stored before S3 said so.
import type { RuntimeSettings, SizeSpec } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import { inspectImage, type ImageInfo } from "./image/inspect.ts";
import { chooseOutput, specTag } from "./image/output.ts";
import { renderVariants, type Variant } from "./image/render.ts";
import { variantKey, type ImageStore, type OriginalMeta, type VariantMeta } from "./storage/image-store.ts";

export interface SizeTarget {
  size: string;
  spec: SizeSpec;
  key: string;
  tag: string;
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

/** Whether a size's key can be known without reading the original's format. */
export function needsOriginalFormat(settings: RuntimeSettings, size: string): boolean {
  return (settings.sizes[size]!.format ?? settings.output.format) === "original";
}

export function targetOf(settings: RuntimeSettings, id: string, size: string, original?: Pick<OriginalMeta, "format"> & { hasAlpha?: boolean }): SizeTarget {
  const spec = settings.sizes[size]!;
  const output = chooseOutput(spec, settings.output, { format: original?.format ?? "jpeg", hasAlpha: original?.hasAlpha ?? false });
  return { size, spec, key: variantKey(id, size, output.extension), tag: specTag(spec, settings.output) };
}

export interface Rendered {
  target: SizeTarget;
  meta: VariantMeta;
  variant: Variant;
}

/**
 * Renders the given sizes from the original and stores every one; resolves
 * only once all writes succeeded, so a failure leaves nothing claimed.
 */
export async function renderAndStore(
  store: ImageStore,
  settings: RuntimeSettings,
  id: string,
  sizes: string[],
): Promise<{ original: OriginalMeta; info: ImageInfo; rendered: Rendered[] }> {
  const got = await store.getOriginal(id);
  if (got === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
  // The stored original is checked again: it may not have come through POST.
  const info = await inspectImage(got.data, settings.input);
  const targets = sizes.map((size) => targetOf(settings, id, size, info));
  const variants = await renderVariants(
    got.data,
    info,
    targets.map((t) => [t.size, t.spec] as const),
    settings,
  );
  const rendered = await Promise.all(
    targets.map(async (target, i) => {
      const variant = variants[i]!;
      return { target, variant, meta: await store.putVariant(target.key, variant, target.tag) };
    }),
  );
  return { original: got.meta, info, rendered };
}
