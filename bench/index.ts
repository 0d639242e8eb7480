// npm run bench: the project's resize pipeline against the naive
// one-pipeline-per-size sharp code, jimp and (when installed) vipsthumbnail,
// in one process, interleaved, over several rounds; the pipeline's peak RSS in
// a child process; the bundled handler's cold start against sharp's own; the
// deploy zip sizes; the encoders; what refusals cost; what a million uploads
// cost. Prints tables and the acceptance lines (ratios measured in the same
// run, or bounds per request, each with the load average), writes
// bench/results.json and exits 1 when a target is missed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { loadConfig } from "../config/load.ts";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { loadFixture } from "../test/support/fixtures.ts";
import { check, load1, timedCheck, type Check } from "./acceptance.ts";
import { measureFixtureRefusals, measureUploadChecks } from "./checks.ts";
import { buildZips, measureColdStart, measureImports, unpackFunction } from "./cold-start.ts";
import { costOf, PRICES } from "./cost.ts";
import { compareCpu, verifyOutputs } from "./cpu.ts";
import { measureAvifRender, measureEncoders } from "./encoders.ts";
import { measureHostile } from "./hostile.ts";
import { LARGE_ID, loadInputs, type BenchInput } from "./inputs.ts";
import { canCollect, round } from "./measure.ts";
import { formatResults, type BenchResults } from "./report.ts";
import { bundleRssChild, measureRss, type RssVariant } from "./rss.ts";
import { measureSizesAtUpload } from "./sizes-at-upload.ts";
import { vipsthumbnailVersion } from "./vipsthumbnail.ts";

const ROUNDS = 5;
const JIMP_ROUNDS = 3;
const RSS_RUNS = 3;
const COLD_START_RUNS = 11;
const ENCODER_ROUNDS = 2;
const REFUSAL_ROUNDS = 3;
const TARGETS = { projectNaive: 0.65, projectJimp: 0.1, importOverSharp: 1.5, peakRssMb: 160, zipMb: 12, refusalCpuMs: 1000, avifCpuMs: 10_000 };
const ARENAS: RssVariant[] = [
  { label: "glibc default", env: {} },
  { label: "MALLOC_ARENA_MAX=2", env: { MALLOC_ARENA_MAX: "2" } },
];
// A real 6 MP photograph (2725x2225), as test/format-negotiation.test.ts renders it.
const AVIF_PHOTO = "sharp_2569067123_aca715a2ee_o.jpg";
const EXAMPLE_CONFIG = new URL("../config.example.json", import.meta.url).pathname;

const log = (line = "") => process.stdout.write(`${line}\n`);

function largeCpu(settings: RuntimeSettings, large: BenchInput, rounds: number) {
  return async () => (await compareCpu([large], { settings, rounds, jimpRounds: Math.min(rounds, JIMP_ROUNDS), vipsthumbnailDir: undefined, progress: log }))[0]!.jpeg;
}

async function main(work: string): Promise<BenchResults> {
  const started = performance.now();
  const loadBefore = load1();
  const settings = settingsFromEnv({});
  const memoryMb = loadConfig(EXAMPLE_CONFIG).lambda.memoryMb;
  // As the handler does at cold start: 1 libvips thread here, as on a 1536 MB Lambda.
  const threads = configureLibvips(settings.input.formats);
  const vipsthumbnail = vipsthumbnailVersion();
  log(`imgapi bench: node ${process.version}, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"}), libvips threads ${threads}`);
  log(`load average (1 min): ${loadBefore.toFixed(2)}; targets are ratios measured in this run or bounds per request; absolute times are for information`);
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
  const naiveCheck = check("24 MP JPEG, project/naive CPU", cpu.find((c) => c.input === LARGE_ID)!.jpeg.projectOverNaive, TARGETS.projectNaive, "");
  const jimpCheck = check("24 MP JPEG, project/jimp CPU", cpu.find((c) => c.input === LARGE_ID)!.jpeg.projectOverJimp ?? NaN, TARGETS.projectJimp, "");
  const uploadCheckCpuMs = await measureUploadChecks(inputs, settings, ROUNDS);

  log("peak RSS: child processes running only the project's pipeline on the 24 MP JPEG...");
  const bundle = await bundleRssChild(work);
  const image = join(work, LARGE_ID);
  const rss = {
    "1": await measureRss(bundle, image, ARENAS, RSS_RUNS, 1),
    "3": await measureRss(bundle, image, ARENAS, RSS_RUNS, 3),
    // A warm container's growth: one run each shows the trend.
    "10": await measureRss(bundle, image, ARENAS, 1, 10),
  };
  const rssCheck = check("24 MP JPEG, peak RSS of the project's pipeline (3 requests, glibc default)", rss["3"][0]!.peakMb, TARGETS.peakRssMb, "MB");

  log("deploy zips, and the cold start of the bundled handler against sharp's own...");
  const zips = await buildZips();
  const zipChecks = (["arm64", "x86_64"] as const).map((a) => check(`deploy zip, ${a}`, zips[a].size / 1_048_576, TARGETS.zipMb, "MB"));
  const taskRoot = unpackFunction(zips, join(work, "function"));
  const coldStart = await measureColdStart(taskRoot, COLD_START_RUNS);
  const importCheck = check("cold start, bundled handler import / sharp import (CPU)", coldStart.importOverSharp, TARGETS.importOverSharp, "");

  log("encoders at 1600 px, AVIF from a 6 MP photo, refusals of invalid files and hostile inputs...");
  const encoders = await measureEncoders(large.buf, ENCODER_ROUNDS);
  const avifPhoto = loadFixture(AVIF_PHOTO);
  const avifRenderCpuMs = round(await measureAvifRender(avifPhoto, settings, ENCODER_ROUNDS));
  const avifCheck = check("AVIF 1600 px from a 6 MP photo, 1 libvips thread, per request (API Gateway allows 29 s)", avifRenderCpuMs, TARGETS.avifCpuMs, "ms CPU");
  const refusals = await measureFixtureRefusals(settings, REFUSAL_ROUNDS);
  const refusalCheck = check(`costliest refusal of the ${refusals.fixtures} invalid and bomb fixtures, per request`, refusals.accepted.length > 0 ? NaN : refusals.slowest.cpuMs, TARGETS.refusalCpuMs, "ms CPU");
  const hostile = await measureHostile(settings);
  log("sizes made at upload against at request...");
  const sizesAtUpload = await measureSizesAtUpload(settings, ROUNDS, log);

  log("acceptance...");
  const timed = (first: Check, again: () => Promise<number>) => timedCheck(first, again, log);
  const acceptance: Check[] = [
    await timed(naiveCheck, async () => (await largeCpu(settings, large, ROUNDS)()).projectOverNaive),
    await timed(jimpCheck, async () => (await largeCpu(settings, large, ROUNDS)()).projectOverJimp ?? NaN),
    await timed(importCheck, async () => measureImports(taskRoot, COLD_START_RUNS).importOverSharp),
    rssCheck,
    ...zipChecks,
    await timed(avifCheck, () => measureAvifRender(avifPhoto, settings, ENCODER_ROUNDS)),
    await timed(refusalCheck, async () => {
      const again = await measureFixtureRefusals(settings, REFUSAL_ROUNDS);
      return again.accepted.length > 0 ? NaN : again.slowest.cpuMs;
    }),
  ];
  for (const row of hostile.acceptance) {
    acceptance.push(await timed(row, async () => (await measureHostile(settings)).acceptance.find((r) => r.name === row.name)?.measured ?? NaN));
  }

  const cost = {
    memoryMb,
    prices: PRICES,
    rows: cpu.map((c) => costOf({ label: `${c.input} (${(c.width * c.height / 1e6).toFixed(1)} MP)`, checkCpuMs: uploadCheckCpuMs[c.input]!, renderCpuMs: c.webp.cpuMs.project! }, memoryMb)),
  };
  return {
    machine: { node: process.version, sharp: sharp.versions.sharp!, libvips: sharp.versions.vips, cpus: availableParallelism(), cpuModel: cpus()[0]?.model, libvipsThreads: threads, loadAverage: { before: loadBefore, after: load1() } },
    rounds: ROUNDS,
    jimpRounds: JIMP_ROUNDS,
    quality: settings.output.quality,
    sizes: Object.entries(settings.sizes).map(([name, s]) => `${name} ${s.width}${s.height === undefined ? " wide" : `x${s.height} ${s.fit ?? "cover"}`}`).join(", "),
    vipsthumbnail: vipsthumbnail ?? "not installed",
    cpu,
    uploadCheckCpuMs,
    rss,
    rssRuns: RSS_RUNS,
    coldStart,
    zipBytes: { arm64: zips.arm64.size, x86_64: zips.x86_64.size },
    encoders,
    encoderRounds: ENCODER_ROUNDS,
    avifRenderCpuMs,
    refusals,
    hostile,
    sizesAtUpload,
    cost,
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
