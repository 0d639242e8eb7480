// The parts of an image's JSON answer shared by POST /images and
// GET /images/{id}, so a web app sees the same fields from both: the
// original's facts, its placeholder, and each size as the listing gives it.
import type { OriginalMeta, VariantMeta } from "../storage/image-store.ts";
import { aspectRatioOf } from "../image/placeholder.ts";
import { sizeLink } from "./links.ts";

/** Makes a size's signed public URL from the API's base URL, when public URLs are on. */
export type PublicUrlSigner = (base: string, id: string, size: string) => string;

export function originalEntry(o: Pick<OriginalMeta, "key" | "format" | "width" | "height" | "bytes" | "name" | "focus">) {
  return {
    key: o.key,
    format: o.format,
    width: o.width,
    height: o.height,
    bytes: o.bytes,
    ...(o.name === undefined ? {} : { name: o.name }),
    ...(o.focus === undefined ? {} : { focus: o.focus }),
  };
}

/** `placeholder` of an answer; absent for an original stored before placeholders that no request has decoded since. */
export function placeholderEntry(o: Pick<OriginalMeta, "placeholder" | "width" | "height">) {
  if (o.placeholder === undefined) return {};
  return { placeholder: { thumbhash: o.placeholder.thumbhash, color: o.placeholder.color, aspectRatio: aspectRatioOf(o.width, o.height) } };
}

export function variantEntry(base: string, id: string, size: string, meta: VariantMeta, created: boolean, publicUrl?: PublicUrlSigner) {
  return {
    size,
    key: meta.key,
    contentType: meta.contentType,
    format: meta.contentType.replace(/^image\//, ""),
    width: meta.width,
    height: meta.height,
    bytes: meta.bytes,
    created,
    link: sizeLink(base, id, size),
    ...(publicUrl === undefined ? {} : { publicUrl: publicUrl(base, id, size) }),
  };
}
