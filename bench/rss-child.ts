// Runs only the project's pipeline, as the deployed handler does (default
// settings, libvips configured once), on one image several times, then prints
// its peak RSS. Run by bench/rss.ts as a bundle under plain node, so neither
// tsx nor the benchmark's other contestants (jimp holds hundreds of MB) count.
// argv: <image path> <requests>
import { readFileSync } from "node:fs";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { inspectImage } from "../function/image/inspect.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { renderVariants } from "../function/image/render.ts";

export interface RssChildResult {
  /** Peak resident set of the whole process, MiB. */
  peakMb: number;
  /** Resident set after importing sharp and configuring it, before any image: the floor. */
  idleMb: number;
  cpuMs: number;
  concurrency: number;
}

/**
 * The process's peak resident set. On Linux from VmHWM, the high-water mark of
 * this program's own memory: resourceUsage().maxRSS (getrusage) also counts
 * the parent's resident set at fork time, which Linux carries across exec, so
 * a child of a benchmark holding jimp's 700 MB would report 700 MB.
 */
function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024; // KiB
}

const [path, requests = "3"] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: rss-child <image path> [requests]");

const settings = settingsFromEnv(process.env);
const concurrency = configureLibvips(settings.input.formats);
const idleMb = process.memoryUsage().rss / 1_048_576;
const original = readFileSync(path);
const sizes = Object.entries(settings.sizes);
const started = process.cpuUsage();
for (let i = 0; i < Number(requests); i++) {
  const info = await inspectImage(original, settings.input);
  await renderVariants(original, info, sizes, settings);
}
const cpu = process.cpuUsage(started);
const result: RssChildResult = {
  peakMb: peakRssMb(),
  idleMb,
  cpuMs: (cpu.user + cpu.system) / 1000,
  concurrency,
};
process.stdout.write(JSON.stringify(result));
