// With the CDN on, the public route answers only requests that came through
// CloudFront: the distribution adds the origin secret as a custom origin
// header (x-imgapi-origin-verify), and the function knows only its SHA-256.
// Otherwise anyone holding a signed URL could read around the CDN (its cache,
// its rate limit, its WAF) straight from API Gateway.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html
import { createHash, timingSafeEqual } from "node:crypto";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { ApiError } from "../errors.ts";
import { header } from "../http/request.ts";
import { CDN_ORIGIN_HEADER } from "./cdn-env.ts";

/** Throws CDN_ONLY (403) unless the request carries the origin secret whose SHA-256 (hex) is `originSha256`. */
export function requireCdnOrigin(event: Pick<APIGatewayProxyEvent, "headers">, originSha256: string): void {
  const sent = header(event, CDN_ORIGIN_HEADER);
  // Both sides are 32-byte digests, so the comparison takes the same time
  // whatever was sent and however much of it matches.
  const got = createHash("sha256").update(sent ?? "", "utf8").digest();
  const ok = timingSafeEqual(got, Buffer.from(originSha256, "hex"));
  if (!ok || sent === undefined) {
    throw new ApiError("CDN_ONLY", "This API serves public images only through its CDN: use the CDN URL (publicUrl) from GET /images/{id} as it is.");
  }
}
