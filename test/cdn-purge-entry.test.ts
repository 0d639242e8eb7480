// The CDN purge ships as its own bundle entry (purge.mjs), like the JWT
// authorizer: index.mjs, which every image request loads, holds no CloudFront
// client and leaves its import of ./purge.mjs to run time; purge.mjs holds the
// client and loads on its own. Read from esbuild with the deploy's own options.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { build } from "esbuild";
import { HANDLER_BUILD_OPTIONS, PURGE_BUILD_OPTIONS, PURGE_FILE } from "../deploy/function-zip.ts";

const CLIENT = /node_modules\/@aws-sdk\/client-cloudfront\//;

test("index.mjs bundles no CloudFront client and imports ./purge.mjs at run time", async (t) => {
  const result = await build({ ...HANDLER_BUILD_OPTIONS, metafile: true });
  const inputs = Object.keys(result.metafile.inputs);
  assert.deepEqual(inputs.filter((p) => CLIENT.test(p)), [], "the CloudFront client is not in index.mjs");
  assert.ok(inputs.includes("function/cdn/cdn-runtime.ts"), "the graph is the CDN-aware handler's");
  const text = Buffer.from(result.outputFiles[0]!.contents).toString("utf8");
  assert.ok(text.includes(`"./${PURGE_FILE}"`), "the purge entry is imported by name, not inlined");
  assert.ok(!text.includes("CreateInvalidation"), "no CloudFront operation in index.mjs");
  t.diagnostic(`index.mjs: ${result.outputFiles[0]!.contents.length} bytes`);
});

test("purge.mjs bundles the CloudFront client and exports invalidate", async (t) => {
  const result = await build({ ...PURGE_BUILD_OPTIONS, metafile: true });
  assert.ok(Object.keys(result.metafile.inputs).some((p) => CLIENT.test(p)), "the client is in purge.mjs");
  const dir = await mkdtemp(join(tmpdir(), "purge-entry-"));
  try {
    const file = join(dir, PURGE_FILE);
    await writeFile(file, result.outputFiles[0]!.contents);
    // As Lambda loads it: a region from the environment, no network at import.
    process.env.AWS_REGION ??= "us-east-1";
    const mod = (await import(pathToFileURL(file).href)) as { invalidate?: unknown };
    assert.equal(typeof mod.invalidate, "function");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  t.diagnostic(`purge.mjs: ${result.outputFiles[0]!.contents.length} bytes`);
});
