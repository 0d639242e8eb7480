// Making sure a stored image's sizes exist: find what is missing (or made with
// other settings), render it from one decode of the original, store it, and
// only then report it. Nothing is reported as stored before S3 said so.
import type { OutputFormat, RuntimeSettings, SizeSpec } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import type { DecodeBudget } from "./image/budget.ts";
import { cropOf, type Focus } from "./image/crop.ts";
import { assertDecodes, budgetOf, checkByteLimit, inspectImage, type ImageInfo } from "./image/inspect.ts";
import { chooseOutput, specTag } from "./image/output.ts";
import { placeholderOf, type Placeholder } from "./image/placeholder.ts";
import { renderImage, type Variant } from "./image/render.ts";
import type { ImageStore, OriginalMeta, StoredOriginal, VariantMeta } from "./storage/image-store.ts";
import { originalKey, variantKey } from "./storage/key-layout.ts";

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

export interface Rendered {
  target: SizeTarget;
  meta: VariantMeta;
  variant: Variant;
}

/**
 * Checks an original that was not checked on its way in (a presigned upload,
 * a direct write): the upload byte limit, its structure, limits and a full
 * decode, whose small pixels give its placeholder.
 */
async function checkOriginal(settings: RuntimeSettings, got: StoredOriginal, budget: DecodeBudget): Promise<{ info: ImageInfo; placeholder?: Placeholder }> {
  const limits = got.posted ? settings.input : { ...settings.input, maxBytes: settings.uploads.maxBytes };
  if (got.data === undefined) checkByteLimit(got.meta.bytes, limits);
  const info = await inspectImage(got.data!, limits);
  if (got.posted) return { info };
  return { info, placeholder: placeholderOf(await assertDecodes(got.data!, limits, budget)) };
}

function deleted(e: ApiError): ApiError {
  return new ApiError(e.code, `${e.message} The uploaded object was deleted: upload an accepted image again.`, { cause: e });
}

/** The distinct objects a set of requests makes (an "auto" size for a WebP original is the WebP size). */
function targetsOf(settings: RuntimeSettings, id: string, requests: readonly SizeRequest[], info: TargetFacts): SizeTarget[] {
  return [...new Map(requests.map((r) => targetOf(settings, id, r.size, info, r.accept)).map((t) => [t.key, t])).values()];
}

/** The requests whose variant of this checked original is missing or was made with other settings or another crop, with their targets. */
export async function staleTargets(store: ImageStore, settings: RuntimeSettings, original: OriginalMeta, requests: readonly SizeRequest[]): Promise<Array<{ request: SizeRequest; target: SizeTarget }>> {
  const all = requests.map((request) => ({ request, target: targetOf(settings, original.id, request.size, original, request.accept) }));
  const found = await Promise.all(all.map(async ({ target }) => (await store.headVariant(target.key))?.tag === target.tag));
  return all.filter((_, i) => !found[i]);
}

/**
 * The requests whose variant of a checked original is missing or was made
 * with other settings; undefined when the original is not a checked one.
 */
export async function missingRequests(store: ImageStore, settings: RuntimeSettings, id: string, requests: readonly SizeRequest[]): Promise<SizeRequest[] | undefined> {
  const original = await store.checkedOriginal(id);
  if (original === undefined) return undefined;
  return (await staleTargets(store, settings, original, requests)).map((s) => s.request);
}

/**
 * Renders the requested sizes from the original and stores every one;
 * resolves only once all writes succeeded, so a failure leaves nothing claimed.
 * An original not yet checked is checked first. A presigned upload refused
 * at any step (its check, or a decode past the budget) is deleted; once its
 * sizes are stored it is moved to originals/, so that the event of that move
 * finds them made. A direct write to originals/ refused by its check is
 * deleted; checked, its facts are recorded beside its variants. An original
 * stored before placeholders gets one from the same decode.
 */
export async function renderAndStore(
  store: ImageStore,
  settings: RuntimeSettings,
  id: string,
  requests: readonly SizeRequest[],
  options: { uploadOnly?: boolean; focus?: Focus } = {},
): Promise<{ original: OriginalMeta; info: ImageInfo; rendered: Rendered[] }> {
  const maxBytes = (posted: boolean) => (posted ? settings.input.maxBytes : settings.uploads.maxBytes);
  const got = options.uploadOnly ? await store.getUpload(id, maxBytes(false)) : await store.getOriginal(id, maxBytes);
  if (got === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
  // One budget for checking, decoding and encoding: the request's whole image work.
  const budget = budgetOf(settings.input);
  let checked: { info: ImageInfo; placeholder?: Placeholder };
  try {
    checked = await checkOriginal(settings, got, budget);
  } catch (e) {
    if (got.posted || !(e instanceof ApiError) || !e.expose) throw e;
    await (got.upload ? store.deleteUpload(id) : store.deleteOriginal(id));
    throw deleted(e);
  }
  const { info } = checked;
  const direct = !got.posted && !got.upload;
  // A direct write is checked again each time; its focal point lives in its record.
  const kept = got.posted ? got.meta : direct ? await store.originalRecord(id) : undefined;
  const focus = options.focus ?? kept?.focus;
  const placeholder = checked.placeholder ?? kept?.placeholder;
  const { name, owner } = got.meta;
  const original: OriginalMeta = {
    id, key: originalKey(id), format: info.format, width: info.width, height: info.height, hasAlpha: info.hasAlpha, bytes: info.bytes,
    ...(name === undefined ? {} : { name }), ...(owner === undefined ? {} : { owner }), ...(placeholder === undefined ? {} : { placeholder }), ...(focus === undefined ? {} : { focus }),
  };
  if (direct) await store.putOriginalRecord(original);

  const targets = targetsOf(settings, id, requests, original);
  let made: { variants: Variant[]; placeholder?: Placeholder };
  try {
    made = await renderImage(got.data!, info, targets.map((t) => [t.size, t.spec] as const), settings, budget, { placeholder: placeholder === undefined, focus });
  } catch (e) {
    if (!got.upload || !(e instanceof ApiError) || !e.expose) throw e;
    await store.deleteUpload(id);
    throw deleted(e);
  }
  const { variants } = made;
  const rendered = await Promise.all(targets.map(async (target, i) => ({ target, variant: variants[i]!, meta: await store.putVariant(target.key, variants[i]!, target.tag) })));
  if (made.placeholder !== undefined) {
    // Only an original checked before placeholders existed gets here.
    original.placeholder = made.placeholder;
    await store.writeFacts({ meta: original, source: "metadata", etag: got.etag }, original);
  }
  if (got.upload) {
    try {
      await store.promoteUpload(original, got.etag);
    } catch (e) {
      // Not moved (replaced meanwhile, or S3 failed): its sizes go too, so none is served for bytes not in originals/.
      await store.deleteVariants(rendered.map((r) => r.meta.key)).catch(() => undefined);
      throw e;
    }
  }
  return { original, info, rendered };
}
