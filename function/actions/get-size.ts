// GET /images/{id}/{size}: the variant's bytes, made on first request. Too
// large for a Lambda response (6 MB including base64), it redirects to a
// short-lived presigned S3 URL instead.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { header } from "../http/request.ts";
import { binary } from "../http/response.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { checkId, checkSize, needsOriginalFormat, renderAndStore, targetOf } from "../variants.ts";

/** Base64 adds a third: 4.4 MB of bytes is about 5.9 MB in the response. */
export const MAX_INLINE_BYTES = 4_400_000;
export const PRESIGN_SECONDS = 300;
// Private: the API is keyed. A variant's bytes only change when its settings
// change, and then its ETag changes too.
export const CACHE_CONTROL = "private, max-age=31536000";

export interface GetSizeOptions {
  maxInlineBytes: number;
}

export async function getSize(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  options: GetSizeOptions,
): Promise<APIGatewayProxyResult & { bytesOut?: number }> {
  const id = checkId(event.pathParameters?.id);
  const size = checkSize(settings, event.pathParameters?.size);

  let original = undefined;
  if (needsOriginalFormat(settings, size)) {
    original = await store.headOriginal(id);
    if (original === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
  }
  const target = targetOf(settings, id, size, original);
  let stored = await store.getVariant(target.key);
  if (stored === undefined || stored.meta.tag !== target.tag) {
    const done = await renderAndStore(store, settings, id, [size]);
    const r = done.rendered[0]!;
    stored = { meta: r.meta, data: r.variant.data };
  }

  const { meta, data } = stored;
  const headers = { "Content-Type": meta.contentType, ETag: meta.etag, "Cache-Control": CACHE_CONTROL };
  if (meta.etag !== "" && header(event, "if-none-match") === meta.etag) {
    return { statusCode: 304, headers: { ETag: meta.etag, "Cache-Control": CACHE_CONTROL }, body: "" };
  }
  if (data.length > options.maxInlineBytes) {
    const url = await store.presignVariant(meta.key, PRESIGN_SECONDS);
    return { statusCode: 302, headers: { Location: url, "Cache-Control": "no-store" }, body: "" };
  }
  return { ...binary(data, headers), bytesOut: data.length };
}
