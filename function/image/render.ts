// The pure image core: original bytes + sizes -> encoded variants (and a
// placeholder from the same decode). No AWS, no HTTP.
//
// Several sizes are made from ONE decode: the original is decoded (with JPEG /
// WebP shrink-on-load) at the largest scale any size needs, then every size is
// resized from that raw intermediate and encoded in parallel. The naive way,
// one sharp pipeline per size, decodes the original once per size: sharp's
// clone() does not help, since for a Buffer input each clone decodes again.
// test/pipeline-equivalence.test.ts holds the output to the naive pipeline's
// (same dimensions, PSNR >= 38 dB); `npm run bench` measures the saving.
import sharp from "sharp";
import type { OutputInfo, Sharp } from "sharp";
import type { RuntimeSettings, SizeSpec } from "../../config/schema.ts";
import type { DecodeBudget } from "./budget.ts";
import { budgetOf, decodeOptions, unreadable, type ImageInfo, type InputLimits } from "./inspect.ts";
import { ApiError } from "../errors.ts";
import { cropOf, resizeWithCrop, type Crop, type Focus } from "./crop.ts";
import { chooseOutput, type OutputChoice } from "./output.ts";
import { placeholderOf, toPlaceholderPixels, type Placeholder, type PlaceholderPixels } from "./placeholder.ts";
import { planVariant, type VariantPlan } from "./plan.ts";

export interface Variant extends OutputChoice {
  size: string;
  width: number;
  height: number;
  data: Buffer;
}

/** One size to make: its exact dimensions, its crop and how it is encoded. */
export interface Job {
  name: string;
  plan: VariantPlan;
  output: OutputChoice;
  /** Undefined: the centre. */
  crop?: Crop;
}

/** A size's resized image, not yet encoded. */
export interface Resized {
  job: Job;
  pipeline: Sharp;
  /** Whether the pixels the encoder gets carry alpha. */
  hasAlpha: boolean;
}

type Settings = { output: RuntimeSettings["output"]; input: InputLimits };

/**
 * Encoder effort, chosen per format for a function that must answer within API
 * Gateway's 29 s on well under one vCPU. WebP, the default output, is where an
 * upload's CPU goes; npm run bench:webp measures every effort on the default
 * sizes of the bench's inputs (README, "WebP effort"): 3 makes the same bytes
 * at the same SSIM as libwebp's default 4 for 6-14% less CPU; 2 would halve
 * the CPU but make every later download 3-6% larger, which costs more than it
 * saves once an image is downloaded about twice; smartSubsample keeps more
 * colour for 17% more bytes and 80% more CPU, so it stays off. AVIF: aom at
 * effort 4 (sharp's default) takes about 7 s of CPU for 1600 px, effort 3
 * about 1.3 s for files about 1% larger, so 3; above AVIF_FAST_PIXELS effort
 * 0 (about 6x faster again, 5-7% larger), so that even a 40 MP AVIF output
 * stays a few seconds rather than half a minute.
 */
export const WEBP_EFFORT = 3;
export const AVIF_EFFORT = 3;
export const AVIF_FAST_EFFORT = 0;
export const AVIF_FAST_PIXELS = 4_000_000;

export function planJobs(info: ImageInfo, sizes: ReadonlyArray<readonly [string, SizeSpec]>, defaults: RuntimeSettings["output"], focus?: Focus): Job[] {
  return sizes.map(([name, size]) => ({ name, plan: planVariant(info, size), output: chooseOutput(size, defaults, info), crop: cropOf(size, focus) }));
}

/** The encoder and its settings for a size: shared with bench/naive.ts so only the decode strategy differs. */
export function encodeAs(pipeline: Sharp, job: Job, hasAlpha: boolean): Sharp {
  const { format, quality } = job.output;
  if (format === "jpeg") return (hasAlpha ? pipeline.flatten({ background: "#ffffff" }) : pipeline).jpeg({ quality });
  if (format === "png") return pipeline.png({ compressionLevel: 9, adaptiveFiltering: false });
  if (format === "webp") return pipeline.webp({ quality, effort: WEBP_EFFORT });
  if (format === "avif") {
    const effort = job.plan.width * job.plan.height > AVIF_FAST_PIXELS ? AVIF_FAST_EFFORT : AVIF_EFFORT;
    return pipeline.avif({ quality, effort });
  }
  return pipeline.gif();
}

/** Options of a render: a placeholder from its decode, a focal point for cover crops. */
export interface RenderOptions {
  placeholder?: boolean;
  focus?: Focus | undefined;
}

/**
 * Every size, resized but not encoded, and the placeholder's pixels when
 * asked. With one size and no placeholder this is the plain pipeline;
 * otherwise the original is decoded once into a raw sRGB intermediate at the
 * largest scale any size needs (never smaller than the largest output, so no
 * size is upscaled from it), and each size, and the placeholder, is resized
 * from that. With no size, the placeholder alone is decoded, as small as it is.
 */
export async function decodeOnce(
  original: Buffer,
  info: ImageInfo,
  jobs: Job[],
  limits: InputLimits,
  budget = budgetOf(limits),
  options: { placeholder?: boolean } = {},
): Promise<{ resized: Resized[]; placeholder?: PlaceholderPixels }> {
  const source = () => sharp(original, decodeOptions(limits)).autoOrient();
  const run = async <T>(pipeline: () => Promise<T>): Promise<T> => {
    try {
      return await pipeline();
    } catch (e) {
      throw e instanceof ApiError ? e : unreadable(e, budget);
    }
  };
  if (jobs.length === 0 && options.placeholder) {
    const { data, info: out } = await run(() => budget.apply(toPlaceholderPixels(source())).toBuffer({ resolveWithObject: true }));
    return { resized: [], placeholder: { data, width: out.width, height: out.height } };
  }
  if (jobs.length <= 1 && !options.placeholder) return { resized: jobs.map((job) => ({ job, pipeline: resizeWithCrop(source(), job.plan, job.crop ?? "centre"), hasAlpha: info.hasAlpha })) };

  const scale = Math.max(...jobs.map((j) => j.plan.scale));
  let base = source().toColourspace("srgb");
  // Here sharp's fast shrink-on-load is kept: the decoder (JPEG DCT scaling,
  // libwebp's scaler) reduces by as much as leaves at least this size, and
  // the smaller sizes, resized again from it with lanczos3, lose its moire.
  if (scale < 1) base = base.resize(Math.max(1, Math.round(info.width * scale)), Math.max(1, Math.round(info.height * scale)), { fit: "fill" });
  const decoded: { data: Buffer; info: OutputInfo } = await run(() => budget.apply(base).raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true }));
  const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
  const hasAlpha = raw.channels === 2 || raw.channels === 4;
  const resized = jobs.map((job) => ({ job, pipeline: resizeWithCrop(sharp(decoded.data, { raw }), job.plan, job.crop ?? "centre"), hasAlpha }));
  if (!options.placeholder) return { resized };
  // From pixels already in memory: a resize, not a second decode of the original.
  const small = await run(() => budget.apply(toPlaceholderPixels(sharp(decoded.data, { raw }))).toBuffer({ resolveWithObject: true }));
  return { resized, placeholder: { data: small.data, width: small.info.width, height: small.info.height } };
}

/** Every size, resized but not encoded (decodeOnce without a placeholder). Exported for the equivalence test, which compares these pixels. */
export async function resizeAll(original: Buffer, info: ImageInfo, jobs: Job[], limits: InputLimits, budget = budgetOf(limits)): Promise<Resized[]> {
  return (await decodeOnce(original, info, jobs, limits, budget)).resized;
}

async function encode({ job, pipeline, hasAlpha }: Resized, budget: DecodeBudget): Promise<Variant> {
  try {
    const { data, info } = await budget.apply(encodeAs(pipeline, job, hasAlpha)).toBuffer({ resolveWithObject: true });
    return { size: job.name, ...job.output, width: info.width, height: info.height, data };
  } catch (e) {
    throw e instanceof ApiError ? e : unreadable(e, budget);
  }
}

/** Every size encoded, and the placeholder when asked, from one decode of the original. */
export async function renderImage(
  original: Buffer,
  info: ImageInfo,
  sizes: ReadonlyArray<readonly [string, SizeSpec]>,
  settings: Settings,
  budget = budgetOf(settings.input),
  options: RenderOptions = {},
): Promise<{ variants: Variant[]; placeholder?: Placeholder }> {
  const jobs = planJobs(info, sizes, settings.output, options.focus);
  const decoded = await decodeOnce(original, info, jobs, settings.input, budget, { placeholder: options.placeholder ?? false });
  // Encoded in parallel: each toBuffer() runs on its own libuv thread.
  const variants = await Promise.all(decoded.resized.map((r) => encode(r, budget)));
  return { variants, ...(decoded.placeholder === undefined ? {} : { placeholder: placeholderOf(decoded.placeholder) }) };
}

/** The variants alone (the placeholder not asked for). */
export async function renderVariants(...args: Parameters<typeof renderImage>): Promise<Variant[]> {
  return (await renderImage(...args)).variants;
}
