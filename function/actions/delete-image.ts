// DELETE /images/{id}: the original, an upload not yet checked, and every object under resized/{id}/ (all
// sizes in every format, and the original's record), in one DeleteObjects per
// thousand keys. 204 when something was deleted, 404 when nothing was there.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { ApiError } from "../errors.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { checkId } from "../variants.ts";
import { PURGE_HEADER, type PurgeOutcome } from "../cdn/cdn-runtime.ts";

export async function deleteImage(event: APIGatewayProxyEvent, store: ImageStore, purge?: (id: string) => Promise<PurgeOutcome>): Promise<APIGatewayProxyResult> {
  const id = checkId(event.pathParameters?.id);
  const deleted = await store.deleteImage(id);
  if (deleted.length === 0) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);
  // With the CDN on, its copies are invalidated too; the answer says whether CloudFront took the request.
  return { statusCode: 204, headers: purge === undefined ? {} : { [PURGE_HEADER]: await purge(id) }, body: "" };
}
