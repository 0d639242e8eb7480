// The Lambda package: deterministic (same sources, same bytes, same
// CodeSha256), small enough, and carrying sharp's Linux binary for the
// configured CPU. That each zip really starts and serves requests, under Node
// 22 for its CPU, is lambda-zip-run.test.ts. The first run downloads sharp's
// packages into .build/.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { unzipSync } from "fflate";
import { buildFunctionZip, type FunctionZip } from "../deploy/function-zip.ts";

const MAX_BYTES = 12 * 1024 * 1024;
const SHARED_CACHE = new URL("../.build", import.meta.url).pathname;
// ELF e_machine (offset 18): what CPU a native binary is for.
const ELF_MACHINE = { arm64: 183, x86_64: 62 } as const;
const CPU = { arm64: "arm64", x86_64: "x64" } as const;

const built = new Map<string, Promise<FunctionZip>>();
const zipFor = (architecture: "arm64" | "x86_64") => {
  if (!built.has(architecture)) built.set(architecture, buildFunctionZip({ architecture }));
  return built.get(architecture)!;
};

describe("buildFunctionZip", () => {
  test("unchanged inputs reuse the cached zip, checked against its recorded digest; a changed key or zip compresses again", async () => {
    // A cache of its own (other tests read the shared one meanwhile), with
    // sharp's Linux packages linked from the shared one, which zipFor fills.
    await zipFor("x86_64");
    const cacheDir = mkdtempSync(join(tmpdir(), "imgapi-zip-cache-"));
    symlinkSync(join(SHARED_CACHE, "sharp-linux-x64-glibc"), join(cacheDir, "sharp-linux-x64-glibc"));
    try {
      const made = await buildFunctionZip({ architecture: "x86_64", cacheDir });
      const again = await buildFunctionZip({ architecture: "x86_64", cacheDir });
      assert.deepEqual([made.reused, again.reused], [false, true]);
      assert.equal(again.sha256Base64, made.sha256Base64);
      // A key naming other inputs (a source changed since): built again, the same bytes as before.
      writeFileSync(`${made.path}.key`, readFileSync(`${made.path}.key`, "utf8").replace(/^[0-9a-f]/, (c) => (c === "0" ? "1" : "0")));
      const rebuilt = await buildFunctionZip({ architecture: "x86_64", cacheDir });
      assert.deepEqual([rebuilt.reused, rebuilt.sha256Base64], [false, made.sha256Base64]);
      // A zip damaged on disk under a matching key is not trusted.
      const bytes = readFileSync(made.path);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      writeFileSync(made.path, bytes);
      const repaired = await buildFunctionZip({ architecture: "x86_64", cacheDir });
      assert.deepEqual([repaired.reused, repaired.sha256Base64], [false, made.sha256Base64]);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  test("building twice gives the same bytes and the same CodeSha256", async () => {
    const first = await zipFor("arm64");
    const second = await buildFunctionZip({ architecture: "arm64", reuse: false });
    assert.equal(second.reused, false, "compressed again");

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
});
