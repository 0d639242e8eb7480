// What the function writes into S3 object metadata and reads back: a checked
// original carries its sniffed format, dimensions and alpha (POST /images, a
// moved upload), its placeholder and focal point; every variant its
// dimensions and settings tag. S3 metadata is ASCII only, so the user's file
// name is kept percent-encoded. All of it stays far below S3's 2 KB of user
// metadata (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html):
// a ThumbHash is about 36 base64 characters.
import { INPUT_FORMATS, type InputFormat } from "../../config/constants.ts";
import { formatFocus, readFocus, type Focus } from "../image/crop.ts";
import { readPlaceholder, type Placeholder } from "../image/placeholder.ts";

export interface OriginalMeta {
  id: string;
  key: string;
  format: InputFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
  bytes: number;
  name?: string;
  /** Absent on originals stored before placeholders (the reprocess command makes it). */
  placeholder?: Placeholder;
  /** Where every cover crop keeps in frame. */
  focus?: Focus;
  /** In auth "jwt" mode, the subject (sub) of the token that uploaded it: only they see it. */
  owner?: string;
}

/** What checking an original found, as stored with it (metadata, or the record of a direct write). */
export type OriginalFacts = Pick<OriginalMeta, "format" | "width" | "height" | "hasAlpha" | "placeholder" | "focus">;

export interface VariantMeta {
  key: string;
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  tag: string;
  etag: string;
}

type Metadata = Record<string, string> | undefined;

/** Only a checked original carries its format: other writers do not. */
export function isChecked(meta: Metadata): boolean {
  return (INPUT_FORMATS as readonly string[]).includes(meta?.format ?? "");
}

/** A percent-encoded metadata field read back (S3 metadata is ASCII: names and subjects are kept encoded). */
function decoded(meta: Metadata, field: "name" | "owner"): string | undefined {
  try {
    return meta?.[field] === undefined ? undefined : decodeURIComponent(meta[field]);
  } catch {
    return undefined;
  }
}

export const decodeName = (meta: Metadata): string | undefined => decoded(meta, "name");
export const decodeOwner = (meta: Metadata): string | undefined => decoded(meta, "owner");

/** The owner as a metadata field (an upload's presigned PUT carries it too). */
export const ownerField = (owner: string | undefined): Record<string, string> => (owner === undefined ? {} : { owner: encodeURIComponent(owner) });

function metaNumber(meta: Metadata, key: string): number {
  const n = Number(meta?.[key]);
  return Number.isFinite(n) ? n : 0;
}

/** The placeholder and focal point as metadata (or record) fields. */
export function extraFields(original: Pick<OriginalMeta, "placeholder" | "focus">): Record<string, string> {
  const { placeholder, focus } = original;
  return {
    ...(placeholder === undefined ? {} : { thumbhash: placeholder.thumbhash, color: placeholder.color }),
    ...(focus === undefined ? {} : { focus: formatFocus(focus) }),
  };
}

/** The placeholder and focal point read back; malformed ones are dropped (the placeholder is then made again). */
export function readExtras(fields: Record<string, unknown> | undefined): Pick<OriginalMeta, "placeholder" | "focus"> {
  const placeholder = readPlaceholder(fields?.thumbhash, fields?.color);
  const focus = typeof fields?.focus === "string" ? readFocus(fields.focus) : undefined;
  return { ...(placeholder === undefined ? {} : { placeholder }), ...(focus === undefined ? {} : { focus }) };
}

/** The metadata of a checked original. */
export function checkedMetadata(original: Pick<OriginalMeta, "format" | "width" | "height" | "hasAlpha" | "name" | "placeholder" | "focus" | "owner">): Record<string, string> {
  return {
    format: original.format,
    width: String(original.width),
    height: String(original.height),
    alpha: original.hasAlpha ? "1" : "0",
    ...(original.name === undefined ? {} : { name: encodeURIComponent(original.name) }),
    ...ownerField(original.owner),
    ...extraFields(original),
  };
}

export function originalMetaOf(id: string, key: string, meta: Metadata, bytes: number | undefined): OriginalMeta {
  const name = decodeName(meta);
  const owner = decodeOwner(meta);
  return {
    id,
    key,
    format: (meta?.format ?? "jpeg") as InputFormat,
    width: metaNumber(meta, "width"),
    height: metaNumber(meta, "height"),
    hasAlpha: meta?.alpha === "1",
    bytes: bytes ?? 0,
    ...(name === undefined ? {} : { name }),
    ...(owner === undefined ? {} : { owner }),
    ...readExtras(meta),
  };
}

export function variantMetaOf(key: string, meta: Metadata, bytes: number, contentType: string | undefined, etag: string | undefined): VariantMeta {
  return {
    key,
    contentType: contentType ?? "application/octet-stream",
    width: metaNumber(meta, "width"),
    height: metaNumber(meta, "height"),
    bytes,
    tag: meta?.spec ?? "",
    etag: etag ?? "",
  };
}
