// What a cold start costs before the first request, against what cannot be
// avoided: importing the bundled handler (index.mjs from the real deploy zip)
// against importing sharp alone from the same unpacked zip, each in a fresh
// node process, interleaved, so both see the same machine. The ratio is the
// acceptance target; the absolute times are kept for information, with the
// init a Lambda runtime would report (spawn to its first request for work)
// against a bare node start. And the deploy zips' sizes.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { arch } from "node:os";
import { dirname, join } from "node:path";
import { unzipSync } from "fflate";
import { buildFunctionZip, type Architecture, type FunctionZip } from "../deploy/function-zip.ts";
import { lambdaEnvironment } from "../test/support/lambda-env.ts";
import { startLambda } from "../test/support/lambda-runtime-api.ts";
import { median, round } from "./measure.ts";

/** The deploy zip of each architecture (sharp's packages are cached under .build/ after the first build). */
export async function buildZips(): Promise<Record<Architecture, FunctionZip>> {
  return { arm64: await buildFunctionZip({ architecture: "arm64" }), x86_64: await buildFunctionZip({ architecture: "x86_64" }) };
}

/** Unpacks the zip for this machine's CPU (x86_64 here) into dir, as Lambda does into /var/task; returns dir. */
export function unpackFunction(zips: Record<Architecture, FunctionZip>, dir: string): string {
  const zip = zips[arch() === "arm64" ? "arm64" : "x86_64"];
  for (const [name, bytes] of Object.entries(unzipSync(zip.bytes))) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  // A function that is only sharp: the floor every cold start of this API pays.
  writeFileSync(join(dir, "sharp-only.mjs"), 'import sharp from "sharp";\nexport const handler = async () => sharp.versions.vips;\n');
  return dir;
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

export interface ImportTimes {
  /** Median wall and CPU (user+system, all threads) ms of the import, inside the process. */
  handler: Timing;
  sharp: Timing;
  /** handler / sharp, CPU time: the acceptance ratio. */
  importOverSharp: number;
  /** The same with wall-clock time, for information (it moves with the load). */
  importOverSharpWall: number;
  runs: number;
}

export interface ColdStart extends ImportTimes {
  /** Spawn to the runtime's first GET /next, median: Lambda's Init Duration, as this machine would show it. */
  initMs: { handler: number; sharpOnly: number; bareNode: number; runs: number };
}

// What Lambda would set, and nothing of ours. The SDK's warning is for node 20 only (Lambda runs 22).
const ENV = { PATH: process.env.PATH ?? "", IMGAPI_BUCKET: "bench-bucket", AWS_REGION: "eu-west-1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1536", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

function importOnce(taskRoot: string, specifier: string): Timing {
  const script = [
    "const c = process.cpuUsage(); const t = performance.now();",
    `const m = await import(${JSON.stringify(specifier)});`,
    "const wall = performance.now() - t; const cpu = process.cpuUsage(c);",
    'if (typeof (m.handler ?? m.default) !== "function") throw new Error("nothing callable exported");',
    "process.stdout.write(JSON.stringify({ wallMs: wall, cpuMs: (cpu.user + cpu.system) / 1000 }));",
  ].join(" ");
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: ENV, encoding: "utf8", cwd: taskRoot });
  if (r.status !== 0) throw new Error(`importing ${specifier} in ${taskRoot} failed (exit ${r.status}): ${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(r.stdout) as Timing;
}

const medianOf = (xs: Timing[]): Timing => ({ wallMs: round(median(xs.map((x) => x.wallMs)), 1), cpuMs: round(median(xs.map((x) => x.cpuMs)), 1) });

/** The handler's import and sharp's, `runs` fresh processes each, alternating which goes first. */
export function measureImports(taskRoot: string, runs: number): ImportTimes {
  const handler: Timing[] = [];
  const sharp: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    const pair = [() => handler.push(importOnce(taskRoot, "./index.mjs")), () => sharp.push(importOnce(taskRoot, "sharp"))];
    for (const run of i % 2 === 0 ? pair : pair.reverse()) run();
  }
  const h = medianOf(handler);
  const s = medianOf(sharp);
  return { handler: h, sharp: s, importOverSharp: h.cpuMs / s.cpuMs, importOverSharpWall: h.wallMs / s.wallMs, runs };
}

async function initMs(taskRoot: string, handler: string): Promise<number> {
  const lambda = await startLambda({
    node: { command: process.execPath, args: [], how: "native" },
    taskRoot,
    handler,
    env: {
      ...lambdaEnvironment({ functionName: "imgapi-bench", region: ENV.AWS_REGION, memoryMb: 1536, nodeBinary: process.execPath, taskRoot, credentials: { accessKeyId: "AKIDBENCH", secretAccessKey: "bench", sessionToken: "bench" } }),
      IMGAPI_BUCKET: ENV.IMGAPI_BUCKET,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:imgapi-bench",
    timeoutSeconds: 28,
  });
  await lambda.stop();
  return lambda.initMs;
}

function bareNodeMs(): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, ["-e", ""], { env: ENV });
  if (r.status !== 0) throw new Error(`node -e "" exited ${r.status}`);
  return performance.now() - started;
}

export async function measureColdStart(taskRoot: string, runs: number): Promise<ColdStart> {
  const imports = measureImports(taskRoot, runs);
  const handler: number[] = [];
  const sharpOnly: number[] = [];
  const bare: number[] = [];
  const initRuns = Math.max(3, Math.ceil(runs / 2));
  for (let i = 0; i < initRuns; i++) {
    handler.push(await initMs(taskRoot, "index.handler"));
    sharpOnly.push(await initMs(taskRoot, "sharp-only.handler"));
    bare.push(bareNodeMs());
  }
  return { ...imports, initMs: { handler: round(median(handler)), sharpOnly: round(median(sharpOnly)), bareNode: round(median(bare)), runs: initRuns } };
}
