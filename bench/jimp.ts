// jimp, the pure-JavaScript library many Node users reach for: decode once,
// clone per size, resize or cover, encode. It has no WebP or AVIF codec, so
// the comparison with it is made in JPEG. Sizes come from plan.ts, so its
// outputs have the same dimensions as the project's.
import { Jimp } from "jimp";
import type { SizeSpec } from "../config/schema.ts";
import type { ImageInfo } from "../function/image/inspect.ts";
import { planVariant } from "../function/image/plan.ts";

/** The input formats jimp can decode without plugins. */
export function jimpReads(format: string): boolean {
  return ["jpeg", "png", "gif", "tiff"].includes(format);
}

export async function jimpVariants(original: Buffer, info: ImageInfo, sizes: ReadonlyArray<readonly [string, SizeSpec]>, quality: number): Promise<Buffer[]> {
  const image = await Jimp.read(original);
  return Promise.all(
    sizes.map(([, size]) => {
      const plan = planVariant(info, size);
      const copy = image.clone();
      if (plan.crop) copy.cover({ w: plan.width, h: plan.height });
      else if (plan.width !== copy.width || plan.height !== copy.height) copy.resize({ w: plan.width, h: plan.height });
      return copy.getBuffer("image/jpeg", { quality });
    }),
  );
}
