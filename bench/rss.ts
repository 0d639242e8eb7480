// Peak RSS of a child process that runs only the project's pipeline
// (bench/rss-child.ts), bundled by esbuild and run under plain node like the
// deployed handler, with and without glibc's MALLOC_ARENA_MAX=2.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type { RssChildResult } from "./rss-child.ts";
import { median } from "./measure.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Bundles the child into dir; sharp stays external, imported from this checkout by absolute URL. */
export async function bundleRssChild(dir: string): Promise<string> {
  const sharpEntry = pathToFileURL(createRequire(join(ROOT, "package.json")).resolve("sharp")).href;
  const outfile = join(dir, "rss-child.mjs");
  await build({
    absWorkingDir: ROOT,
    entryPoints: ["bench/rss-child.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
    plugins: [{ name: "sharp-external", setup: (b) => b.onResolve({ filter: /^sharp$/ }, () => ({ path: sharpEntry, external: true })) }],
  });
  return outfile;
}

export function runRssChild(bundle: string, image: string, requests: number, env: NodeJS.ProcessEnv): Promise<RssChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, image, String(requests)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`rss child exited with ${code}: ${err.trim().slice(-2000)}`));
      resolve(JSON.parse(out) as RssChildResult);
    });
  });
}

export interface RssVariant {
  label: string;
  env: Record<string, string>;
}

export interface RssResult {
  label: string;
  env: Record<string, string>;
  peakMb: number;
  idleMb: number;
  cpuMs: number;
  threads: number;
  runs: number[];
}

/** Each variant `runs` times, interleaved; the median peak of each. */
export async function measureRss(bundle: string, image: string, variants: RssVariant[], runs: number, requests: number): Promise<RssResult[]> {
  const got = new Map<string, RssChildResult[]>(variants.map((v) => [v.label, []]));
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "MALLOC_ARENA_MAX" && !k.startsWith("AWS_LAMBDA_")));
  for (let r = 0; r < runs; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      got.get(v.label)!.push(await runRssChild(bundle, image, requests, { ...base, ...v.env }));
    }
  }
  return variants.map((v) => {
    const results = got.get(v.label)!;
    return {
      label: v.label,
      env: v.env,
      peakMb: median(results.map((x) => x.peakMb)),
      idleMb: median(results.map((x) => x.idleMb)),
      cpuMs: median(results.map((x) => x.cpuMs)) / requests,
      threads: results[0]!.concurrency,
      runs: results.map((x) => Math.round(x.peakMb * 10) / 10),
    };
  });
}
