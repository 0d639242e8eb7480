// What the app needs from the CDN, built once per cold start by the handler
// (function/handler.ts) from cdnSettingsFromEnv, or by a test: the settings,
// the URL-signing key (decrypted on first need) and a way to send an
// invalidation (in Lambda, the purge.mjs bundle entry, so image requests never
// load the CloudFront client). Absent: no CDN, and nothing here runs.
import type { LogSink } from "../log.ts";
import type { CdnSettings } from "./cdn-env.ts";
import { purgeRequest, type InvalidationRequest } from "./purge-request.ts";
import { resizedUrl } from "./resized-url.ts";
import type { CdnSigningKey } from "./resized-url.ts";

export interface CdnRuntime {
  settings: CdnSettings;
  signingKey: CdnSigningKey;
  /** Sends one CreateInvalidation; resolves with its id, rejects when CloudFront did not take it. */
  invalidate: (request: InvalidationRequest) => Promise<string>;
}

/** The X-Imgapi-Purge header's values: DELETE answers which one happened. */
export type PurgeOutcome = "requested" | "failed";
export const PURGE_HEADER = "X-Imgapi-Purge";

/**
 * Invalidates an image's paths. A failed invalidation is logged, never thrown:
 * the change it follows (a delete, a new focal point) has happened and must be
 * answered as such; the cached copies then expire with their URLs.
 */
export async function purgeImage(cdn: CdnRuntime, id: string, reason: string, nowMs: number, log: LogSink): Promise<PurgeOutcome> {
  const request = purgeRequest(cdn.settings.distributionId, id, reason, nowMs);
  try {
    const invalidationId = await cdn.invalidate(request);
    log(JSON.stringify({ level: "info", msg: "cdn purge requested", id, reason, distributionId: request.distributionId, invalidationId }));
    return "requested";
  } catch (e) {
    const err = e as { name?: string; message?: string };
    log(JSON.stringify({ level: "error", msg: "cdn purge failed", id, reason, distributionId: request.distributionId, paths: request.paths, error: `${err.name ?? "Error"}: ${err.message ?? String(e)}` }));
    return "failed";
  }
}

/** Signs the CDN URL of a large variant, valid as long as the public URL that led to it. */
export async function largeVariantUrl(cdn: CdnRuntime, variantKey: string, expires: number): Promise<string> {
  return resizedUrl(cdn.settings.url, cdn.settings.keyPairId, await cdn.signingKey(), variantKey, expires);
}
