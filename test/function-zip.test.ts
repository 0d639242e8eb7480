// The Lambda package: deterministic (same sources, same bytes, same
// CodeSha256), small enough, carrying sharp's Linux binary for the configured
// CPU, and a bundle that really starts: the x86_64 zip, unpacked on this x64
// machine, imports sharp and exports the handler with nothing but its own
// node_modules. The first run downloads sharp's packages into .build/.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { unzipSync } from "fflate";
import { buildFunctionZip, type FunctionZip } from "../deploy/function-zip.ts";

const MAX_BYTES = 12 * 1024 * 1024;
// ELF e_machine (offset 18): what CPU a native binary is for.
const ELF_MACHINE = { arm64: 183, x86_64: 62 } as const;
const CPU = { arm64: "arm64", x86_64: "x64" } as const;

const built = new Map<string, Promise<FunctionZip>>();
const zipFor = (architecture: "arm64" | "x86_64") => {
  if (!built.has(architecture)) built.set(architecture, buildFunctionZip({ architecture }));
  return built.get(architecture)!;
};

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe("buildFunctionZip", () => {
  test("building twice gives the same bytes and the same CodeSha256", async () => {
    const first = await zipFor("arm64");
    const second = await buildFunctionZip({ architecture: "arm64" });

    assert.equal(second.sha256Base64, first.sha256Base64);
    assert.ok(Buffer.from(second.bytes).equals(Buffer.from(first.bytes)), "the zip bytes differ between two builds");
    // Lambda's CodeSha256: base64 of the SHA-256 digest of the zip.
    assert.equal(first.sha256Base64, createHash("sha256").update(first.bytes).digest("base64"));
    assert.match(first.sha256Base64, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(first.size, first.bytes.length);
  });

  for (const architecture of ["arm64", "x86_64"] as const) {
    test(`the ${architecture} zip holds index.mjs and sharp's Linux ${architecture} binaries, under 12 MB`, async (t) => {
      const zip = await zipFor(architecture);
      const files = unzipSync(zip.bytes);
      const names = Object.keys(files);
      const cpu = CPU[architecture];
      t.diagnostic(`${architecture}: ${(zip.size / 1_048_576).toFixed(2)} MB, ${names.length} files`);

      assert.ok(zip.size <= MAX_BYTES, `${zip.size} bytes is over 12 MB`);
      assert.deepEqual(names, [...names].sort(), "entries are not sorted");
      assert.ok(names.includes("index.mjs"));
      assert.ok(names.includes("node_modules/sharp/package.json"));
      const binary = names.find((n) => new RegExp(`^node_modules/@img/sharp-linux-${cpu}/lib/sharp-linux-${cpu}(-[\\d.]+)?\\.node$`).test(n));
      const libvips = names.find((n) => new RegExp(`^node_modules/@img/sharp-libvips-linux-${cpu}/lib/libvips-cpp\\.so`).test(n));
      assert.ok(binary, `no sharp-linux-${cpu} binary in ${names.filter((n) => n.includes("@img")).join(", ")}`);
      assert.ok(libvips, `no libvips for linux-${cpu}`);
      for (const file of [binary, libvips]) assert.equal(Buffer.from(files[file]!).readUInt16LE(18), ELF_MACHINE[architecture], `${file} is not built for ${architecture}`);
      const otherCpu = architecture === "arm64" ? "x64" : "arm64";
      assert.ok(!names.some((n) => n.includes(`linux-${otherCpu}`) || n.includes("darwin") || n.includes("win32")), "binaries for another platform were packed");
      assert.ok(!names.some((n) => /\.(md|d\.ts|map)$/i.test(n)), "docs, types or source maps were packed");
    });
  }

  test("the x86_64 bundle starts on this machine: sharp loads and the handler is exported", { skip: arch() !== "x64" || process.platform !== "linux" ? "needs linux x64" : false }, async () => {
    const zip = await zipFor("x86_64");
    const dir = mkdtempSync(join(tmpdir(), "imgapi-zip-"));
    temps.push(dir);
    for (const [name, data] of Object.entries(unzipSync(zip.bytes))) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), data);
    }
    const script = "const m = await import('./index.mjs'); const sharp = (await import('sharp')).default; console.log(JSON.stringify({ handler: typeof m.handler, vips: sharp.versions.vips }));";
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: dir,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", IMGAPI_BUCKET: "images-bucket", AWS_REGION: "us-east-1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      timeout: 30_000,
    });

    assert.equal(run.status, 0, `import failed:\n${run.stderr}`);
    const out = JSON.parse(run.stdout.trim().split("\n").pop()!) as { handler: string; vips: string };
    assert.equal(out.handler, "function");
    assert.match(out.vips, /^\d+\.\d+\.\d+/);
  });
});
