// The CPU comparison: every contestant makes the configured sizes of every
// input, in one process, interleaved over several rounds (a different order
// each round), and the median CPU ms per image is kept.
import { join } from "node:path";
import sharp from "sharp";
import type { RuntimeSettings, SizeSpec } from "../config/schema.ts";
import { inspectImage } from "../function/image/inspect.ts";
import { planJobs, renderVariants } from "../function/image/render.ts";
import type { BenchInput } from "./inputs.ts";
import { jimpReads, jimpVariants } from "./jimp.ts";
import { measure, median, round } from "./measure.ts";
import { naiveVariants } from "./naive.ts";
import { vipsthumbnailCpuMs } from "./vipsthumbnail.ts";

export type Output = "jpeg" | "webp";
export type Name = "project" | "naive" | "jimp" | "vipsthumbnail";
type Sizes = Array<[string, SizeSpec]>;

export interface CpuOptions {
  settings: RuntimeSettings;
  rounds: number;
  /** jimp takes seconds per image: fewer samples of it keep the run short. */
  jimpRounds: number;
  /** Where the inputs are written as files, for vipsthumbnail; undefined when it is not installed. */
  vipsthumbnailDir: string | undefined;
  progress: (line: string) => void;
}

export interface CpuRow {
  input: string;
  label: string;
  width: number;
  height: number;
  bytes: number;
  jpeg: CpuResult;
  webp: CpuResult;
}

export interface CpuResult {
  cpuMs: Partial<Record<Name, number>>;
  projectOverNaive: number;
  projectOverJimp: number | undefined;
}

interface Contestant {
  name: Name;
  output: Output;
  applies: (input: BenchInput) => boolean;
  /** One image, all sizes; resolves to the CPU ms it took. */
  run: (input: BenchInput) => Promise<number>;
}

/** The default sizes, all written in one format. */
export function sizesAs(settings: RuntimeSettings, format: Output): Sizes {
  return Object.entries(settings.sizes).map(([name, spec]) => [name, { ...spec, format }]);
}

function contestants({ settings, vipsthumbnailDir }: CpuOptions): Contestant[] {
  const quality = settings.output.quality;
  const all: Contestant[] = [];
  for (const output of ["jpeg", "webp"] as const) {
    const sizes = sizesAs(settings, output);
    // The project's work per image: header inspection, then every size.
    const project = async (input: BenchInput) => renderVariants(input.buf, await inspectImage(input.buf, settings.input), sizes, settings);
    all.push({ name: "project", output, applies: () => true, run: async (input) => (await measure(() => project(input))).cpuMs });
    all.push({ name: "naive", output, applies: () => true, run: async (input) => (await measure(() => naiveVariants(input.buf, input.info, sizes, settings))).cpuMs });
  }
  const jpeg = sizesAs(settings, "jpeg");
  all.push({ name: "jimp", output: "jpeg", applies: (i) => jimpReads(i.info.format), run: async (input) => (await measure(() => jimpVariants(input.buf, input.info, jpeg, quality))).cpuMs });
  if (vipsthumbnailDir !== undefined) {
    all.push({
      name: "vipsthumbnail",
      output: "jpeg",
      applies: () => true,
      run: async (input) => vipsthumbnailCpuMs(join(vipsthumbnailDir, input.id), vipsthumbnailDir, planJobs(input.info, jpeg, settings.output), quality),
    });
  }
  return all;
}

/** Before timing anything: every contestant makes every size at the planned dimensions (and is warmed up). */
export async function verifyOutputs(input: BenchInput, settings: RuntimeSettings): Promise<void> {
  const sizes = sizesAs(settings, "jpeg");
  const want = planJobs(input.info, sizes, settings.output).map((j) => `${j.plan.width}x${j.plan.height}`);
  const dims = async (bufs: Buffer[]) => Promise.all(bufs.map(async (b) => sharp(b).metadata().then((m) => `${m.width}x${m.height}`)));
  const made: Array<[string, string[]]> = [
    ["project", (await renderVariants(input.buf, input.info, sizes, settings)).map((v) => `${v.width}x${v.height}`)],
    ["naive", await dims(await naiveVariants(input.buf, input.info, sizes, settings))],
  ];
  if (jimpReads(input.info.format)) made.push(["jimp", await dims(await jimpVariants(input.buf, input.info, sizes, settings.output.quality))]);
  for (const [name, got] of made) {
    if (got.join() !== want.join()) throw new Error(`${name} made ${got.join(", ")} from ${input.id}, expected ${want.join(", ")}`);
  }
}

export async function compareCpu(inputs: BenchInput[], options: CpuOptions): Promise<CpuRow[]> {
  const list = contestants(options);
  const samples = new Map<string, number[]>();
  const key = (input: BenchInput, c: Contestant) => `${input.id}/${c.output}/${c.name}`;
  for (let r = 0; r < options.rounds; r++) {
    // A different order each round, so no contestant always runs first or right after jimp.
    const order = list.map((_, i) => list[(i + r) % list.length]!);
    for (const input of inputs) {
      for (const c of order) {
        if (!c.applies(input) || (c.name === "jimp" && r >= options.jimpRounds)) continue;
        const k = key(input, c);
        samples.set(k, [...(samples.get(k) ?? []), await c.run(input)]);
      }
    }
    options.progress(`  round ${r + 1}/${options.rounds} done`);
  }
  return inputs.map((input) => {
    const per = (output: Output): CpuResult => {
      const taken = list.filter((c) => c.output === output && c.applies(input));
      const cpuMs = Object.fromEntries(taken.map((c) => [c.name, round(median(samples.get(key(input, c))!), 1)])) as Partial<Record<Name, number>>;
      return { cpuMs, projectOverNaive: cpuMs.project! / cpuMs.naive!, projectOverJimp: cpuMs.jimp === undefined ? undefined : cpuMs.project! / cpuMs.jimp };
    };
    return { input: input.id, label: input.label, width: input.info.width, height: input.info.height, bytes: input.buf.length, jpeg: per("jpeg"), webp: per("webp") };
  });
}
