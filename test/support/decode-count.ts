// Counts decodes of encoded images, process-wide, by spying on sharp's
// pipeline the way sharp-calls.ts does: an output call (toBuffer, toFile,
// stats) on a pipeline whose input is encoded bytes decodes them; one whose
// input is raw pixels (sharp(data, { raw })) only resizes or encodes pixels
// already in memory and is not counted. Header reads (metadata) are counted
// apart. Without timing anything.
import sharp from "sharp";

const OUTPUTS = ["stats", "toBuffer", "toFile"] as const;

export interface DecodeCount {
  /** Output calls on encoded input: decodes of an image file. */
  readonly decodes: number;
  /** Output calls on raw pixels (resizing or encoding a decoded intermediate). */
  readonly fromPixels: number;
  readonly headerReads: number;
  restore(): void;
}

type Pipeline = { options?: { input?: { rawWidth?: number; buffer?: unknown; createWidth?: number } } };

export function countDecodes(): DecodeCount {
  const proto = Object.getPrototypeOf(sharp()) as Record<string, (...args: unknown[]) => unknown>;
  const names = [...OUTPUTS, "metadata"] as const;
  const saved = names.map((name) => [name, proto[name]!] as const);
  const counts = { decodes: 0, fromPixels: 0, headerReads: 0 };
  for (const [name, original] of saved) {
    proto[name] = function (this: Pipeline, ...args: unknown[]) {
      const input = this.options?.input;
      if (name === "metadata") counts.headerReads += 1;
      else if (input?.rawWidth !== undefined || input?.createWidth !== undefined) counts.fromPixels += 1;
      else counts.decodes += 1;
      return original.apply(this, args);
    };
  }
  return {
    get decodes() {
      return counts.decodes;
    },
    get fromPixels() {
      return counts.fromPixels;
    },
    get headerReads() {
      return counts.headerReads;
    },
    restore() {
      for (const [name, original] of saved) proto[name] = original;
    },
  };
}
