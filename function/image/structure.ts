// Structure that makes decoding cost far more than the pixel count says,
// found by walking the container before any decoder sees the bytes. Pure: no
// sharp, no I/O, linear in the input's size. It only counts; whether the file
// is otherwise valid stays the decoders' call, so a walk that loses its way
// stops and lets the file through to them.
import { inflateSync } from "node:zlib";
import type { InputFormat } from "../../config/schema.ts";
import { ApiError } from "../errors.ts";

/**
 * Progressive JPEG scans. libjpeg makes a pass over every block of a scan's
 * components per scan, and a scan that codes only end-of-band runs (32,767
 * blocks per few bits) costs the file a few dozen bytes: a valid 135 KB
 * greyscale 6320x6320 JPEG of 882 such scans took 5.8 s of CPU to decode here,
 * a 404 KB three-channel one of 2,646 scans 19 s, and sharp's timeout cannot
 * stop it (test/support/scan-bomb.ts makes them). The libjpeg-turbo authors
 * call it LJT-01-003 and leave the limit to applications
 * (https://libjpeg-turbo.org/pmwiki/uploads/About/TwoIssueswiththeJPEGStandard.pdf);
 * their TurboJPEG API has TJPARAM_SCANLIMIT and their fuzzers use 500.
 * Chromium's decoder refuses a JPEG at scan 100, so a JPEG with more scans
 * shows in no Chrome browser. Real encoders write far fewer: libjpeg's
 * progression 10 (YCbCr) and 18 (CMYK), mozjpeg 3-8, Photoshop 3-5, and at
 * most 12 among test/fixtures. 100 scans of a 40 MP image cost 1.1-1.7 s
 * of CPU here (bench/hostile.ts measures the refusals).
 */
export const MAX_JPEG_SCANS = 100;

/**
 * Inflated bytes of a PNG's compressed metadata (zTXt, compressed iTXt,
 * iCCP), all chunks together. libvips inflates every compressed text chunk on
 * each read, header and decode alike, up to tens of MB each and with no limit
 * on their number: 50 zTXt chunks of 8 MB in a 390 KB PNG took 14 s of CPU and
 * 2.4 GB of memory here. Real files carry a few KB to a few MB (an ICC
 * profile, ImageMagick's "Raw profile" EXIF/XMP text). Measured and left
 * alone: chunk counts as such (100,000 tEXt, private or IDAT chunks read in
 * 20 ms: libvips' cost there is linear in the bytes).
 */
export const MAX_PNG_METADATA_BYTES = 16 * 1024 * 1024;

/**
 * Pixels a side. libvips' cost is not in proportion to pixels for extreme
 * shapes within the pixel limit: a 1x40,000,000 PNG took 10 s of CPU to
 * decode here, a 40,000,000x1 one 3.3 s (and 2.7 s just to fail on one with
 * no pixel data), while a 6324x6324 one takes 0.1 s. At most 65,535 a side
 * (the JPEG and GIF maximum; WebP's is 16,383), the worst shape, 65535x610,
 * takes 0.5 s. Only PNG, TIFF and AVIF grids can declare more.
 */
export const MAX_IMAGE_SIDE = 65_535;

// Also measured and left to other limits: TIFF in 16x16 tiles at 40 MP
// (156,250 tiles) decodes in 1.2 s; libtiff itself refuses progressive JPEG
// strips (a warning, so failOn "warning" does) and JPEG strips past 100
// scans. AVIF's structure is bounded by libheif's own security limits (at
// most 256 items, so 255 grid tiles); a 40 MP AVIF costs 2-4 s to decode
// whatever its tiling, which the pixel limit and the decode budget bound.
// GIF, WebP and TIFF frames are counted here against input.maxFrames, before
// libvips counts them itself: its count walks every frame (100,000 GIF frames
// cost 80 ms, 20,000 TIFF directories 120 ms, and a 50 MB upload holds 40
// times more).

export interface StructureLimits {
  maxFrames: number;
}

function tooComplex(message: string): ApiError {
  return new ApiError("IMAGE_TOO_COMPLEX", message);
}

/** Refuses an extreme shape, from the header's dimensions. */
export function checkDimensions(width: number, height: number): void {
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw tooComplex(`The image is ${width}x${height}; images wider or taller than ${MAX_IMAGE_SIDE} pixels are refused, whatever their pixel count. Crop or split it before uploading.`);
  }
}

/** Frames are counted up to here (a TIFF directory loop would never end; the walk's memory stays small). */
const FRAME_COUNT_CAP = 100_000;

function checkFrames(frames: number, limit: number): void {
  if (frames <= limit) return;
  const counted = frames > FRAME_COUNT_CAP ? `more than ${FRAME_COUNT_CAP}` : String(frames);
  throw new ApiError("TOO_MANY_FRAMES", `The image has ${counted} frames; the limit is ${limit}. Only the first frame is used, so upload a still image.`);
}

/** Scans (SOS markers) of the first JPEG in buf, counted up to `stopAt`; segments are skipped by length, so embedded thumbnails do not count. */
export function countJpegScans(buf: Buffer, stopAt = Infinity): number {
  let scans = 0;
  for (let i = 2; i < buf.length; ) {
    // Entropy-coded data and stray bytes are passed over, as libjpeg does, up to the next 0xFF.
    const ff = buf.indexOf(0xff, i);
    if (ff < 0) break;
    let at = ff + 1;
    while (at < buf.length && buf[at] === 0xff) at++; // fill bytes
    if (at >= buf.length) break;
    const marker = buf[at]!;
    // A stuffed zero, a restart marker or TEM: no length, still inside or between segments.
    if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i = at + 1;
      continue;
    }
    if (marker === 0xd9 || at + 2 >= buf.length) break; // EOI: libjpeg stops here (an MPO's next image is not read)
    const length = buf.readUInt16BE(at + 1);
    if (length < 2) break;
    if (marker === 0xda && ++scans >= stopAt) break;
    i = at + 1 + length;
  }
  return scans;
}

/** Inflated bytes of the compressed payload, or Infinity past `max`; undefined when it is not valid zlib (the decoder judges that). */
function inflatedSize(data: Buffer, max: number): number | undefined {
  try {
    return inflateSync(data, { maxOutputLength: max + 1 }).length;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" ? Infinity : undefined;
  }
}

/** Where a compressed metadata chunk's zlib stream starts, or -1 when the chunk is not compressed. */
function compressedPayload(type: string, data: Buffer): number {
  const keywordEnd = data.indexOf(0, 0);
  if (keywordEnd < 0) return -1;
  if (type === "zTXt" || type === "iCCP") return keywordEnd + 2; // compression method byte
  if (type !== "iTXt" || data[keywordEnd + 1] !== 1) return -1; // iTXt: compression flag, method, language\0, translated keyword\0
  const language = data.indexOf(0, keywordEnd + 3);
  const translated = language < 0 ? -1 : data.indexOf(0, language + 1);
  return translated < 0 ? -1 : translated + 1;
}

function checkPng(buf: Buffer): void {
  let left = MAX_PNG_METADATA_BYTES;
  for (let i = 8; i + 12 <= buf.length; ) {
    const length = buf.readUInt32BE(i);
    const type = buf.toString("latin1", i + 4, i + 8);
    if (length > buf.length - i - 12) break;
    if (type === "zTXt" || type === "iTXt" || type === "iCCP") {
      const data = buf.subarray(i + 8, i + 8 + length);
      const start = compressedPayload(type, data);
      const size = start < 0 ? 0 : inflatedSize(data.subarray(start), left) ?? 0;
      left -= size;
      if (left < 0) {
        throw tooComplex(
          `The PNG's compressed metadata (zTXt, iTXt, iCCP chunks) inflates to more than ${MAX_PNG_METADATA_BYTES / 1024 / 1024} MiB. Re-save it without its text metadata (for example with optipng -strip all or pngcrush -rem text).`,
        );
      }
    }
    if (type === "IEND") break;
    i += 12 + length;
  }
}

/** Image descriptors of a GIF, counted up to `stopAt`. */
export function countGifFrames(buf: Buffer, stopAt = Infinity): number {
  const skipSubBlocks = (at: number) => {
    while (at < buf.length && buf[at] !== 0) at += buf[at]! + 1;
    return at + 1;
  };
  const table = (packed: number) => (packed & 0x80 ? 3 * 2 ** ((packed & 0x07) + 1) : 0);
  let frames = 0;
  for (let i = 13 + table(buf[10] ?? 0); i < buf.length && frames < stopAt; ) {
    const block = buf[i];
    if (block === 0x21) i = skipSubBlocks(i + 2);
    else if (block === 0x2c && i + 10 < buf.length) {
      frames += 1;
      i = skipSubBlocks(i + 10 + table(buf[i + 9]!) + 1);
    } else break; // the trailer, or something only the decoder can judge
  }
  return frames;
}

/** ANMF (animation frame) chunks of a WebP, counted up to `stopAt`. */
export function countWebpFrames(buf: Buffer, stopAt = Infinity): number {
  let frames = 0;
  for (let i = 12; i + 8 <= buf.length && frames < stopAt; ) {
    const size = buf.readUInt32LE(i + 4);
    if (buf.toString("latin1", i, i + 4) === "ANMF") frames += 1;
    i += 8 + size + (size % 2);
  }
  return frames;
}

/** Image file directories (pages) of a TIFF or BigTIFF, counted up to `stopAt`; a loop ends the count. */
export function countTiffDirectories(buf: Buffer, stopAt = Infinity): number {
  const little = buf[0] === 0x49;
  const u16 = (at: number) => (little ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  const u32 = (at: number) => (little ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const u64 = (at: number) => Number(little ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at));
  const big = u16(2) === 43;
  // A header too short to hold the first directory's offset: the decoder refuses it as unreadable.
  if (buf.length < (big ? 16 : 8)) return 0;
  const seen = new Set<number>();
  let count = 0;
  for (let at = big ? u64(8) : u32(4); at > 0 && !seen.has(at) && count < stopAt; ) {
    seen.add(at);
    const entries = big ? (at + 8 <= buf.length ? u64(at) : undefined) : at + 2 <= buf.length ? u16(at) : undefined;
    if (entries === undefined) break;
    count += 1;
    const next = at + (big ? 8 + entries * 20 : 2 + entries * 12);
    if (next + (big ? 8 : 4) > buf.length) break;
    at = big ? u64(next) : u32(next);
  }
  return count;
}

/**
 * Refuses structure that would make decoding pathological: too many JPEG
 * scans or PNG metadata to inflate (IMAGE_TOO_COMPLEX), more frames than
 * allowed (TOO_MANY_FRAMES). Runs before any sharp call.
 */
export function checkStructure(buf: Buffer, format: InputFormat, limits: StructureLimits): void {
  try {
    checkFormat(buf, format, limits);
  } catch (e) {
    // A field pointing past the end: the file is truncated, whatever the walk expected to read there.
    if (e instanceof RangeError) throw new ApiError("UNREADABLE_IMAGE", "The image data is corrupt or truncated and cannot be decoded.", { cause: e });
    throw e;
  }
}

function checkFormat(buf: Buffer, format: InputFormat, limits: StructureLimits): void {
  const cap = FRAME_COUNT_CAP + 1;
  switch (format) {
    case "jpeg":
      if (countJpegScans(buf, MAX_JPEG_SCANS + 1) > MAX_JPEG_SCANS) {
        throw tooComplex(
          `The JPEG has more than ${MAX_JPEG_SCANS} scans (progressive passes); the limit is ${MAX_JPEG_SCANS}. Re-save it as a baseline JPEG, or with your encoder's standard progressive setting (10 scans or fewer).`,
        );
      }
      return;
    case "png":
      return checkPng(buf);
    case "gif":
      return checkFrames(countGifFrames(buf, cap), limits.maxFrames);
    case "webp":
      return checkFrames(countWebpFrames(buf, cap), limits.maxFrames);
    case "tiff":
      return checkFrames(countTiffDirectories(buf, cap), limits.maxFrames);
    case "avif":
      return;
  }
}
