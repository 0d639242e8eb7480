// Resizing on upload (config resizeOnUpload): S3 notifies the function of every
// object created under uploads/ and originals/ (deploy scopes the notifications
// to TRIGGER_PREFIXES). A presigned upload is checked, its sizes made, and it
// is moved to originals/ (or deleted when refused). An original written by
// POST /images or directly gets its sizes. The move's own event for
// originals/ finds the sizes made and stops, and nothing the function writes
// under resized/ notifies it: no loop, no work done twice.
// Each record is handled on its own and logged in one line; one bad record
// never fails the others, and nothing is thrown (S3 would retry the whole event).
import type { Context, S3Event, S3EventRecord } from "aws-lambda";
import type { RuntimeSettings } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import type { LogSink } from "./log.ts";
import type { ImageStore } from "./storage/image-store.ts";
import { ORIGINALS_PREFIX, UPLOADS_PREFIX } from "./storage/key-layout.ts";
import { checkedOriginal } from "./originals.ts";
import { ID_PATTERN, isAuto, type SizeRequest } from "./variants.ts";

export type RecordAction = "resized" | "ignored" | "rejected" | "failed";

export type S3EventOutcome = Record<RecordAction, number>;

export function isS3Event(event: unknown): event is S3Event {
  const records = (event as { Records?: unknown } | null | undefined)?.Records;
  return Array.isArray(records) && records.length > 0 && records.every((r) => (r as { eventSource?: unknown } | null)?.eventSource === "aws:s3");
}

/** S3 URL-encodes keys in notifications, with "+" for a space. */
export function decodeEventKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/**
 * What the trigger makes: every size as a request without Accept gets it,
 * and for "auto" sizes the WebP too, which nearly every browser asks for.
 * AVIF is left to the first request that wants it (the slowest encoder).
 */
export function triggerRequests(settings: RuntimeSettings): SizeRequest[] {
  return Object.keys(settings.sizes).flatMap((size) => (isAuto(settings, size) ? [{ size }, { size, accept: "image/webp" }] : [{ size }]));
}

interface Handled {
  action: RecordAction;
  reason?: string;
  sizes?: number;
  errorCode?: string;
  detail?: string;
}

export function createS3EventHandler(options: { store: ImageStore; settings: RuntimeSettings; log: LogSink }) {
  const { store, settings, log } = options;

  async function onUpload(id: string): Promise<Handled> {
    // The same id PUT again after its upload was checked: the image stays as checked.
    if (await store.hasOriginal(id)) {
      await store.deleteUpload(id);
      return { action: "ignored", reason: "the image exists: the new upload was deleted" };
    }
    const upload = await checkedOriginal(store, settings, id, { uploadOnly: true });
    const done = await upload.render(triggerRequests(settings));
    return { action: "resized", sizes: done.rendered.length };
  }

  async function onOriginal(id: string): Promise<Handled> {
    // A checked original (POST /images, a moved upload) needs only what is missing;
    // a direct write may have replaced the bytes, so all of it is made again.
    const original = await checkedOriginal(store, settings, id, { bytesChanged: true });
    const missing = (await original.sizes(triggerRequests(settings))).filter((c) => c.state !== "current");
    if (missing.length === 0) return { action: "ignored", reason: "sizes up to date" };
    const done = await original.render(missing.map((c) => c.request));
    return { action: "resized", sizes: done.rendered.length };
  }

  async function handleRecord(record: S3EventRecord): Promise<Handled> {
    if (!record.eventName.startsWith("ObjectCreated:")) return { action: "ignored", reason: "not an ObjectCreated event" };
    if (record.s3?.bucket?.name !== store.bucket) return { action: "ignored", reason: "another bucket" };
    const key = decodeEventKey(record.s3.object?.key ?? "");
    const prefix = [UPLOADS_PREFIX, ORIGINALS_PREFIX].find((p) => key?.startsWith(p));
    if (key === undefined || prefix === undefined) return { action: "ignored", reason: `not under ${UPLOADS_PREFIX} or ${ORIGINALS_PREFIX}` };
    const id = key.slice(prefix.length);
    if (!ID_PATTERN.test(id)) return { action: "ignored", reason: `not ${prefix}{image id}` };
    try {
      return prefix === UPLOADS_PREFIX ? await onUpload(id) : await onOriginal(id);
    } catch (e) {
      const error = e instanceof ApiError ? e : new ApiError("INTERNAL_ERROR", "unexpected error", { cause: e });
      if (error.code === "IMAGE_NOT_FOUND") return { action: "ignored", reason: "deleted since" };
      if (error.expose) return { action: "rejected", errorCode: error.code, detail: error.message };
      const cause = error.cause as { name?: string; message?: string } | undefined;
      return { action: "failed", errorCode: error.code, detail: `${error.message}${cause ? `: ${cause.name ?? "Error"}: ${cause.message ?? String(cause)}` : ""}` };
    }
  }

  return async function onS3Event(event: S3Event, context?: Partial<Context>): Promise<S3EventOutcome> {
    const outcome: S3EventOutcome = { resized: 0, ignored: 0, rejected: 0, failed: 0 };
    // One at a time: each may decode a 40 MP original.
    for (const record of event.Records) {
      const started = performance.now();
      const handled = await handleRecord(record).catch((e: unknown): Handled => ({ action: "failed", errorCode: "INTERNAL_ERROR", detail: `malformed record: ${(e as Error).message}` }));
      outcome[handled.action] += 1;
      log(
        JSON.stringify({
          level: handled.action === "failed" ? "error" : "info",
          msg: "s3-object",
          requestId: context?.awsRequestId ?? "local",
          eventName: String((record as Partial<S3EventRecord> | null)?.eventName ?? "?").slice(0, 60),
          key: String((record as Partial<S3EventRecord> | null)?.s3?.object?.key ?? "?").slice(0, 200),
          ...handled,
          durationMs: Math.round(performance.now() - started),
        }),
      );
    }
    return outcome;
  };
}
