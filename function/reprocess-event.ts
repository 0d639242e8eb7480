// Reprocessing a stored image on request: the reprocess command
// (reprocess/index.ts) invokes the function directly with
// {"imgapi": "reprocess", "id": "...", "dryRun": false} for each original,
// and S3 Batch Operations' "Invoke AWS Lambda function" sends the same work
// for each key of a manifest (batch-event.ts). The function makes what is
// missing or outdated: every size a request without Accept gets (and the WebP
// of "auto" sizes, as the S3 trigger makes them), any other format of an
// "auto" size already stored, and the placeholder of an original stored
// before placeholders. A dry run only says what it would make.
import type { RuntimeSettings } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import type { LogSink } from "./log.ts";
import { checkedOriginal, plannedSizes } from "./originals.ts";
import type { ImageStore } from "./storage/image-store.ts";
import { variantPrefix } from "./storage/key-layout.ts";
import { triggerRequests } from "./s3-events.ts";
import { ID_PATTERN, isAuto, type SizeRequest } from "./variants.ts";

export const REPROCESS_EVENT = "reprocess";

export interface ReprocessEvent {
  imgapi: typeof REPROCESS_EVENT;
  id: string;
  dryRun?: boolean;
}

export type ReprocessAction = "made" | "up to date" | "would make" | "refused" | "not found" | "failed";

export interface ReprocessOutcome {
  id: string;
  action: ReprocessAction;
  /** Keys made, or that a dry run would make ("{size}.*" while the original's format is not known yet). */
  variants: string[];
  /** Whether the placeholder was (or would be) made. */
  placeholder?: boolean;
  errorCode?: string;
  reason?: string;
}

export function isReprocessEvent(event: unknown): event is ReprocessEvent {
  return typeof event === "object" && event !== null && (event as { imgapi?: unknown }).imgapi === REPROCESS_EVENT;
}

/** The other formats of "auto" sizes found stored (AVIF is left to the first request that wants it, or to this). */
async function storedAvif(store: ImageStore, settings: RuntimeSettings, id: string): Promise<SizeRequest[]> {
  const stored = new Set(await store.listVariantKeys(id));
  const avif = Object.keys(settings.sizes).filter((size) => isAuto(settings, size) && stored.has(`${variantPrefix(id)}${size}.avif`));
  return avif.map((size) => ({ size, accept: "image/avif" }));
}

export interface ReprocessOptions {
  store: ImageStore;
  settings: RuntimeSettings;
  log: LogSink;
  /** After a stored variant was remade (its settings changed): with the CDN on, its cached copies are purged. */
  onRemade?: (id: string) => Promise<unknown>;
}

export function createReprocessHandler(options: ReprocessOptions) {
  const { store, settings, log, onRemade } = options;

  async function plan(id: string): Promise<ReprocessOutcome> {
    const planned = await plannedSizes(store, settings, id, triggerRequests(settings), () => storedAvif(store, settings, id));
    if (planned === undefined) return { id, action: "not found", variants: [] };
    const { keys, placeholder } = planned;
    if (keys.length === 0 && !placeholder) return { id, action: "up to date", variants: [] };
    return { id, action: "would make", variants: keys, ...(placeholder ? { placeholder } : {}) };
  }

  async function reprocess(id: string): Promise<ReprocessOutcome> {
    // One never checked (a direct write, an upload) is checked now and every size made.
    const original = await checkedOriginal(store, settings, id);
    const stale = (await original.sizes(triggerRequests(settings), () => storedAvif(store, settings, id))).filter((c) => c.state !== "current");
    const placeholder = original.makesPlaceholder;
    if (stale.length === 0 && !placeholder) return { id, action: "up to date", variants: [] };
    const done = await original.render(stale.map((c) => c.request));
    // Stale variants of an original checked before may have been served (and cached) already; "new" ones never were.
    if (done.rendered.length > 0 && stale.some((c) => c.state !== "new")) await onRemade?.(id);
    return { id, action: "made", variants: done.rendered.map((r) => r.meta.key), ...(placeholder ? { placeholder } : {}) };
  }

  return async function onReprocess(event: ReprocessEvent, requestId = "local"): Promise<ReprocessOutcome> {
    const started = performance.now();
    const id = typeof event.id === "string" ? event.id : "";
    let outcome: ReprocessOutcome;
    if (!ID_PATTERN.test(id)) {
      outcome = { id: id.slice(0, 100), action: "refused", variants: [], errorCode: "INVALID_ID", reason: "not an image id: the event needs the id of originals/{id}" };
    } else {
      try {
        outcome = await (event.dryRun === true ? plan(id) : reprocess(id));
      } catch (e) {
        const error = e instanceof ApiError ? e : new ApiError("INTERNAL_ERROR", "unexpected error", { cause: e });
        if (error.code === "IMAGE_NOT_FOUND") outcome = { id, action: "not found", variants: [] };
        else if (error.expose) outcome = { id, action: "refused", variants: [], errorCode: error.code, reason: error.message };
        else {
          const cause = error.cause as { name?: string; message?: string } | undefined;
          outcome = { id, action: "failed", variants: [], errorCode: error.code, reason: `${error.message}${cause ? `: ${cause.name ?? "Error"}: ${cause.message ?? String(cause)}` : ""}` };
        }
      }
    }
    log(JSON.stringify({ level: outcome.action === "failed" ? "error" : "info", msg: "reprocess", requestId, ...outcome, variants: outcome.variants.length, durationMs: Math.round(performance.now() - started) }));
    return outcome;
  };
}
