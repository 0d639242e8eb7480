// Recognising an image from its bytes. The Content-Type header and file name
// are never trusted: a polyglot or mislabelled upload is judged by its magic
// numbers, and only then handed to libvips (whose other loaders are blocked).
import type { InputFormat } from "../../config/schema.ts";

/** What the bytes look like: an allowed-list format, or a name for the error message. */
export type SniffedFormat = InputFormat | "heic" | "svg" | "bmp" | "pdf" | "psd" | "ico" | "jp2" | "jxl" | "qoi";

const ascii = (buf: Buffer, start: number, end: number) => buf.toString("latin1", start, end);

function isoBrands(buf: Buffer): string[] {
  // ISO-BMFF: [size:4]["ftyp"][major:4][minor:4][compatible:4]*
  if (buf.length < 16 || ascii(buf, 4, 8) !== "ftyp") return [];
  const boxSize = Math.min(buf.readUInt32BE(0), buf.length, 256);
  const brands = [ascii(buf, 8, 12)];
  for (let i = 16; i + 4 <= boxSize; i += 4) brands.push(ascii(buf, i, i + 4));
  return brands;
}

export function sniffFormat(buf: Buffer): SniffedFormat | undefined {
  if (buf.length < 4) return undefined;
  if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return "jpeg";
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return "png";
  const head6 = ascii(buf, 0, 6);
  if (head6 === "GIF87a" || head6 === "GIF89a") return "gif";
  if (buf.length >= 12 && ascii(buf, 0, 4) === "RIFF" && ascii(buf, 8, 12) === "WEBP") return "webp";
  const head4 = ascii(buf, 0, 4);
  if (head4 === "II*\0" || head4 === "MM\0*" || head4 === "II+\0" || head4 === "MM\0+") return "tiff";
  const brands = isoBrands(buf);
  if (brands.includes("avif") || brands.includes("avis")) return "avif";
  if (brands.some((b) => ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"].includes(b))) return "heic";
  // JPEG 2000: the signature box, or a raw codestream.
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x0000000c && ascii(buf, 4, 8) === "jP  ") return "jp2";
  if (buf.readUInt32BE(0) === 0xff4fff51) return "jp2";
  if (head4 === "qoif") return "qoi";
  if (head4 === "8BPS") return "psd";
  if (head4 === "%PDF") return "pdf";
  if (buf[0] === 0x42 && buf[1] === 0x4d) return "bmp";
  if (buf.readUInt32BE(0) === 0x00000100) return "ico";
  if ((buf[0] === 0xff && buf[1] === 0x0a) || ascii(buf, 4, 8) === "JXL ") return "jxl";
  const text = buf.toString("utf8", 0, Math.min(buf.length, 512)).replace(/^\uFEFF/, "").trimStart();
  if (text.startsWith("<")) return "svg";
  return undefined;
}

export const MIME_TYPES: Record<"jpeg" | "png" | "webp" | "gif" | "avif" | "tiff", string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
  tiff: "image/tiff",
};

export const FILE_EXTENSIONS: Record<keyof typeof MIME_TYPES, string> = {
  jpeg: "jpg",
  png: "png",
  webp: "webp",
  gif: "gif",
  avif: "avif",
  tiff: "tiff",
};

/**
 * libvips loader classes for each allowed input. Everything else under
 * VipsForeignLoad (SVG, PDF, Magick, JPEG 2000, FITS, matrix, vips...) stays blocked.
 * AVIF goes through the HEIF loader; HEIC is refused before it by sniffing.
 */
export const LOADERS: Record<InputFormat, string[]> = {
  jpeg: ["VipsForeignLoadJpeg"],
  png: ["VipsForeignLoadPng"],
  webp: ["VipsForeignLoadWebp"],
  gif: ["VipsForeignLoadNsgif"],
  avif: ["VipsForeignLoadHeif"],
  tiff: ["VipsForeignLoadTiff"],
};
