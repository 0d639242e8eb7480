// GET /images/{id}/{size}: the variant's bytes, made on first request. Too
// large for a Lambda response (6 MB including base64), it redirects to a
// short-lived presigned S3 URL instead. An "auto" size is made in the format
// the Accept header asks for, so its answers vary with Accept.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { header } from "../http/request.ts";
import { binary, type Headers } from "../http/response.ts";
import { checkedOriginal, sizeFound, type CheckedOriginal, type SizeFound } from "../originals.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { checkId, checkSize, isAuto, isCover, needsOriginalFormat, targetOf } from "../variants.ts";

/** Base64 adds a third: 4.4 MB of bytes is about 5.9 MB in the response. */
export const MAX_INLINE_BYTES = 4_400_000;
export const PRESIGN_SECONDS = 300;
// Private: the API is keyed. A variant's bytes only change when its settings
// change, and then its ETag changes too.
export const CACHE_CONTROL = "private, max-age=31536000";

export interface GetSizeOptions {
  maxInlineBytes: number;
  /** The public route's own caching; CACHE_CONTROL otherwise. */
  cacheControl?: string;
  /** With the CDN on (public route): where a variant too large to answer inline is served, instead of a presigned S3 URL. */
  largeVariantUrl?: (key: string) => Promise<string>;
  /** Called once a variant made with other settings or another crop was made again (the CDN purges the image's old copies). */
  onRemade?: (id: string) => Promise<void>;
}

export async function getSize(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  options: GetSizeOptions,
): Promise<APIGatewayProxyResult & { bytesOut?: number }> {
  const id = checkId(event.pathParameters?.id);
  const size = checkSize(settings, event.pathParameters?.size);
  const accept = header(event, "accept");
  const cacheControl = options.cacheControl ?? CACHE_CONTROL;
  const vary: Headers = isAuto(settings, size) ? { Vary: "Accept" } : {};

  const request = { size, accept };
  let original: CheckedOriginal | undefined;
  let found: SizeFound;
  if (needsOriginalFormat(settings, size, accept)) {
    original = await checkedOriginal(store, settings, id);
    found = await original.storedSize(request);
  } else if (isCover(settings, size)) {
    // A cover size's tag depends on the original's focal point, its key does
    // not: both are read at once, so the answer waits for one round trip.
    const key = targetOf(settings, id, size, undefined, accept).key;
    const [checked, read] = await Promise.all([checkedOriginal(store, settings, id), store.getVariant(key)]);
    original = checked;
    found = await original.storedSize(request, async () => read);
  } else {
    // A fixed format and no crop: the variant's key and tag need nothing of the original.
    const target = targetOf(settings, id, size, undefined, accept);
    found = sizeFound(target, await store.getVariant(target.key));
  }
  let stored = found.stored;
  if (stored === undefined) {
    original ??= await checkedOriginal(store, settings, id, { readNow: true });
    const r = (await original.render([request])).rendered[0]!;
    stored = { meta: r.meta, data: r.variant.data };
    if (found.state === "outdated") await options.onRemade?.(id);
  }

  const { meta, data } = stored;
  const headers = { "Content-Type": meta.contentType, ETag: meta.etag, "Cache-Control": cacheControl, ...vary };
  if (meta.etag !== "" && header(event, "if-none-match") === meta.etag) {
    return { statusCode: 304, headers: { ETag: meta.etag, "Cache-Control": cacheControl, ...vary }, body: "" };
  }
  if (data.length > options.maxInlineBytes) {
    if (options.largeVariantUrl !== undefined) {
      // The CDN's signed URL lives as long as the public URL, so the edge may keep this redirect as long.
      return { statusCode: 302, headers: { Location: await options.largeVariantUrl(meta.key), "Cache-Control": cacheControl, ...vary }, body: "" };
    }
    const url = await store.presignVariant(meta.key, PRESIGN_SECONDS);
    return { statusCode: 302, headers: { Location: url, "Cache-Control": "no-store", ...vary }, body: "" };
  }
  return { ...binary(data, headers), bytesOut: data.length };
}
