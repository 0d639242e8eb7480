// vipsthumbnail (Debian/Ubuntu: apt-get install libvips-tools), libvips' own
// command-line thumbnailer, as the reference for what libvips itself costs:
// one process per size, each decoding with shrink-on-load. Optional: reported
// as "not installed" when it is not on PATH. Its CPU time (process start
// included) is read with the shell's `times`, which reports the children's
// user and system time, since node cannot see another process's rusage.
import { spawnSync } from "node:child_process";
import type { Job } from "../function/image/render.ts";

/** libvips' version as vipsthumbnail reports it, or undefined when it is not installed. */
export function vipsthumbnailVersion(): string | undefined {
  const r = spawnSync("vipsthumbnail", ["--vips-version"], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return r.stdout.trim() || "unknown version";
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** Makes every size as JPEG (quality q) from the file at input into outDir; returns the CPU ms of all the vipsthumbnail processes. */
export function vipsthumbnailCpuMs(input: string, outDir: string, jobs: Job[], quality: number): number {
  const commands = jobs.map(({ name, plan }) => {
    const crop = plan.crop ? " --smartcrop centre" : "";
    return `vipsthumbnail ${quote(input)} --size ${plan.width}x${plan.height}${crop} -o ${quote(`${outDir}/%s-${name}.jpg[Q=${quality}]`)}`;
  });
  const r = spawnSync("sh", ["-c", `${commands.join(" && ")} && times`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`vipsthumbnail failed (exit ${r.status}): ${r.stderr.trim().slice(-1000)}`);
  // `times` prints the shell's user/system time, then its children's: "0m0.120000s 0m0.010000s".
  const children = r.stdout.trim().split("\n").pop() ?? "";
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (seconds.length !== 2) throw new Error(`could not read the CPU time from the shell's "times": ${JSON.stringify(r.stdout)}`);
  return (seconds[0]! + seconds[1]!) * 1000;
}
