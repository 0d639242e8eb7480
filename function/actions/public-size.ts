// GET /public/images/{id}/{size}?expires=&sig=: one size's bytes for anyone
// holding a signed URL (an <img src> cannot send an API key). API Gateway lets
// every request through; the signature is the only guard, so it is checked
// before anything else, on the path parameters exactly as received. With the
// CDN on, the origin secret is checked before even that (cdn/origin-guard.ts).
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { query } from "../http/request.ts";
import { publicPath, verifySignedRequest } from "../signed-urls.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { requireCdnOrigin } from "../cdn/origin-guard.ts";
import { getSize, type GetSizeOptions } from "./get-size.ts";

const ONE_YEAR = 31_536_000;

export async function publicSize(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  /** The signing secret, asked for only once the origin is known to be the CDN (when it is on). */
  signingSecret: () => Promise<Buffer | undefined>,
  options: {
    maxInlineBytes: number;
    nowSeconds: number;
    /** With the CDN on: the SHA-256 (hex) of its origin secret, and the signed CDN URL of a large variant. */
    cdn?: { originSha256: string; largeVariantUrl: (key: string, expires: number) => Promise<string> };
    onRemade?: GetSizeOptions["onRemade"];
  },
): Promise<APIGatewayProxyResult & { bytesOut?: number }> {
  if (options.cdn !== undefined) requireCdnOrigin(event, options.cdn.originSha256);
  const secret = await signingSecret();
  if (!settings.publicUrls.enabled || secret === undefined) {
    throw new ApiError("PUBLIC_URLS_DISABLED", "Public URLs are not enabled on this API: fetch the image with credentials from GET /images/{id}/{size}.");
  }
  const path = publicPath(event.pathParameters?.id ?? "", event.pathParameters?.size ?? "");
  const expires = verifySignedRequest(secret, { method: "GET", path, expires: query(event, "expires"), sig: query(event, "sig") }, options.nowSeconds);
  // Shared caches may keep it, but never past the link's own expiry.
  const maxAge = Math.min(expires - options.nowSeconds, ONE_YEAR);
  const { cdn, onRemade } = options;
  return getSize(event, settings, store, {
    maxInlineBytes: options.maxInlineBytes,
    cacheControl: `public, max-age=${maxAge}`,
    ...(cdn === undefined ? {} : { largeVariantUrl: (key: string) => cdn.largeVariantUrl(key, expires) }),
    ...(onRemade === undefined ? {} : { onRemade }),
  });
}
