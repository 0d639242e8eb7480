// GET /images/{id}: create every configured size that is missing or was made
// with other settings or another crop (all of them with ?force=true), then
// list them, each with a signed public URL when the API has a signing secret,
// and the original's placeholder from its stored facts (no decode).
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { header, query } from "../http/request.ts";
import { json } from "../http/response.ts";
import { checkedOriginal } from "../originals.ts";
import type { ImageStore } from "../storage/image-store.ts";
import { checkId, hasAutoSizes } from "../variants.ts";
import { originalEntry, placeholderEntry, variantEntry, type PublicUrlSigner } from "./image-answer.ts";
import { imageLink } from "./links.ts";

function parseForce(value: string | undefined): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new ApiError("INVALID_REQUEST", `force must be "true" or "false", not "${value.slice(0, 20)}".`);
}

export type { PublicUrlSigner } from "./image-answer.ts";

export async function listSizes(
  event: APIGatewayProxyEvent,
  settings: RuntimeSettings,
  store: ImageStore,
  base: string,
  publicUrl?: PublicUrlSigner,
  onRemade?: (id: string) => Promise<void>,
): Promise<APIGatewayProxyResult> {
  const id = checkId(event.pathParameters?.id);
  const force = parseForce(query(event, "force"));
  const accept = header(event, "accept");
  const original = await checkedOriginal(store, settings, id);

  const sizes = Object.keys(settings.sizes);
  const requests = sizes.map((size) => ({ size, accept }));
  // force: nothing stored counts, so nothing is looked up.
  const checks = force ? [] : await original.sizes(requests);
  const found = new Map(checks.flatMap((c) => (c.stored === undefined ? [] : [[c.request.size, c.stored] as const])));
  const missing = requests.filter((r) => !found.has(r.size));
  const created = new Set<string>();
  let o = original.meta;
  if (missing.length > 0) {
    const done = await original.render(missing);
    o = done.original;
    for (const r of done.rendered) {
      found.set(r.target.size, r.meta);
      created.add(r.target.size);
    }
    if (checks.some((c) => c.state === "outdated")) await onRemade?.(id);
  }

  return json(
    200,
    {
      id,
      original: originalEntry(o),
      ...placeholderEntry(o),
      variants: sizes.map((size) => variantEntry(base, id, size, found.get(size)!, created.has(size), publicUrl)),
      links: { self: imageLink(base, id) },
    },
    hasAutoSizes(settings) ? { Vary: "Accept" } : {},
  );
}
