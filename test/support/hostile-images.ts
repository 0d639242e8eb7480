// The scan bomb's kin in the other accepted formats, made byte by byte: PNGs
// whose compressed text inflates to far more than their pixels, and GIF, WebP
// and TIFF files holding more frames than input.maxFrames in a few KB. Used
// by test/decode-cost.test.ts and bench/hostile.ts.
import { crc32, deflateSync } from "node:zlib";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A valid 16x16 grey PNG carrying `chunks` compressed text chunks that each inflate to `inflatedBytes`. */
export function pngTextBomb(chunks: number, inflatedBytes: number, type: "zTXt" | "iTXt" = "zTXt"): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(16, 0);
  ihdr.writeUInt32BE(16, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const text = deflateSync(Buffer.alloc(inflatedBytes, 0x41), { level: 9 });
  // zTXt: keyword, NUL, method 0; iTXt: keyword, NUL, compressed 1, method 0, language NUL, translated keyword NUL.
  const head = type === "zTXt" ? Buffer.from("Comment\0\0", "latin1") : Buffer.from("Comment\0\x01\0\0\0", "latin1");
  const chunk = pngChunk(type, Buffer.concat([head, text]));
  const rows = deflateSync(Buffer.concat(Array.from({ length: 16 }, () => Buffer.from([0, ...new Array<number>(16).fill(0x80)]))));
  return Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr), ...new Array<Buffer>(chunks).fill(chunk), pngChunk("IDAT", rows), pngChunk("IEND", Buffer.alloc(0))]);
}

/** A greyscale PNG declaring width x height, with one row of pixel data (refusals come from the header). */
export function pngShape(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const row = deflateSync(Buffer.alloc(Math.min(width, 65_536) + 1));
  return Buffer.concat([PNG_SIGNATURE, pngChunk("IHDR", ihdr), pngChunk("IDAT", row), pngChunk("IEND", Buffer.alloc(0))]);
}

/** A GIF89a of `frames` 1x1 frames (15 bytes each). */
export function gifFrames(frames: number): Buffer {
  const head = Buffer.from("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff", "latin1");
  const frame = Buffer.from([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x02, 0x44, 0x01, 0x00]);
  return Buffer.concat([head, ...new Array<Buffer>(frames).fill(frame), Buffer.from([0x3b])]);
}

// One lossless 1x1 red pixel, as libwebp encodes it (a VP8L chunk, padded to even).
const VP8L_1X1 = Buffer.from("5650384c0f0000002f000000000710fd8ffe0722a2ff0100", "hex");

function riffChunk(fourcc: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(fourcc, 0, "latin1");
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** An animated WebP of `frames` 1x1 frames (40 bytes each). */
export function webpFrames(frames: number): Buffer {
  const vp8x = Buffer.alloc(10);
  vp8x[0] = 0x02; // animation
  const anim = Buffer.alloc(6);
  const anmf = Buffer.alloc(16);
  anmf.writeUIntLE(100, 12, 3); // duration in ms; position 0,0 and size 1x1 (stored minus one) are zeros
  const frame = riffChunk("ANMF", Buffer.concat([anmf, VP8L_1X1]));
  const body = Buffer.concat([Buffer.from("WEBP", "latin1"), riffChunk("VP8X", vp8x), riffChunk("ANIM", anim), ...new Array<Buffer>(frames).fill(frame)]);
  const riff = Buffer.alloc(8);
  riff.write("RIFF", 0, "latin1");
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** A little-endian TIFF of `pages` 1x1 greyscale directories, chained (123 bytes each). */
export function tiffPages(pages: number): Buffer {
  const header = Buffer.from([0x49, 0x49, 42, 0, 8, 0, 0, 0]);
  const tags = 9;
  const size = 2 + tags * 12 + 4 + 1; // the directory, the next offset, one pixel
  const parts = [header];
  for (let i = 0, at = 8; i < pages; i++, at += size) {
    const ifd = Buffer.alloc(size);
    ifd.writeUInt16LE(tags, 0);
    // ImageWidth, ImageLength, BitsPerSample, Compression (none), Photometric (black is zero),
    // StripOffsets, SamplesPerPixel, RowsPerStrip, StripByteCounts.
    const entries: Array<[number, number, number]> = [[256, 4, 1], [257, 4, 1], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, at + size - 1], [277, 3, 1], [278, 4, 1], [279, 4, 1]];
    entries.forEach(([tag, type, value], e) => {
      const o = 2 + e * 12;
      ifd.writeUInt16LE(tag, o);
      ifd.writeUInt16LE(type, o + 2);
      ifd.writeUInt32LE(1, o + 4);
      if (type === 3) ifd.writeUInt16LE(value, o + 8);
      else ifd.writeUInt32LE(value, o + 8);
    });
    ifd.writeUInt32LE(i === pages - 1 ? 0 : at + size, 2 + tags * 12);
    ifd[size - 1] = 0x80;
    parts.push(ifd);
  }
  return Buffer.concat(parts);
}
