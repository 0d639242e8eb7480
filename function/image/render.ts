// The pure image core: original bytes + sizes -> encoded variants. No AWS, no HTTP.
//
// Several sizes are made from ONE decode: the original is decoded (with JPEG /
// WebP shrink-on-load) at the largest scale any size needs, then every size is
// resized from that intermediate and encoded in parallel. Decoding dominates
// the cost of a large photo, so this is much cheaper than one full pipeline per
// size (see bench/).
import sharp from "sharp";
import type { OutputInfo, Sharp } from "sharp";
import type { RuntimeSettings, SizeSpec } from "../../config/schema.ts";
import { decodeOptions, unreadable, type ImageInfo, type InputLimits } from "./inspect.ts";
import { chooseOutput, type OutputChoice } from "./output.ts";
import { planVariant, type VariantPlan } from "./plan.ts";

export interface Variant extends OutputChoice {
  size: string;
  width: number;
  height: number;
  data: Buffer;
}

interface Job {
  name: string;
  plan: VariantPlan;
  output: OutputChoice;
}

function encode(pipeline: Sharp, job: Job, hasAlpha: boolean): Sharp {
  const { width, height, crop } = job.plan;
  // "fill" is exact because the plan keeps the aspect ratio (to a rounding);
  // "cover" crops the centre of the scaled image to the box.
  let p = pipeline.resize(width, height, { fit: crop ? "cover" : "fill", position: "centre" });
  const { format, quality } = job.output;
  if (format === "jpeg") {
    if (hasAlpha) p = p.flatten({ background: "#ffffff" });
    return p.jpeg({ quality });
  }
  if (format === "png") return p.png({ compressionLevel: 9, adaptiveFiltering: false });
  if (format === "webp") return p.webp({ quality, effort: 4 });
  if (format === "avif") return p.avif({ quality, effort: 4 });
  return p.gif();
}

async function run(pipeline: Sharp, job: Job): Promise<Variant> {
  try {
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return { size: job.name, ...job.output, width: info.width, height: info.height, data };
  } catch (e) {
    throw unreadable(e);
  }
}

export async function renderVariants(
  original: Buffer,
  info: ImageInfo,
  sizes: ReadonlyArray<readonly [string, SizeSpec]>,
  settings: { output: RuntimeSettings["output"]; input: InputLimits },
): Promise<Variant[]> {
  const jobs: Job[] = sizes.map(([name, size]) => ({
    name,
    plan: planVariant(info, size),
    output: chooseOutput(size, settings.output, info),
  }));
  const source = () => sharp(original, decodeOptions(settings.input)).autoOrient();
  if (jobs.length <= 1) {
    return Promise.all(jobs.map((job) => run(encode(source(), job, info.hasAlpha), job)));
  }

  // One decode at the largest scale needed; never below the largest output.
  const scale = Math.max(...jobs.map((j) => j.plan.scale));
  let base = source().toColourspace("srgb");
  if (scale < 1) {
    base = base.resize(Math.max(1, Math.round(info.width * scale)), Math.max(1, Math.round(info.height * scale)), {
      fit: "fill",
    });
  }
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await base.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw unreadable(e);
  }
  const raw = { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels };
  const hasAlpha = raw.channels === 2 || raw.channels === 4;
  return Promise.all(jobs.map((job) => run(encode(sharp(decoded.data, { raw }), job, hasAlpha), job)));
}
