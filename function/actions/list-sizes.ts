// GET /images/{id}: create every configured size that is missing or was made
// with other settings or another crop (all of them with ?force=true), then
// list them, each with a signed public URL when the API has a signing secret,
// and the original's placeholder from its stored facts (no decode).
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { header, query } from "../http/request.ts";
import { json } from "../http/response.ts";
import { isUnchecked, type ImageStore, type OriginalMeta, type VariantMeta } from "../storage/image-store.ts";
import { checkId, hasAutoSizes, renderAndStore, targetOf } from "../variants.ts";
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
  const head = await store.headOriginal(id);
  if (head === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);

  const sizes = Object.keys(settings.sizes);
  const found = new Map<string, VariantMeta>();
  // An unchecked original (a presigned upload) has no variants yet: rendering checks it first.
  let original: OriginalMeta | undefined;
  let remade = false;
  if (!isUnchecked(head)) {
    original = head;
    const targets = sizes.map((size) => targetOf(settings, id, size, head, accept));
    const existing = force ? targets.map(() => undefined) : await Promise.all(targets.map((t) => store.headVariant(t.key)));
    targets.forEach((t, i) => {
      const meta = existing[i];
      if (meta !== undefined && meta.tag === t.tag) found.set(t.size, meta);
      else if (meta !== undefined) remade = true;
    });
  }
  const missing = sizes.filter((size) => !found.has(size));
  const created = new Set<string>();
  if (missing.length > 0) {
    const done = await renderAndStore(
      store,
      settings,
      id,
      missing.map((size) => ({ size, accept })),
    );
    original = done.original;
    for (const r of done.rendered) {
      found.set(r.target.size, r.meta);
      created.add(r.target.size);
    }
    if (remade) await onRemade?.(id);
  }
  const o = original!;

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
