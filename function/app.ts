// The Lambda's request dispatch: route the API Gateway event, map domain errors
// to their 4xx/5xx answers, add CORS headers, log one line. Built by a factory
// so tests and the local server can hand in their own store and log sink.
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, S3BatchEvent, S3BatchResult, S3Event } from "aws-lambda";
import type { RuntimeSettings } from "../config/schema.ts";
import { createUpload } from "./actions/create-upload.ts";
import { deleteImage } from "./actions/delete-image.ts";
import { getSize, MAX_INLINE_BYTES } from "./actions/get-size.ts";
import { apiBase } from "./actions/links.ts";
import { listSizes, type PublicUrlSigner } from "./actions/list-sizes.ts";
import { publicSize } from "./actions/public-size.ts";
import { setFocus } from "./actions/set-focus.ts";
import { uploadImage } from "./actions/upload-image.ts";
import { requireCaller, requireOwner, type Access } from "./auth/access.ts";
import type { Caller } from "./auth/jwt-verify.ts";
import { ApiError } from "./errors.ts";
import { ROUTES, routeKey, type Route, type RouteKey } from "./routes.ts";
import { base64Length, header } from "./http/request.ts";
import { corsHeaders, errorResult, mergeHeaders } from "./http/response.ts";
import { writeRequestLog, type LogSink } from "./log.ts";
import { createBatchHandler, isBatchEvent } from "./batch-event.ts";
import { createReprocessHandler, isReprocessEvent, type ReprocessEvent, type ReprocessOutcome } from "./reprocess-event.ts";
import { createS3EventHandler, isS3Event, type S3EventOutcome } from "./s3-events.ts";
import { signedUrl, type SigningSecret } from "./signed-urls.ts";
import { largeVariantUrl, purgeImage, type CdnRuntime } from "./cdn/cdn-runtime.ts";
import { windowedExpiry } from "./cdn/signing-window.ts";
import type { ImageStore } from "./storage/image-store.ts";

export interface AppOptions {
  store: ImageStore;
  settings: RuntimeSettings;
  maxInlineBytes?: number;
  log?: LogSink;
  /** The URL-signing secret (decrypted once per cold start); none: no public URLs. */
  signingSecret?: SigningSecret;
  /** The clock, in milliseconds (tests move it to expire signed URLs). */
  now?: () => number;
  /** The API's base URL for links (a custom domain, local mode); else API Gateway's domain and stage from the event. */
  baseUrl?: string;
  /** auth "jwt": private routes need the authorizer's caller, and each image is its uploader's alone. */
  access?: Access;
  /** The CDN in front of the public route (deployed with cdn.enabled); none: public URLs are the API's own. */
  cdn?: CdnRuntime;
}

export type Handler = (event: APIGatewayProxyEvent, context?: Partial<Context>) => Promise<APIGatewayProxyResult>;

/**
 * The Lambda's entry: API Gateway requests, S3 notifications when
 * resizeOnUpload is on, and reprocessing (the reprocess command's direct
 * invokes, S3 Batch Operations jobs).
 */
export interface LambdaHandler {
  (event: S3Event, context?: Partial<Context>): Promise<S3EventOutcome>;
  (event: ReprocessEvent, context?: Partial<Context>): Promise<ReprocessOutcome>;
  (event: S3BatchEvent, context?: Partial<Context>): Promise<S3BatchResult>;
  (event: APIGatewayProxyEvent, context?: Partial<Context>): Promise<APIGatewayProxyResult>;
}

type Outcome = APIGatewayProxyResult & { bytesIn?: number; bytesOut?: number };

/** The size of a request's body, for the log of a request that was refused before it was read. */
function requestBytes(event: APIGatewayProxyEvent | undefined): number {
  const body = typeof event?.body === "string" ? event.body : "";
  return event?.isBase64Encoded ? base64Length(body) : Buffer.byteLength(body);
}

export function createApp(options: AppOptions): Handler {
  const { store, settings } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const maxInlineBytes = options.maxInlineBytes ?? MAX_INLINE_BYTES;
  const now = options.now ?? Date.now;
  const { cdn } = options;

  /** The secret, only when public URLs are on: otherwise KMS is never called. */
  async function secret(): Promise<Buffer | undefined> {
    return settings.publicUrls.enabled ? options.signingSecret?.() : undefined;
  }

  async function publicUrlSigner(): Promise<PublicUrlSigner | undefined> {
    const key = await secret();
    if (key === undefined) return undefined;
    const nowSeconds = Math.floor(now() / 1000);
    const { expiresSeconds } = settings.publicUrls;
    if (cdn === undefined) return (base, id, size) => signedUrl(key, base, id, size, nowSeconds + expiresSeconds);
    // Identical for a whole signing window, so the CDN caches one entry per size and Accept class.
    const expires = windowedExpiry(nowSeconds, expiresSeconds);
    return (_base, id, size) => signedUrl(key, cdn.settings.url, id, size, expires);
  }

  // With the CDN on, what changes an image's bytes invalidates its cached copies.
  const purge = (id: string, reason: string) => purgeImage(cdn!, id, reason, now(), log);
  const onRemade = cdn && (async (id: string) => void (await purge(id, `remade ${JSON.stringify(settings.sizes)}`)));
  const onFocusChanged = cdn && (async (id: string, focus: unknown) => void (await purge(id, `focus ${JSON.stringify(focus ?? null)}`)));
  const publicCdn = cdn && { originSha256: cdn.settings.originSha256, largeVariantUrl: (key: string, expires: number) => largeVariantUrl(cdn, key, expires) };

  // One action per route of the table: a route added to ROUTES without its
  // action here does not compile (Record over RouteKey).
  const actions: Record<RouteKey, (event: APIGatewayProxyEvent, base: () => string, caller: Caller | undefined) => Promise<Outcome>> = {
    // Public URLs appear in an upload's answer only with the sizes made at upload: otherwise KMS is not called.
    "POST /images": async (event, base, caller) => uploadImage(event, settings, store, base(), settings.sizesAt === "upload" ? await publicUrlSigner() : undefined, caller?.sub),
    "GET /images/{id}": async (event, base) => listSizes(event, settings, store, base(), await publicUrlSigner(), onRemade),
    "GET /images/{id}/{size}": (event) => getSize(event, settings, store, { maxInlineBytes, ...(onRemade && { onRemade }) }),
    "DELETE /images/{id}": (event) => deleteImage(event, store, cdn && ((id) => purge(id, "delete"))),
    "PUT /images/{id}/focus": (event, base) => setFocus(event, settings, store, base(), false, onFocusChanged),
    "DELETE /images/{id}/focus": (event, base) => setFocus(event, settings, store, base(), true, onFocusChanged),
    "POST /uploads": (event, base, caller) => createUpload(event, settings, store, base(), now(), caller?.sub),
    "GET /public/images/{id}/{size}": (event) =>
      publicSize(event, settings, store, secret, { maxInlineBytes, nowSeconds: Math.floor(now() / 1000), ...(publicCdn && { cdn: publicCdn }), ...(onRemade && { onRemade }) }),
  };

  const routes = new Map<string, Route>(ROUTES.map((r) => [routeKey(r), r]));

  /** auth "jwt": the caller of a private route, who must own the image the route names. */
  async function callerFor(event: APIGatewayProxyEvent, route: Route | undefined): Promise<Caller | undefined> {
    if (options.access === undefined || route?.access !== "private") return undefined;
    const caller = requireCaller(event, route, options.access);
    if (route.resource.includes("{id}")) await requireOwner(store, event.pathParameters?.id, caller);
    return caller;
  }

  async function dispatch(event: APIGatewayProxyEvent, route: string): Promise<Outcome> {
    if (route === "OPTIONS") return { statusCode: 204, headers: {}, body: "" };
    const action = Object.hasOwn(actions, route) ? actions[route as RouteKey] : undefined;
    if (action === undefined) throw new ApiError("ROUTE_NOT_FOUND", `No route for ${event.httpMethod} ${event.resource ?? event.path}.`);
    const caller = await callerFor(event, routes.get(route));
    return action(event, () => apiBase(event, options.baseUrl), caller);
  }

  return async function handler(event, context) {
    const started = performance.now();
    const method = typeof event?.httpMethod === "string" ? event.httpMethod : "?";
    const route = method === "OPTIONS" ? "OPTIONS" : `${method} ${event?.resource ?? "?"}`;
    let outcome: Outcome;
    let error: ApiError | undefined;
    let detail: string | undefined;
    try {
      outcome = await dispatch(event, route);
    } catch (e) {
      error = e instanceof ApiError ? e : new ApiError("INTERNAL_ERROR", "unexpected error", { cause: e });
      if (!error.expose) {
        const cause = error.cause as { name?: string; message?: string } | undefined;
        detail = `${error.message}${cause ? `: ${cause.name ?? "Error"}: ${cause.message ?? String(cause)}` : ""}`;
      }
      outcome = errorResult(error);
    }
    const { bytesIn, bytesOut, ...result } = outcome;
    result.headers = mergeHeaders(result.headers, corsHeaders(event?.headers ? header(event, "origin") : undefined, settings.cors.origins));
    writeRequestLog(log, {
      requestId: context?.awsRequestId ?? event?.requestContext?.requestId ?? "local",
      route,
      status: result.statusCode,
      durationMs: Math.round(performance.now() - started),
      bytesIn: bytesIn ?? requestBytes(event),
      bytesOut: bytesOut ?? (result.isBase64Encoded ? 0 : Buffer.byteLength(result.body ?? "")),
      ...(error === undefined ? {} : { errorCode: error.code }),
      ...(detail === undefined ? {} : { detail }),
    });
    return result;
  };
}

/** One function for every event source: S3 notifications, reprocessing, Batch Operations and API Gateway requests. */
export function createLambdaHandler(options: AppOptions): LambdaHandler {
  const api = createApp(options);
  const inner = { store: options.store, settings: options.settings, log: options.log ?? ((line: string) => console.log(line)) };
  const onS3Event = createS3EventHandler(inner);
  const { cdn } = options;
  const onReprocess = createReprocessHandler({ ...inner, ...(cdn && { onRemade: (id: string) => purgeImage(cdn, id, `reprocess ${JSON.stringify(options.settings.sizes)}`, (options.now ?? Date.now)(), inner.log) }) });
  const onBatch = createBatchHandler(onReprocess);
  return function handler(event: APIGatewayProxyEvent | S3Event | ReprocessEvent | S3BatchEvent, context?: Partial<Context>) {
    if (isS3Event(event)) return onS3Event(event, context);
    if (isReprocessEvent(event)) return onReprocess(event, context?.awsRequestId);
    if (isBatchEvent(event)) return onBatch(event, context?.awsRequestId);
    return api(event, context);
  } as LambdaHandler;
}
