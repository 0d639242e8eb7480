// npm run bench: the project's resize pipeline against the naive
// one-pipeline-per-size sharp code, jimp and (when installed) vipsthumbnail,
// in one process, interleaved, over several rounds; then the pipeline's peak
// RSS in a child process, the bundled handler's cold-start import, the deploy
// zip sizes and the encoder efforts. Prints tables, writes bench/results.json
// and exits 1 when an acceptance target is missed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { buildZips, measureColdStart, unpackFunction } from "./cold-start.ts";
import { compareCpu, verifyOutputs } from "./cpu.ts";
import { measureEncoders } from "./encoders.ts";
import { LARGE_ID, loadInputs } from "./inputs.ts";
import { canCollect, round } from "./measure.ts";
import { check, formatResults, type BenchResults } from "./report.ts";
import { bundleRssChild, measureRss, type RssVariant } from "./rss.ts";
import { vipsthumbnailVersion } from "./vipsthumbnail.ts";

const ROUNDS = 5;
const JIMP_ROUNDS = 3;
const RSS_RUNS = 3;
const COLD_START_RUNS = 9;
const ENCODER_ROUNDS = 2;
const TARGETS = { projectNaive: 0.65, projectJimp: 0.1, peakRssMb: 160, importMs: 150, zipMb: 12 };
const ARENAS: RssVariant[] = [
  { label: "glibc default", env: {} },
  { label: "MALLOC_ARENA_MAX=2", env: { MALLOC_ARENA_MAX: "2" } },
];

const log = (line = "") => process.stdout.write(`${line}\n`);

async function main(work: string): Promise<BenchResults> {
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  const settings = settingsFromEnv({});
  // As the handler does at cold start: 1 libvips thread here, as on a 1536 MB Lambda.
  const threads = configureLibvips(settings.input.formats);
  const vipsthumbnail = vipsthumbnailVersion();
  log(`imgapi bench: node ${process.version}, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"}), libvips threads ${threads}`);
  log(`load average (1 min): ${loadBefore.toFixed(2)}; timings are only as quiet as the machine`);
  log(`vipsthumbnail: ${vipsthumbnail ?? "not installed (apt-get install libvips-tools to include it)"}`);
  if (!canCollect) log("note: run with node --expose-gc (npm run bench does) so jimp's garbage is collected between measurements");

  log("generating the 24 MP photo-like JPEG and checking every contestant's output dimensions...");
  const inputs = await loadInputs(settings.input);
  for (const input of inputs) {
    writeFileSync(join(work, input.id), input.buf);
    await verifyOutputs(input, settings);
  }
  const large = inputs.find((i) => i.id === LARGE_ID)!;

  log(`CPU: ${ROUNDS} interleaved rounds...`);
  const cpu = await compareCpu(inputs, { settings, rounds: ROUNDS, jimpRounds: JIMP_ROUNDS, vipsthumbnailDir: vipsthumbnail === undefined ? undefined : work, progress: log });

  log("peak RSS: child processes running only the project's pipeline on the 24 MP JPEG...");
  const bundle = await bundleRssChild(work);
  const image = join(work, LARGE_ID);
  const rss = {
    "1": await measureRss(bundle, image, ARENAS, RSS_RUNS, 1),
    "3": await measureRss(bundle, image, ARENAS, RSS_RUNS, 3),
    // A warm container's growth: one run each shows the trend.
    "10": await measureRss(bundle, image, ARENAS, 1, 10),
  };

  log("deploy zips and the cold-start import of the bundled handler...");
  const zips = await buildZips();
  const coldStart = measureColdStart(unpackFunction(zips, join(work, "function")), COLD_START_RUNS);

  log("encoders at 1600 px...");
  const encoders = await measureEncoders(large.buf, ENCODER_ROUNDS);

  const largeCpu = cpu.find((c) => c.input === LARGE_ID)!;
  const acceptance = [
    check("24 MP JPEG, project/naive CPU", largeCpu.jpeg.projectOverNaive, TARGETS.projectNaive, ""),
    check("24 MP JPEG, project/jimp CPU", largeCpu.jpeg.projectOverJimp ?? NaN, TARGETS.projectJimp, ""),
    check("24 MP JPEG, peak RSS of the project's pipeline (3 requests, glibc default)", rss["3"][0]!.peakMb, TARGETS.peakRssMb, "MB"),
    check("bundled handler import, median", coldStart.importMs, TARGETS.importMs, "ms"),
    check("deploy zip, arm64", zips.arm64.size / 1_048_576, TARGETS.zipMb, "MB"),
    check("deploy zip, x86_64", zips.x86_64.size / 1_048_576, TARGETS.zipMb, "MB"),
  ];
  return {
    machine: { node: process.version, sharp: sharp.versions.sharp!, libvips: sharp.versions.vips, cpus: availableParallelism(), cpuModel: cpus()[0]?.model, libvipsThreads: threads, loadAverage: { before: loadBefore, after: loadavg()[0]! } },
    rounds: ROUNDS,
    jimpRounds: JIMP_ROUNDS,
    quality: settings.output.quality,
    sizes: Object.entries(settings.sizes).map(([name, s]) => `${name} ${s.width}${s.height === undefined ? " wide" : `x${s.height} ${s.fit ?? "cover"}`}`).join(", "),
    vipsthumbnail: vipsthumbnail ?? "not installed",
    cpu,
    rss,
    rssRuns: RSS_RUNS,
    coldStart,
    zipBytes: { arm64: zips.arm64.size, x86_64: zips.x86_64.size },
    encoders,
    encoderRounds: ENCODER_ROUNDS,
    acceptance,
    passed: acceptance.every((c) => c.pass),
    seconds: round((performance.now() - started) / 1000, 1),
  };
}

const work = mkdtempSync(join(tmpdir(), "imgapi-bench-"));
try {
  const results = await main(work);
  log();
  log(formatResults(results));
  writeFileSync(new URL("results.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  log(`\nwrote bench/results.json (${results.seconds} s)`);
  process.exitCode = results.passed ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
