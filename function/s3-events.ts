// Resizing on upload (config resizeOnUpload): S3 notifies the function of every
// object created under originals/ (deploy scopes the notification to that
// prefix), by any route: POST /images, a presigned PUT, a direct write. The
// function writes only under resized/, so its own outputs never notify it.
// Each record is handled on its own and logged in one line; one bad record
// never fails the others, and nothing is thrown (S3 would retry the whole event).
import type { Context, S3Event, S3EventRecord } from "aws-lambda";
import type { RuntimeSettings } from "../config/schema.ts";
import { ApiError } from "./errors.ts";
import type { LogSink } from "./log.ts";
import type { ImageStore } from "./storage/image-store.ts";
import { ID_PATTERN, isAuto, renderAndStore, type SizeRequest } from "./variants.ts";

/** The notification filter deploy configures: a prefix, and nothing the function writes matches it. */
export const TRIGGER_PREFIX = "originals/";

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

  async function handleRecord(record: S3EventRecord): Promise<Handled> {
    if (!record.eventName.startsWith("ObjectCreated:")) return { action: "ignored", reason: "not an ObjectCreated event" };
    if (record.s3?.bucket?.name !== store.bucket) return { action: "ignored", reason: "another bucket" };
    const key = decodeEventKey(record.s3.object?.key ?? "");
    if (key === undefined || !key.startsWith(TRIGGER_PREFIX)) return { action: "ignored", reason: `not under ${TRIGGER_PREFIX}` };
    const id = key.slice(TRIGGER_PREFIX.length);
    if (!ID_PATTERN.test(id)) return { action: "ignored", reason: "not originals/{image id}" };
    try {
      const done = await renderAndStore(store, settings, id, triggerRequests(settings));
      return { action: "resized", sizes: done.rendered.length };
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
