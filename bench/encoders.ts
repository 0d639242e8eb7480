// Encoder effort, measured: each output format at 1600 px wide, from the same
// raw pixels, with the project's settings (encodeAs) and with sharp's
// defaults. AVIF is what can push a request towards API Gateway's 29 s.
import sharp, { type Sharp } from "sharp";
import type { RuntimeSettings } from "../config/schema.ts";
import { inspectImage } from "../function/image/inspect.ts";
import type { EncodedFormat } from "../function/image/output.ts";
import { AVIF_EFFORT, encodeAs, renderVariants, WEBP_EFFORT, type Job } from "../function/image/render.ts";
import { measure, median } from "./measure.ts";

export interface EncoderResult {
  format: EncodedFormat;
  chosen: string;
  chosenMs: number;
  chosenKb: number;
  sharpDefault: string;
  defaultMs: number;
  defaultKb: number;
}

const QUALITY = 80;

const DEFAULTS: Record<"jpeg" | "webp" | "avif" | "png", [string, (p: Sharp) => Sharp]> = {
  jpeg: ["quality 80 (libjpeg-turbo)", (p) => p.jpeg({ quality: QUALITY })],
  webp: ["effort 4", (p) => p.webp({ quality: QUALITY })],
  avif: ["effort 4", (p) => p.avif({ quality: QUALITY })],
  png: ["compressionLevel 6, adaptive filtering", (p) => p.png()],
};

const CHOSEN: Record<keyof typeof DEFAULTS, string> = {
  jpeg: "quality 80 (libjpeg-turbo)",
  webp: `effort ${WEBP_EFFORT}`,
  avif: `effort ${AVIF_EFFORT}`,
  png: "compressionLevel 9, no adaptive filtering",
};

/** Each format's chosen and default settings, `rounds` times each, interleaved; median CPU ms. */
export async function measureEncoders(photo: Buffer, rounds: number): Promise<EncoderResult[]> {
  const { data, info } = await sharp(photo).resize({ width: 1600 }).raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  const results: EncoderResult[] = [];
  for (const format of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const job: Job = {
      name: "large",
      plan: { width: info.width, height: info.height, scale: 1, crop: false },
      output: { format, quality: QUALITY, contentType: "", extension: "" },
    };
    const chosen: number[] = [];
    const defaults: number[] = [];
    let chosenBytes = 0;
    let defaultBytes = 0;
    for (let r = 0; r < rounds; r++) {
      chosen.push((await measure(async () => (chosenBytes = (await encodeAs(sharp(data, { raw }), job, false).toBuffer()).length))).cpuMs);
      defaults.push((await measure(async () => (defaultBytes = (await DEFAULTS[format][1](sharp(data, { raw })).toBuffer()).length))).cpuMs);
    }
    results.push({
      format,
      chosen: CHOSEN[format],
      chosenMs: median(chosen),
      chosenKb: chosenBytes / 1024,
      sharpDefault: DEFAULTS[format][0],
      defaultMs: median(defaults),
      defaultKb: defaultBytes / 1024,
    });
  }
  return results;
}

/**
 * An AVIF size of a real 6 MP photo, rendered as a request renders it (decode,
 * resize, encode at the project's effort) with the bench's one libvips thread,
 * as on a 1536 MB Lambda: the slowest encoder against API Gateway's 29 s.
 * Median CPU ms of `rounds`.
 */
export async function measureAvifRender(photo: Buffer, settings: RuntimeSettings, rounds: number): Promise<number> {
  const info = await inspectImage(photo, settings.input);
  const spec = { ...settings.sizes.large!, format: "avif" as const };
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) samples.push((await measure(() => renderVariants(photo, info, [["large", spec]], settings))).cpuMs);
  return median(samples);
}
