// GET /images/{id}: create every configured size that is missing or was made
// with other settings (all of them with ?force=true), then list them.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { RuntimeSettings } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";
import { query } from "../http/request.ts";
import { json } from "../http/response.ts";
import type { ImageStore, OriginalMeta, VariantMeta } from "../storage/image-store.ts";
import { checkId, renderAndStore, targetOf } from "../variants.ts";
import { apiBase, imageLink, sizeLink } from "./links.ts";

function parseForce(value: string | undefined): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw new ApiError("INVALID_REQUEST", `force must be "true" or "false", not "${value.slice(0, 20)}".`);
}

export async function listSizes(event: APIGatewayProxyEvent, settings: RuntimeSettings, store: ImageStore): Promise<APIGatewayProxyResult> {
  const id = checkId(event.pathParameters?.id);
  const force = parseForce(query(event, "force"));
  let original: OriginalMeta | undefined = await store.headOriginal(id);
  if (original === undefined) throw new ApiError("IMAGE_NOT_FOUND", `No image with id ${id}.`);

  const sizes = Object.keys(settings.sizes);
  const targets = sizes.map((size) => targetOf(settings, id, size, original));
  const existing = force ? targets.map(() => undefined) : await Promise.all(targets.map((t) => store.headVariant(t.key)));
  const found = new Map<string, VariantMeta>();
  targets.forEach((t, i) => {
    const meta = existing[i];
    if (meta !== undefined && meta.tag === t.tag) found.set(t.size, meta);
  });
  const missing = sizes.filter((size) => !found.has(size));
  const created = new Set<string>();
  if (missing.length > 0) {
    const done = await renderAndStore(store, settings, id, missing);
    original = done.original;
    for (const r of done.rendered) {
      found.set(r.target.size, r.meta);
      created.add(r.target.size);
    }
  }

  const base = apiBase(event);
  return json(200, {
    id,
    original: { key: original.key, format: original.format, width: original.width, height: original.height, bytes: original.bytes, ...(original.name === undefined ? {} : { name: original.name }) },
    variants: sizes.map((size) => {
      const meta = found.get(size)!;
      return {
        size,
        key: meta.key,
        contentType: meta.contentType,
        format: meta.contentType.replace(/^image\//, ""),
        width: meta.width,
        height: meta.height,
        bytes: meta.bytes,
        created: created.has(size),
        link: sizeLink(base, id, size),
      };
    }),
    links: { self: imageLink(base, id) },
  });
}
