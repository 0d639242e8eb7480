// What the Lambda evaluates at cold start: the modules the bundled handler
// reaches through static imports. zod, the KMS client and S3's presigner must
// not be among them (npm run bench measures what that saves: the import of
// the handler against sharp's own); they are loaded, if ever, by the request
// that needs them. Read from esbuild's import graph of the handler, bundled
// as deploy/function-zip.ts bundles it, so no timing is involved.
import assert from "node:assert/strict";
import { test } from "node:test";
import { build, type Metafile } from "esbuild";
import { HANDLER_BUILD_OPTIONS } from "../deploy/function-zip.ts";

async function importGraph(): Promise<Metafile["inputs"]> {
  const result = await build({ ...HANDLER_BUILD_OPTIONS, metafile: true });
  return result.metafile.inputs;
}

/** Every module reached from the entry through static imports (and require). */
function staticallyReached(inputs: Metafile["inputs"], entry: string): Set<string> {
  const reached = new Set<string>([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    for (const edge of inputs[queue.pop()!]?.imports ?? []) {
      if (edge.kind === "dynamic-import" || edge.external || reached.has(edge.path)) continue;
      reached.add(edge.path);
      queue.push(edge.path);
    }
  }
  return reached;
}

const LAZY = [/node_modules\/zod\//, /node_modules\/@aws-sdk\/client-kms\//, /node_modules\/@aws-sdk\/s3-request-presigner\//];

test("the handler's cold start evaluates neither zod nor the KMS client nor S3's presigner", async () => {
  const inputs = await importGraph();
  const reached = staticallyReached(inputs, "function/handler.ts");
  assert.ok(reached.has("function/app.ts") && [...reached].some((p) => p.includes("@aws-sdk/client-s3/")), "the graph is the handler's: the app and the S3 client are there");
  for (const lazy of LAZY) {
    const found = [...reached].filter((p) => lazy.test(p));
    assert.deepEqual(found, [], `${lazy.source} is evaluated at cold start`);
  }
  assert.ok(!Object.keys(inputs).some((p) => p.includes("node_modules/zod/")), "zod is not in the bundle at all");
  // The two loaded on demand are still bundled: the zip holds no node_modules but sharp's.
  for (const lazy of LAZY.slice(1)) assert.ok(Object.keys(inputs).some((p) => lazy.test(p)), `${lazy.source} is bundled`);
});
