// npm run bench:webp: WebP, the default output, is where an upload's CPU goes.
// Every effort (0-6) with and without smartSubsample, at the configured
// quality, on the three default sizes of the bench's inputs (the 24 MP photo
// and the fixtures): CPU of the encodes, bytes, and SSIM against the resized
// pixels before encoding. SSIM (ssim.js, MIT) is taken on each of R, G and B
// and averaged, so the chroma that smartSubsample keeps counts; at full size
// (ssim.js would otherwise downsample to 256 px and hide what effort changes).
// Prints the table the README carries; function/image/render.ts's
// WEBP_EFFORT is chosen from it.
import sharp from "sharp";
import { ssim } from "ssim.js";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { planJobs, resizeAll, WEBP_EFFORT } from "../function/image/render.ts";
import { load1 } from "./acceptance.ts";
import { sizesAs } from "./cpu.ts";
import { LARGE_ID, loadInputs, type BenchInput } from "./inputs.ts";
import { measure, median, round } from "./measure.ts";

const ROUNDS = 3;
const EFFORTS = [0, 1, 2, 3, 4, 5, 6];

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

interface Setting {
  effort: number;
  smartSubsample: boolean;
}

/** The three sizes of an input as the pipeline resizes them, before encoding. */
async function resizedSizes(input: BenchInput, settings: ReturnType<typeof settingsFromEnv>): Promise<Raw[]> {
  const jobs = planJobs(input.info, sizesAs(settings, "webp"), settings.output);
  const resized = await resizeAll(input.buf, input.info, jobs, settings.input);
  return Promise.all(
    resized.map(async ({ pipeline }) => {
      const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
      return { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 };
    }),
  );
}

/** One channel of an image as grey RGBA, the form ssim.js reads. */
function plane(raw: Raw, channel: number): { data: Uint8ClampedArray; width: number; height: number } {
  const out = new Uint8ClampedArray(raw.width * raw.height * 4);
  for (let i = 0, j = 0; i < raw.data.length; i += raw.channels, j += 4) {
    const v = raw.data[i + channel]!;
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
    out[j + 3] = 255;
  }
  return { data: out, width: raw.width, height: raw.height };
}

function rgbSsim(reference: Raw, decoded: Raw): number {
  const values = [0, 1, 2].map((c) => ssim(plane(reference, c), plane(decoded, c), { downsample: false }).mssim);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

async function encode(raw: Raw, quality: number, s: Setting): Promise<Buffer> {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } }).webp({ quality, effort: s.effort, smartSubsample: s.smartSubsample }).toBuffer();
}

async function decode(webp: Buffer, channels: 3 | 4): Promise<Raw> {
  let p = sharp(webp);
  if (channels === 4) p = p.ensureAlpha();
  else p = p.removeAlpha();
  const { data, info } = await p.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels };
}

interface Row extends Setting {
  /** Median CPU ms of the three sizes of the 24 MP photo, and of all inputs. */
  largeCpuMs: number;
  allCpuMs: number;
  largeKb: number;
  allKb: number;
  /** Mean RGB SSIM over every size of every input, and its lowest. */
  ssimMean: number;
  ssimMin: number;
}

async function main(): Promise<void> {
  const settings = settingsFromEnv({});
  const threads = configureLibvips(settings.input.formats);
  const quality = settings.output.quality;
  const loadBefore = load1();
  const inputs = await loadInputs(settings.input);
  const sizes = await Promise.all(inputs.map((i) => resizedSizes(i, settings)));
  const settingsList: Setting[] = EFFORTS.flatMap((effort) => [false, true].map((smartSubsample) => ({ effort, smartSubsample })));
  const cpu = new Map<string, number[]>();
  const key = (s: Setting, input: number) => `${s.effort}/${s.smartSubsample}/${input}`;
  for (let r = 0; r < ROUNDS; r++) {
    // A different order each round, so no setting always runs first.
    for (const s of settingsList.map((_, i) => settingsList[(i + r * 5) % settingsList.length]!)) {
      for (const [i, raws] of sizes.entries()) {
        const sample = await measure(() => Promise.all(raws.map((raw) => encode(raw, quality, s))));
        cpu.set(key(s, i), [...(cpu.get(key(s, i)) ?? []), sample.cpuMs]);
      }
    }
    process.stdout.write(`round ${r + 1}/${ROUNDS} done (load ${load1().toFixed(2)})\n`);
  }
  const largeIndex = inputs.findIndex((i) => i.id === LARGE_ID);
  const rows: Row[] = [];
  for (const s of settingsList) {
    let allKb = 0;
    let largeKb = 0;
    const ssims: number[] = [];
    for (const [i, raws] of sizes.entries()) {
      for (const raw of raws) {
        const webp = await encode(raw, quality, s);
        allKb += webp.length / 1024;
        if (i === largeIndex) largeKb += webp.length / 1024;
        ssims.push(rgbSsim(raw, await decode(webp, raw.channels)));
      }
    }
    const medians = sizes.map((_, i) => median(cpu.get(key(s, i))!));
    rows.push({ ...s, largeCpuMs: round(medians[largeIndex]!, 1), allCpuMs: round(medians.reduce((a, b) => a + b, 0), 1), largeKb: round(largeKb), allKb: round(allKb), ssimMean: ssims.reduce((a, b) => a + b, 0) / ssims.length, ssimMin: Math.min(...ssims) });
  }
  // Percentages against libwebp's own default (effort 4, no smartSubsample).
  const base = rows.find((r) => r.effort === 4 && !r.smartSubsample)!;
  const pct = (a: number, b: number) => `${a >= b ? "+" : ""}${(((a - b) / b) * 100).toFixed(0)}%`;
  const lines = [
    `WebP q${quality}, the three default sizes (${Object.keys(settings.sizes).join(", ")}) of ${inputs.length} inputs (${inputs.map((i) => i.id).join(", ")}); CPU median of ${ROUNDS} interleaved rounds, ${threads} libvips thread(s); load ${loadBefore.toFixed(2)} before, ${load1().toFixed(2)} after; SSIM: mean of R, G and B at full size, ssim.js; percentages against libwebp's default (effort 4); the project's setting (effort ${WEBP_EFFORT}) in bold:`,
    "",
    "| effort | smartSubsample | CPU ms, 24 MP (3 sizes) | CPU ms, all inputs | KB, 24 MP | KB, all inputs | SSIM mean | SSIM lowest |",
    "| ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => {
      const mark = r.effort === WEBP_EFFORT && !r.smartSubsample ? "**" : "";
      return `| ${mark}${r.effort}${mark} | ${r.smartSubsample ? "yes" : "no"} | ${r.largeCpuMs.toFixed(0)} (${pct(r.largeCpuMs, base.largeCpuMs)}) | ${r.allCpuMs.toFixed(0)} (${pct(r.allCpuMs, base.allCpuMs)}) | ${r.largeKb} (${pct(r.largeKb, base.largeKb)}) | ${r.allKb} (${pct(r.allKb, base.allKb)}) | ${r.ssimMean.toFixed(4)} | ${r.ssimMin.toFixed(4)} |`;
    }),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
