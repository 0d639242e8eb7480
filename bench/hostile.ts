// Hostile inputs' cost: each scan bomb and its kin from test/support, POSTed
// to the handler (createApp) with a store that fails if it is ever called,
// CPU-timed per refusal. The acceptance target: every refusal in under one
// second of CPU (the issue's bar), at the default limits. With `unchecked`,
// also what the JPEG bombs cost sharp without the structural check (the
// "before" figures; about half a minute of CPU, so off by default).
import type { S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp } from "../function/app.ts";
import { decodeOptions } from "../function/image/inspect.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { responseJson, uploadEvent } from "../test/support/events.ts";
import { gifFrames, pngShape, pngTextBomb, tiffPages, webpFrames } from "../test/support/hostile-images.ts";
import { scanBomb } from "../test/support/scan-bomb.ts";
import { measure, median, round } from "./measure.ts";
import { check, type Check } from "./acceptance.ts";

export const REFUSAL_CPU_TARGET_MS = 1000;

export interface HostileRow {
  name: string;
  bytes: number;
  /** The handler's answer, e.g. "422 IMAGE_TOO_COMPLEX". */
  answer: string;
  cpuMs: number;
  wallMs: number;
  /** CPU of sharp decoding it without the check (only with `unchecked`). */
  uncheckedCpuMs?: number;
}

export interface HostileResults {
  rows: HostileRow[];
  acceptance: Check[];
}

function hostileInputs(settings: RuntimeSettings): Array<[string, Buffer]> {
  const side = Math.floor(Math.sqrt(settings.input.maxPixels));
  const frames = settings.input.maxFrames + 1;
  return [
    [`JPEG ${side}x${side}, 1 channel, 882 scans`, scanBomb({ width: side, height: side, channels: 1, scans: 882 })],
    [`JPEG ${side}x${side}, 3 channels, 2646 scans`, scanBomb({ width: side, height: side, channels: 3, scans: 2646 })],
    [`JPEG ${side}x${side}, 3 channels, 101 scans`, scanBomb({ width: side, height: side, channels: 3, scans: 101 })],
    ["PNG, 3 zTXt chunks of 8 MB", pngTextBomb(3, 8_000_000)],
    ["PNG, 500 zTXt chunks of 8 MB", pngTextBomb(500, 8_000_000)],
    ["PNG 40000000x1", pngShape(40_000_000, 1)],
    ["PNG 1x40000000", pngShape(1, 40_000_000)],
    [`GIF, ${frames} frames`, gifFrames(frames)],
    ["GIF, 250000 frames", gifFrames(250_000)],
    [`WebP, ${frames} frames`, webpFrames(frames)],
    [`TIFF, ${frames} pages`, tiffPages(frames)],
  ];
}

/** A store whose S3 client fails every call: a refusal must never reach storage. */
function refusingStore(): ImageStore {
  const s3 = { send: () => Promise.reject(new Error("a hostile input reached S3")) } as unknown as S3Client;
  return new ImageStore(s3, "imgapi-bench-hostile");
}

export async function measureHostile(settings: RuntimeSettings, options: { rounds?: number; unchecked?: boolean } = {}): Promise<HostileResults> {
  const rounds = options.rounds ?? 3;
  const handler = createApp({ store: refusingStore(), settings, log: () => {} });
  const rows: HostileRow[] = [];
  for (const [name, bytes] of hostileInputs(settings)) {
    let answer = "";
    const samples = [];
    for (let i = 0; i < rounds; i++) {
      samples.push(
        await measure(async () => {
          const res = await handler(uploadEvent(bytes, { contentType: "image/jpeg" }));
          answer = `${res.statusCode} ${res.statusCode >= 400 ? responseJson<{ error: { code: string } }>(res).error.code : ""}`.trim();
        }),
      );
    }
    const row: HostileRow = { name, bytes: bytes.length, answer, cpuMs: round(median(samples.map((s) => s.cpuMs)), 1), wallMs: round(median(samples.map((s) => s.wallMs)), 1) };
    if (options.unchecked && name.startsWith("JPEG")) {
      const decode = await measure(() => sharp(bytes, decodeOptions(settings.input)).resize(256, 256, { fit: "inside" }).raw().toBuffer());
      row.uncheckedCpuMs = round(decode.cpuMs);
    }
    rows.push(row);
  }
  const acceptance = rows.map((r) => check(`hostile input refused (${r.name}, ${r.answer})`, r.answer.startsWith("422") ? r.cpuMs : NaN, REFUSAL_CPU_TARGET_MS, "ms CPU"));
  return { rows, acceptance };
}

export function formatHostile({ rows }: HostileResults): string {
  const lines = rows.map((r) => `  ${r.name.padEnd(42)} ${String(r.bytes).padStart(9)} B  ${r.answer.padEnd(26)} ${r.cpuMs.toFixed(1).padStart(7)} ms CPU ${r.wallMs.toFixed(1).padStart(7)} ms wall${r.uncheckedCpuMs === undefined ? "" : `  (unchecked decode: ${r.uncheckedCpuMs} ms CPU)`}`);
  return [`hostile inputs, refused through POST /images (median; target < ${REFUSAL_CPU_TARGET_MS} ms CPU each):`, ...lines].join("\n");
}
