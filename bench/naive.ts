// The reference the project's pipeline is held to: one sharp pipeline per
// size, each decoding the original again, written the way sharp's docs show.
// It uses the project's encoder settings (encodeAs), so the benchmark compares
// decode strategies only, and its resized pixels are what
// test/pipeline-equivalence.test.ts compares the fast path against.
import sharp, { type Sharp } from "sharp";
import type { RuntimeSettings, SizeSpec } from "../config/schema.ts";
import { decodeOptions, type ImageInfo, type InputLimits } from "../function/image/inspect.ts";
import { fitOf } from "../function/image/plan.ts";
import { encodeAs, planJobs } from "../function/image/render.ts";

type Sizes = ReadonlyArray<readonly [string, SizeSpec]>;

/**
 * Each size as its own pipeline from the original bytes, sized by sharp's own
 * options (not plan.ts). fastShrinkOnLoad is sharp's default (true), the
 * fastest naive code, which the benchmark times; false resizes each size
 * exactly from the original, which the equivalence test compares against.
 */
export function naivePipelines(original: Buffer, sizes: Sizes, limits: InputLimits, options: { fastShrinkOnLoad?: boolean } = {}): Sharp[] {
  return sizes.map(([, size]) =>
    sharp(original, decodeOptions(limits))
      .autoOrient()
      .resize({ width: size.width, height: size.height, fit: fitOf(size), position: "centre", withoutEnlargement: !size.enlarge, ...options }),
  );
}

/** The naive pipelines, encoded in parallel exactly as the project encodes. */
export async function naiveVariants(
  original: Buffer,
  info: ImageInfo,
  sizes: Sizes,
  settings: { output: RuntimeSettings["output"]; input: InputLimits },
): Promise<Buffer[]> {
  const jobs = planJobs(info, sizes, settings.output);
  const pipelines = naivePipelines(original, sizes, settings.input);
  return Promise.all(pipelines.map((p, i) => encodeAs(p, jobs[i]!, info.hasAlpha).toBuffer()));
}
