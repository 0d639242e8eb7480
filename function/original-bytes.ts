// An original's bytes, read once and used for everything the request does
// with them: checking an original not checked on its way in, recording a
// direct write's facts, making its sizes from one decode and storing them,
// and only then moving a presigned upload into originals/, so that the move's
// S3 event finds them made. A refused upload or direct write is deleted.
// originals.ts decides when the bytes are read; this module never reads them twice.
import type { RuntimeSettings } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import type { DecodeBudget } from "./image/budget.ts";
import { assertDecodes, budgetOf, checkByteLimit, inspectImage, type ImageInfo } from "./image/inspect.ts";
import { placeholderOf, type Placeholder } from "./image/placeholder.ts";
import { renderImage, type Variant } from "./image/render.ts";
import type { ImageStore, OriginalFacts, OriginalMeta, StoredOriginal, VariantMeta } from "./storage/image-store.ts";
import { originalKey } from "./storage/key-layout.ts";
import { targetsOf, type SizeRequest, type SizeTarget } from "./variants.ts";

/** An original's bytes, checked, with the facts they gave. */
export interface CheckedBytes {
  got: StoredOriginal & { data: Buffer };
  info: ImageInfo;
  /** One budget for checking, decoding and encoding: the request's whole image work. */
  budget: DecodeBudget;
  meta: OriginalMeta;
}

export interface Rendered {
  target: SizeTarget;
  meta: VariantMeta;
  variant: Variant;
}

export interface Made {
  original: OriginalMeta;
  info: ImageInfo;
  rendered: Rendered[];
}

/** A direct write to originals/: neither checked on its way in nor a presigned upload. */
const isDirect = (got: StoredOriginal) => !got.posted && !got.upload;

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

/**
 * Reads the original's bytes (originals/{id}, else uploads/{id}; only the
 * upload with `uploadOnly`) and checks them. A refused upload or direct write
 * is deleted. A direct write is checked again each time (its bytes may have
 * been replaced); its focal point lives in its record, which is read after
 * the check unless the caller read it already (`record`).
 */
export async function readChecked(
  store: ImageStore,
  settings: RuntimeSettings,
  id: string,
  options: { uploadOnly?: boolean; record: OriginalFacts | undefined | "unread" },
): Promise<CheckedBytes> {
  const maxBytes = (posted: boolean) => (posted ? settings.input.maxBytes : settings.uploads.maxBytes);
  const got = options.uploadOnly ? await store.getUpload(id, maxBytes(false)) : await store.getOriginal(id, maxBytes);
  if (got === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
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
  const { record } = options;
  const kept = got.posted ? got.meta : isDirect(got) ? (record === "unread" ? await store.originalRecord(id) : record) : undefined;
  const focus = kept?.focus;
  const placeholder = checked.placeholder ?? kept?.placeholder;
  const { name, owner } = got.meta;
  const meta: OriginalMeta = {
    id, key: originalKey(id), format: info.format, width: info.width, height: info.height, hasAlpha: info.hasAlpha, bytes: info.bytes,
    ...(name === undefined ? {} : { name }), ...(owner === undefined ? {} : { owner }), ...(placeholder === undefined ? {} : { placeholder }), ...(focus === undefined ? {} : { focus }),
  };
  return { got: got as CheckedBytes["got"], info, budget, meta };
}

/**
 * Renders the requested sizes from checked bytes and stores every one;
 * resolves only once all writes succeeded, so a failure leaves nothing
 * claimed. A direct write's facts are recorded first, beside its variants.
 * A presigned upload refused by the decode (past the budget) is deleted;
 * once its sizes are stored it is moved to originals/. An original stored
 * before placeholders gets one from the same decode.
 */
export async function storeSizes(store: ImageStore, settings: RuntimeSettings, bytes: CheckedBytes, requests: readonly SizeRequest[]): Promise<Made> {
  const { got, info, budget, meta: original } = bytes;
  const { id } = original;
  if (isDirect(got)) await store.putOriginalRecord(original);
  const targets = targetsOf(settings, id, requests, original);
  let made: { variants: Variant[]; placeholder?: Placeholder };
  try {
    made = await renderImage(got.data, info, targets.map((t) => [t.size, t.spec] as const), settings, budget, { placeholder: original.placeholder === undefined, focus: original.focus });
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
    await store.rewriteOriginalMetadata(original, got.etag);
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
