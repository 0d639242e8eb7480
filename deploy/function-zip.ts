// Builds the Lambda deployment package: function/handler.ts bundled by esbuild
// into index.mjs, plus sharp with its prebuilt Linux (glibc) binaries for the
// target CPU, installed by npm into a cache under the git-ignored .build/.
// The zip is deterministic (sorted entries, fixed times and modes, fixed
// compression level), so the same sources give the same bytes and the same
// CodeSha256, and a redeploy of unchanged code sends no UpdateFunctionCode.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { build, type BuildOptions } from "esbuild";
import { zipSync, type Zippable } from "fflate";

export type Architecture = "arm64" | "x86_64";

export interface FunctionZip {
  bytes: Uint8Array;
  /** Base64 of the SHA-256 digest: the format of Lambda's CodeSha256. */
  sha256Base64: string;
  /** Where the zip was written (under the cache directory). */
  path: string;
  size: number;
  architecture: Architecture;
  /** The zip was reused from the cache: its inputs were unchanged, so nothing was compressed. */
  reused?: boolean;
}

export interface BuildFunctionZipOptions {
  architecture: Architecture;
  /** Defaults to .build/ at the repository root. */
  cacheDir?: string;
  progress?: (message: string) => void;
  /** False: compress again even when the cached zip was made from the same inputs (the determinism test). */
  reuse?: boolean;
}

const ROOT = new URL("..", import.meta.url).pathname;
const ENTRY = "function/handler.ts";
const NPM_CPU: Record<Architecture, string> = { arm64: "arm64", x86_64: "x64" };
// DOS time starts in 1980; a local-time Date keeps fflate from shifting it
// across the epoch in time zones west of UTC.
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const UNIX = 3;
const FILE_MODE = 0o100644;
const EXEC_MODE = 0o100755;
// Build-time and documentation files sharp ships that the function never reads.
const EXCLUDED = [/(^|\/)(readme|changelog|history)(\.[a-z]+)?$/i, /\.md$/i, /\.d\.[cm]?ts$/, /\.map$/, /\.h$/, /^sharp\/(src|install)\//, /\/include\//];

const execFileAsync = promisify(execFile);
/** Part of the cache key: change it with anything that changes the zip's layout or compression. */
const ZIP_FORMAT = "imgapi-zip-1 level 9";
const MARKER = ".installed";

export async function buildFunctionZip(options: BuildFunctionZipOptions): Promise<FunctionZip> {
  const { architecture } = options;
  const cacheDir = options.cacheDir ?? join(ROOT, ".build");
  const progress = options.progress ?? (() => {});
  const cpu = NPM_CPU[architecture];

  progress(`bundling ${ENTRY} with esbuild`);
  const files = new Map<string, Uint8Array>([
    ["index.mjs", await bundle(HANDLER_BUILD_OPTIONS)],
    // The JWT authorizer's entry, loaded by index.mjs only for authorizer events (auth "jwt"):
    // image requests never parse jose.
    [AUTHORIZER_FILE, await bundle(AUTHORIZER_BUILD_OPTIONS)],
    // The CDN purge's entry (the CloudFront client), loaded by index.mjs only to invalidate (cdn.enabled).
    [PURGE_FILE, await bundle(PURGE_BUILD_OPTIONS)],
  ]);

  const modules = await installSharp(cacheDir, cpu, progress);
  for (const pkg of runtimePackages(modules, cpu)) {
    for (const file of await listFiles(join(modules, pkg))) {
      const inPackage = `${pkg}/${file}`;
      if (!EXCLUDED.some((re) => re.test(inPackage))) files.set(`node_modules/${inPackage}`, await readFile(join(modules, pkg, file)));
    }
  }

  // Compressing libvips takes most of a build: the zip is kept beside a key
  // of every input byte (and the zip's own digest), so an unchanged redeploy
  // or dry run reads it back instead.
  const path = join(cacheDir, `function-${architecture}.zip`);
  const inputs = inputsKey(files, architecture);
  const cached = options.reuse === false ? undefined : await readCached(path, inputs);
  if (cached !== undefined) {
    progress(`${path}: unchanged inputs, reused (${(cached.length / 1_048_576).toFixed(1)} MB)`);
    return { bytes: cached, sha256Base64: sha256Base64(cached), path, size: cached.length, architecture, reused: true };
  }

  progress(`zipping ${files.size} files for ${architecture}`);
  const entries: Zippable = {};
  for (const name of [...files.keys()].sort()) {
    const mode = /\.(node|so(\.\d+)*)$/.test(name) ? EXEC_MODE : FILE_MODE;
    entries[name] = [files.get(name)!, { mtime: FIXED_MTIME, os: UNIX, attrs: mode << 16 }];
  }
  const bytes = zipSync(entries, { level: 9, mtime: FIXED_MTIME });
  const digest = sha256Base64(bytes);

  await writeFile(`${path}.${process.pid}.tmp`, bytes);
  await rename(`${path}.${process.pid}.tmp`, path);
  await writeFile(`${path}.${process.pid}.key.tmp`, `${inputs} ${digest}\n`);
  await rename(`${path}.${process.pid}.key.tmp`, `${path}.key`);
  progress(`${path}: ${(bytes.length / 1_048_576).toFixed(1)} MB`);
  return { bytes, sha256Base64: digest, path, size: bytes.length, architecture, reused: false };
}

const sha256Base64 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("base64");

/** SHA-256 over the format, the architecture and every file's name and bytes. */
function inputsKey(files: Map<string, Uint8Array>, architecture: Architecture): string {
  const hash = createHash("sha256").update(`${ZIP_FORMAT}\0${architecture}\0`);
  for (const name of [...files.keys()].sort()) hash.update(`${name}\0${files.get(name)!.length}\0`).update(files.get(name)!);
  return hash.digest("hex");
}

/** The cached zip, when its key names these inputs and its bytes still have the digest recorded with it. */
async function readCached(path: string, inputs: string): Promise<Uint8Array | undefined> {
  const key = await readFile(`${path}.key`, "utf8").catch(() => "");
  const [keyInputs, keyDigest] = key.trim().split(" ");
  if (keyInputs !== inputs || !existsSync(path)) return undefined;
  const bytes = new Uint8Array(await readFile(path));
  return sha256Base64(bytes) === keyDigest ? bytes : undefined;
}

/** How the handler is bundled: exported so the cold-start test reads the import graph of exactly this bundle. */
export const HANDLER_BUILD_OPTIONS = {
  absWorkingDir: ROOT,
  entryPoints: [ENTRY],
  outfile: "index.mjs",
  bundle: true,
  write: false,
  platform: "node",
  format: "esm",
  target: "node22",
  // ESM builds of the AWS SDK tree-shake better and need no require().
  mainFields: ["module", "main"],
  // sharp loads a native binary relative to its own package: it ships as
  // files in node_modules/, not inside the bundle.
  external: ["sharp", "./authorizer.mjs", "./purge.mjs"],
  minify: true,
  sourcemap: false,
  logLevel: "silent",
  // A CommonJS dependency bundled into ESM calls require() through esbuild's
  // shim, which throws "Dynamic require ... is not supported" unless a real
  // require exists; none is needed today, so this only guards future deps.
  banner: { js: 'import { createRequire as __imgapiCreateRequire } from "node:module"; const require = __imgapiCreateRequire(import.meta.url);' },
} satisfies BuildOptions;

/** The handler's dynamic import of it is left as is (function/handler.ts AUTHORIZER_MODULE). */
export const AUTHORIZER_FILE = "authorizer.mjs";

export const AUTHORIZER_BUILD_OPTIONS = { ...HANDLER_BUILD_OPTIONS, entryPoints: ["function/authorizer.ts"], outfile: AUTHORIZER_FILE } satisfies BuildOptions;

/** The handler's dynamic import of it is left as is (function/handler.ts PURGE_MODULE). */
export const PURGE_FILE = "purge.mjs";

export const PURGE_BUILD_OPTIONS = { ...HANDLER_BUILD_OPTIONS, entryPoints: ["function/purge.ts"], outfile: PURGE_FILE } satisfies BuildOptions;

async function bundle(options: BuildOptions & { entryPoints: string[] }): Promise<Uint8Array> {
  const result = await build({ ...options, write: false });
  const out = result.outputFiles?.[0];
  if (out === undefined) throw new Error(`bundling ${options.entryPoints.join()}: esbuild produced no output`);
  return out.contents;
}

/**
 * Installs sharp (the exact version in package.json) and its runtime
 * dependencies (the versions in package-lock.json) for linux/<cpu>/glibc into a
 * cache directory, once. npm works in a private temporary directory renamed
 * into place when complete, so an interrupted install is never reused and two
 * builds at once (parallel test files) do not trip over each other.
 */
async function installSharp(cacheDir: string, cpu: string, progress: (message: string) => void): Promise<string> {
  const specs = sharpInstallSpecs();
  const dir = join(cacheDir, `sharp-linux-${cpu}-glibc`);
  const wanted = specs.join(" ");
  const installed = async (d: string) => existsSync(join(d, MARKER)) && (await readFile(join(d, MARKER), "utf8")) === wanted;
  if (await installed(dir)) return join(dir, "node_modules");

  progress(`installing ${wanted} for linux-${cpu} (glibc) into ${relative(ROOT, dir) || dir}`);
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const args = ["install", "--prefix", tmp, "--os=linux", `--cpu=${cpu}`, "--libc=glibc", "--omit=dev", "--no-save", "--no-package-lock", "--ignore-scripts", "--no-audit", "--no-fund", ...specs];
  try {
    await execFileAsync(process.platform === "win32" ? "npm.cmd" : "npm", args, { cwd: tmp, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`installing sharp for linux-${cpu}: npm ${args.join(" ")} failed: ${(err.stderr ?? err.message).trim().slice(-2000)}. Check that the npm registry is reachable, then run the same command again.`, { cause: e });
  }
  await writeFile(join(tmp, MARKER), wanted);
  if (await installed(dir)) {
    await rm(tmp, { recursive: true, force: true }); // another build finished first
  } else {
    await rm(dir, { recursive: true, force: true }); // a different version, or a half-made one
    await rename(tmp, dir);
  }
  return join(dir, "node_modules");
}

function sharpInstallSpecs(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const version = pkg.dependencies?.sharp;
  if (version === undefined || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(version)) {
    throw new Error(`building the function zip: package.json must pin sharp to an exact version (npm install --save-exact sharp) but has ${JSON.stringify(version)}`);
  }
  const lockPath = join(ROOT, "package-lock.json");
  const lock = existsSync(lockPath) ? (JSON.parse(readFileSync(lockPath, "utf8")) as { packages?: Record<string, { version?: string; dependencies?: Record<string, string> }> }) : {};
  const sharpDeps = Object.keys(lock.packages?.["node_modules/sharp"]?.dependencies ?? {});
  const pinned = sharpDeps.flatMap((dep) => {
    const v = lock.packages?.[`node_modules/${dep}`]?.version;
    return v ? [`${dep}@${v}`] : [];
  });
  return [`sharp@${version}`, ...pinned.sort()];
}

/** sharp, its two platform packages, and the transitive dependencies of all three. */
function runtimePackages(modules: string, cpu: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    const manifest = join(modules, name, "package.json");
    if (!existsSync(manifest)) {
      throw new Error(`building the function zip: npm did not install ${name} for linux-${cpu} in ${modules}. Delete ${join(modules, "..")} and run again.`);
    }
    seen.add(name);
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep);
  };
  for (const name of ["sharp", `@img/sharp-linux-${cpu}`, `@img/sharp-libvips-linux-${cpu}`]) visit(name);
  return [...seen].sort();
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full, base)));
    else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full)).isFile())) out.push(relative(base, full).split(sep).join("/"));
  }
  return out;
}
