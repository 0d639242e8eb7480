// PUT /images/{id}/focus {"x": 0.3, "y": 0.6}: the point every cover crop of
// the image keeps in frame; DELETE /images/{id}/focus: back to each size's own
// position. Stored with the original's facts (its metadata or record). The
// variants it changes are remade when next asked for, since their settings
// tag names the focal point (and at once with resizeOnUpload, whose trigger
// sees the rewritten original).
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { parseFocusObject, type Focus } from "../image/crop.ts";
import { bodyBytes } from "../http/request.ts";
import { json } from "../http/response.ts";
import { checkedOriginal } from "../originals.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { checkId } from "../variants.ts";
import { originalEntry, placeholderEntry } from "./image-answer.ts";
import { imageLink } from "./links.ts";

const MAX_BODY_BYTES = 1024;

function parseBody(event: APIGatewayProxyEvent): Focus {
  let doc: unknown;
  try {
    doc = JSON.parse(bodyBytes(event, MAX_BODY_BYTES).toString("utf8"));
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError("INVALID_REQUEST", 'The body is not valid JSON. Send {"x": 0.3, "y": 0.6}.');
  }
  return parseFocusObject(doc);
}

export async function setFocus(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  base: string,
  clear: boolean,
  /** With the CDN on: its cached crops are of the old point, so they are invalidated. */
  onFocusChanged?: (id: string, focus: Focus | undefined) => Promise<void>,
): Promise<APIGatewayProxyResult> {
  const id = checkId(event.pathParameters?.id);
  const focus = clear ? undefined : parseBody(event);
  // An image never checked (a presigned upload, a direct write) is checked now and stored with the point.
  const checked = await checkedOriginal(store, settings, id);
  const { original, changed } = await checked.setFocus(focus);
  if (changed) await onFocusChanged?.(id, focus);
  return json(200, { id, original: originalEntry(original), ...placeholderEntry(original), links: { self: imageLink(base, id) } });
}
