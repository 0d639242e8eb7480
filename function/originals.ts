// The original's lifecycle as the actions see it: they only ever ask for a
// checked original. Read from S3 it is Checked (its metadata from POST
// /images or a moved upload, or the record of a direct write checked before)
// or Unchecked (a presigned upload, a direct write never checked). An
// unchecked one is read and checked at once, and its sizes are then made from
// those bytes (original-bytes.ts); a checked one's bytes are read only when a
// size is made, so a listing whose sizes all exist reads no body.
import type { RuntimeSettings } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import { formatFocus, type Focus } from "./image/crop.ts";
import { readChecked, storeSizes, type CheckedBytes, type Made } from "./original-bytes.ts";
import type { ImageStore, OriginalMeta, VariantMeta } from "./storage/image-store.ts";
import { originalKey, variantPrefix } from "./storage/key-layout.ts";
import { decodeName, isChecked, originalMetaOf } from "./storage/object-meta.ts";
import { targetOf, type SizeRequest, type SizeTarget } from "./variants.ts";

export type { Made, Rendered } from "./original-bytes.ts";

interface Checked {
  state: "checked";
  meta: OriginalMeta;
  /** Where its facts are kept, and the ETag of the original they were read with (for rewriting them). */
  source: "metadata" | "record";
  etag: string;
}

interface Unchecked {
  state: "unchecked";
  id: string;
  /** A direct write's record: known absent, or not read yet. */
  record: undefined | "unread";
}

/**
 * The original as stored. With `trust` "metadata" (an ObjectCreated event:
 * the bytes may be new) a direct write's record does not count and is not
 * read, and anything not carrying checked metadata is unchecked.
 */
async function findOriginal(store: ImageStore, id: string, trust: "record" | "metadata"): Promise<Checked | Unchecked | undefined> {
  const key = originalKey(id);
  const head = await store.headOriginal(id);
  if (head !== undefined && isChecked(head.metadata)) return { state: "checked", meta: originalMetaOf(id, key, head.metadata, head.bytes), source: "metadata", etag: head.etag };
  if (trust === "metadata") return { state: "unchecked", id, record: "unread" };
  if (head === undefined) return (await store.headUpload(id)) === undefined ? undefined : { state: "unchecked", id, record: "unread" };
  const record = await store.originalRecord(id);
  if (record === undefined) return { state: "unchecked", id, record: undefined };
  const name = decodeName(head.metadata);
  return { state: "checked", meta: { ...record, id, key, bytes: head.bytes, ...(name === undefined ? {} : { name }) }, source: "record", etag: head.etag };
}

/** A size's variant as stored: up to date, missing, made with other settings or crop, or "new" (the original was checked just now: nothing stored was made from these bytes). */
export type SizeState = "current" | "missing" | "outdated" | "new";

const stateOf = (target: SizeTarget, stored: { tag: string } | undefined): SizeState => (stored === undefined ? "missing" : stored.tag === target.tag ? "current" : "outdated");

export interface SizeCheck {
  request: SizeRequest;
  target: SizeTarget;
  state: SizeState;
  /** The variant, when it is current. */
  stored?: VariantMeta;
}

type StoredVariant = Awaited<ReturnType<ImageStore["getVariant"]>>;

export interface SizeFound {
  target: SizeTarget;
  state: SizeState;
  /** The variant and its bytes, when it is current. */
  stored?: NonNullable<StoredVariant>;
}

/** A variant read for a size, as its target wants it. */
export function sizeFound(target: SizeTarget, read: StoredVariant): SizeFound {
  const state = stateOf(target, read?.meta);
  return { target, state, ...(state === "current" ? { stored: read! } : {}) };
}

export interface CheckedOriginal {
  readonly meta: OriginalMeta;
  /** Whether this request makes its placeholder: checked just now, or stored before placeholders. */
  readonly makesPlaceholder: boolean;
  /** Each request's variant state, by HEAD; `more` adds requests that count only where stored variants do. */
  sizes(requests: readonly SizeRequest[], more?: () => Promise<SizeRequest[]>): Promise<SizeCheck[]>;
  /** One size's variant with its bytes, read by `read` (unless nothing stored can count). */
  storedSize(request: SizeRequest, read?: (key: string) => Promise<StoredVariant>): Promise<SizeFound>;
  /** Makes and stores these sizes from one decode; an upload is moved into originals/ after them. */
  render(requests: readonly SizeRequest[]): Promise<Made>;
  /** Stores a focal point with the original's facts; `changed` when crops already made used another. */
  setFocus(focus: Focus | undefined): Promise<{ original: OriginalMeta; changed: boolean }>;
}

const sameFocus = (a: Focus | undefined, b: Focus | undefined) => (a === undefined ? b === undefined : b !== undefined && formatFocus(a) === formatFocus(b));

/** A handle on facts found checked (bytes read when a size is made), or on bytes read and checked (facts trusted only from checked metadata). */
function handleOf(store: ImageStore, settings: RuntimeSettings, from: { facts: Checked } | { bytes: CheckedBytes }): CheckedOriginal {
  const bytes = "bytes" in from ? from.bytes : undefined;
  const facts: Checked | undefined = "facts" in from ? from.facts : bytes!.got.posted ? { state: "checked", meta: bytes!.meta, source: "metadata", etag: bytes!.got.etag } : undefined;
  const meta = facts?.meta ?? bytes!.meta;
  const target = (request: SizeRequest) => targetOf(settings, meta.id, request.size, meta, request.accept);

  async function sizes(requests: readonly SizeRequest[], more?: () => Promise<SizeRequest[]>): Promise<SizeCheck[]> {
    if (facts === undefined) return requests.map((request) => ({ request, target: target(request), state: "new" }));
    const all = [...requests, ...((await more?.()) ?? [])].map((request) => ({ request, target: target(request) }));
    const heads = await Promise.all(all.map(({ target: t }) => store.headVariant(t.key)));
    return all.map((check, i) => {
      const state = stateOf(check.target, heads[i]);
      return { ...check, state, ...(state === "current" ? { stored: heads[i]! } : {}) };
    });
  }

  async function storedSize(request: SizeRequest, read = (key: string) => store.getVariant(key)): Promise<SizeFound> {
    const t = target(request);
    return facts === undefined ? { target: t, state: "new" } : sizeFound(t, await read(t.key));
  }

  async function render(requests: readonly SizeRequest[]): Promise<Made> {
    const checked = bytes ?? (await readChecked(store, settings, meta.id, { record: facts!.source === "record" ? facts!.meta : "unread" }));
    return storeSizes(store, settings, checked, requests);
  }

  async function setFocus(focus: Focus | undefined) {
    if (facts === undefined) {
      // Checked just now: stored with the point as its facts are first written (its record, or the moved upload's metadata).
      if (focus !== undefined) bytes!.meta = { ...bytes!.meta, focus };
      return { original: (await storeSizes(store, settings, bytes!, [])).original, changed: false };
    }
    const { focus: old, ...rest } = facts.meta;
    const original = focus === undefined ? rest : { ...rest, focus };
    if (sameFocus(old, focus)) return { original, changed: false };
    await (facts.source === "record" ? store.putOriginalRecord(original) : store.rewriteOriginalMetadata(original, facts.etag));
    return { original, changed: true };
  }

  return { meta, makesPlaceholder: facts === undefined || meta.placeholder === undefined, sizes, storedSize, render, setFocus };
}

export interface OriginalOptions {
  /** Read and check the bytes at once, with no HEAD first: for a caller about to make a size whatever it finds. */
  readNow?: boolean;
  /** Only a presigned upload under uploads/ (its S3 event); read at once. */
  uploadOnly?: boolean;
  /** The bytes may be new (an ObjectCreated event): a direct write's record does not count. */
  bytesChanged?: boolean;
}

/** The original, checked: an unchecked one is read and checked now (refused: deleted, and the error thrown). */
export async function checkedOriginal(store: ImageStore, settings: RuntimeSettings, id: string, options: OriginalOptions = {}): Promise<CheckedOriginal> {
  if (options.readNow === true || options.uploadOnly === true) {
    return handleOf(store, settings, { bytes: await readChecked(store, settings, id, { ...(options.uploadOnly === true ? { uploadOnly: true } : {}), record: "unread" }) });
  }
  const found = await findOriginal(store, id, options.bytesChanged === true ? "metadata" : "record");
  if (found === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
  if (found.state === "checked") return handleOf(store, settings, { facts: found });
  return handleOf(store, settings, { bytes: await readChecked(store, settings, id, { record: found.record }) });
}

/**
 * What making these sizes would write, for a dry run: only HEADs, nothing
 * read, checked or deleted. An original never checked has no known format
 * yet, so its keys are "{size}.*". Undefined when there is no such image.
 */
export async function plannedSizes(store: ImageStore, settings: RuntimeSettings, id: string, requests: readonly SizeRequest[], more?: () => Promise<SizeRequest[]>): Promise<{ keys: string[]; placeholder: boolean } | undefined> {
  const found = await findOriginal(store, id, "record");
  if (found === undefined) return undefined;
  if (found.state === "unchecked") return { keys: [...new Set(requests.map((r) => `${variantPrefix(id)}${r.size}.*`))], placeholder: true };
  const original = handleOf(store, settings, { facts: found });
  const stale = (await original.sizes(requests, more)).filter((c) => c.state !== "current");
  return { keys: [...new Set(stale.map((c) => c.target.key))], placeholder: original.makesPlaceholder };
}
