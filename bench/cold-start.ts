// What a cold start costs before the first request: importing the bundled
// handler (index.mjs from the real x86_64 deploy zip, sharp's native binary
// included) in a fresh node process, timed inside that process. And the size
// of the deploy zip for each architecture.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { arch } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { unzipSync } from "fflate";
import { buildFunctionZip, type Architecture, type FunctionZip } from "../deploy/function-zip.ts";
import { median } from "./measure.ts";

/** The deploy zip of each architecture (sharp's packages are cached under .build/ after the first build). */
export async function buildZips(): Promise<Record<Architecture, FunctionZip>> {
  return { arm64: await buildFunctionZip({ architecture: "arm64" }), x86_64: await buildFunctionZip({ architecture: "x86_64" }) };
}

/** Unpacks the zip for this machine's CPU (x86_64 here) into dir, as Lambda does into /var/task. */
export function unpackFunction(zips: Record<Architecture, FunctionZip>, dir: string): string {
  const zip = zips[arch() === "arm64" ? "arm64" : "x86_64"];
  for (const [name, bytes] of Object.entries(unzipSync(zip.bytes))) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return join(dir, "index.mjs");
}

export interface ColdStart {
  importMs: number;
  /** CPU time (user+system) of the same imports: what the init costs when the machine is not shared. */
  importCpuMs: number;
  /** The whole process, from spawn to exit: node's own start-up included. */
  processMs: number;
  runs: number[];
}

export function measureColdStart(indexMjs: string, runs: number): ColdStart {
  const url = pathToFileURL(indexMjs).href;
  const script = [
    "const c = process.cpuUsage(); const t = performance.now();",
    `const m = await import(${JSON.stringify(url)});`,
    "const wall = performance.now() - t; const cpu = process.cpuUsage(c);",
    'if (typeof m.handler !== "function") throw new Error("no handler export");',
    "process.stdout.write(JSON.stringify({ wall, cpu: (cpu.user + cpu.system) / 1000 }));",
  ].join(" ");
  // What Lambda would set, and nothing of ours. The SDK's warning is for node 20 only (Lambda runs 22).
  const env = {
    PATH: process.env.PATH ?? "",
    IMGAPI_BUCKET: "bench-bucket",
    AWS_REGION: "eu-west-1",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1536",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  const imports: number[] = [];
  const cpus: number[] = [];
  const processes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env, encoding: "utf8", cwd: dirname(indexMjs) });
    processes.push(performance.now() - started);
    if (r.status !== 0) throw new Error(`importing the bundled handler failed (exit ${r.status}): ${r.stderr.trim().slice(-2000)}`);
    const { wall, cpu } = JSON.parse(r.stdout) as { wall: number; cpu: number };
    imports.push(wall);
    cpus.push(cpu);
  }
  return { importMs: median(imports), importCpuMs: median(cpus), processMs: median(processes), runs: imports.map((n) => Math.round(n)) };
}
