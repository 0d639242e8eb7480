// What the function writes into S3 object metadata and reads back: a checked
// original carries its sniffed format, dimensions and alpha (POST /images, a
// moved upload); every variant its dimensions and settings tag. S3 metadata
// is ASCII only, so the user's file name is kept percent-encoded.
import { INPUT_FORMATS, type InputFormat } from "../../config/constants.ts";

export interface OriginalMeta {
  id: string;
  key: string;
  format: InputFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
  bytes: number;
  name?: string;
}

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

export function decodeName(meta: Metadata): string | undefined {
  try {
    return meta?.name === undefined ? undefined : decodeURIComponent(meta.name);
  } catch {
    return undefined;
  }
}

function metaNumber(meta: Metadata, key: string): number {
  const n = Number(meta?.[key]);
  return Number.isFinite(n) ? n : 0;
}

/** The metadata of a checked original. */
export function checkedMetadata(original: Pick<OriginalMeta, "format" | "width" | "height" | "hasAlpha" | "name">): Record<string, string> {
  return {
    format: original.format,
    width: String(original.width),
    height: String(original.height),
    alpha: original.hasAlpha ? "1" : "0",
    ...(original.name === undefined ? {} : { name: encodeURIComponent(original.name) }),
  };
}

export function originalMetaOf(id: string, key: string, meta: Metadata, bytes: number | undefined): OriginalMeta {
  const name = decodeName(meta);
  return {
    id,
    key,
    format: (meta?.format ?? "jpeg") as InputFormat,
    width: metaNumber(meta, "width"),
    height: metaNumber(meta, "height"),
    hasAlpha: meta?.alpha === "1",
    bytes: bytes ?? 0,
    ...(name === undefined ? {} : { name }),
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
