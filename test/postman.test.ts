// postman/collection.json: generated from the flow and openapi.yaml (and its
// embedded schemas exactly openapi.yaml's), then run with newman as a user runs
// it, on a fresh local server with only baseUrl and apiKey set: every request
// runs and passes its own tests. Then with the server answering another shape,
// and with DELETE first: the run must fail.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ROUTES } from "../function/routes.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { COLLECTION_PATH, collectionText, POSTMAN_DIR, POSTMAN_SCHEMA, SOURCE_LINE, type PostmanCollection } from "../scripts/postman-collection.ts";
import { loadSpec, operations, type OpenApi } from "../scripts/postman-from-openapi.ts";
import { bodySchema, componentSchema, headerSchema } from "../scripts/postman-schemas.ts";

// newman ships no types: the part of its run summary this test reads.
interface Summary {
  run: {
    stats: { requests: { total: number; failed: number }; assertions: { total: number; failed: number } };
    executions: Array<{ item: { name: string }; response?: { code: number } }>;
    failures: Array<{ source?: { name?: string }; error: { test?: string; message: string } }>;
  };
}
type Newman = { run(options: Record<string, unknown>, done: (err: Error | null, summary: Summary) => void): void };
const newman = createRequire(import.meta.url)("newman") as Newman;

const spec = loadSpec();
const collection = JSON.parse(readFileSync(COLLECTION_PATH, "utf8")) as PostmanCollection;
type Item = PostmanCollection["item"][number];

const scriptOf = (item: Item) => item.event.find((e) => e.listen === "test")!.script.exec;
const embedded = (exec: string[], name: string) => {
  const line = exec.find((l) => l.startsWith(`var ${name} = `));
  return line === undefined ? undefined : JSON.parse(line.slice(`var ${name} = `.length, -1));
};

/** Each request whose embedded schemas are not what openapi.yaml says now, with why. */
function schemaDrift(items: Item[], openapi: OpenApi): string[] {
  const drift: string[] = [];
  for (const item of items) {
    const exec = scriptOf(item);
    const source = exec.map((l) => SOURCE_LINE.exec(l)).find((m) => m !== null);
    if (source === undefined) continue; // the PUT to S3: not the API
    const [, method, path, status, component] = source;
    const body = embedded(exec, "SCHEMA");
    const expected = component !== undefined ? componentSchema(openapi, component) : bodySchema(openapi, method!, path!, Number(status));
    if (JSON.stringify(body) !== JSON.stringify(expected)) drift.push(`${item.name}: body schema`);
    const headers = embedded(exec, "HEADERS") as { required: string[] } | undefined;
    if (headers !== undefined && JSON.stringify(headers) !== JSON.stringify(headerSchema(openapi, method!, path!, Number(status), headers.required))) {
      drift.push(`${item.name}: header schema`);
    }
  }
  return drift;
}

function runNewman(baseUrl: string, apiKey: string, run: PostmanCollection | string = COLLECTION_PATH): Promise<Summary> {
  const options = { collection: run, envVar: [{ key: "baseUrl", value: baseUrl }, { key: "apiKey", value: apiKey }], workingDir: POSTMAN_DIR, reporters: [] };
  return new Promise((resolve, reject) => newman.run(options, (err, summary) => (err === null ? resolve(summary) : reject(err))));
}

/** A fresh local server (own data folder, own key) for one test. */
async function withServer<T>(act: (server: LocalServer) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-postman-"));
  const server = await startLocalServer({ port: 0, dataDir, log: () => {} });
  try {
    return await act(server);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A proxy to `target` that passes every answer on but rewrites JSON bodies with `change`. */
async function reshapingProxy(target: string, change: (doc: Record<string, unknown>) => unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on("data", (c: Buffer) => chunks.push(c));
      answer.on("end", () => {
        let body = Buffer.concat(chunks);
        if ((answer.headers["content-type"] ?? "").startsWith("application/json")) body = Buffer.from(JSON.stringify(change(JSON.parse(body.toString("utf8")))));
        res.writeHead(answer.statusCode!, { ...answer.headers, "content-length": String(body.length) });
        res.end(body);
      });
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, server };
}

const failedTests = (s: Summary) => s.run.failures.map((f) => `${f.source?.name}: ${f.error.test ?? f.error.message}`);

describe("postman/collection.json", () => {
  test("is what scripts/postman-collection.ts makes from the flow and openapi.yaml", () => {
    assert.equal(readFileSync(COLLECTION_PATH, "utf8"), collectionText(spec), "postman/collection.json is stale: run npx tsx scripts/postman-collection.ts");
    assert.equal(collection.info.schema, POSTMAN_SCHEMA);
    for (const key of ["baseUrl", "apiKey"]) assert.match(collection.info.description, new RegExp(`- \`${key}\`: Set it`), `the description documents ${key}`);
  });

  test("embeds exactly openapi.yaml's schemas, and notices when the spec changes", () => {
    assert.deepEqual(schemaDrift(collection.item, spec), []);
    // The deliberate break: a spec whose listing needs one more field.
    const changed = structuredClone(spec) as OpenApi & { components: { schemas: Record<string, { required: string[] }> } };
    changed.components.schemas.Listing!.required.push("owner");
    assert.deepEqual(schemaDrift(collection.item, changed), ["List its sizes: body schema", "List the presigned upload's sizes: body schema"]);
  });

  test("exercises every operation of openapi.yaml, each request testing its status and shape", () => {
    const covered = new Set(collection.item.map((i) => scriptOf(i).map((l) => SOURCE_LINE.exec(l)).find((m) => m !== null)).map((m) => (m?.[1] === undefined ? "" : `${m[1]} ${m[2]}`)));
    for (const o of operations(spec)) assert.ok(covered.has(`${o.method} ${o.path}`), `${o.method} ${o.path} has no request`);
    for (const item of collection.item) {
      const exec = scriptOf(item).join("\n");
      assert.match(exec, /pm\.response\.to\.have\.status\(\d{3}\)/, `${item.name} tests its status`);
      assert.ok((exec.match(/pm\.test\(/g) ?? []).length >= 2, `${item.name} tests its answer too`);
    }
    // As a user sends them: the key on private routes, none on the public one; only the refusal leaves it out on purpose.
    for (const item of collection.item) {
      const m = scriptOf(item).map((l) => SOURCE_LINE.exec(l)).find((x) => x !== null);
      const route = ROUTES.find((r) => r.method === m?.[1] && r.resource === m?.[2]);
      const sendsKey = item.request.header.some((h) => h.key === "x-api-key" && h.value === "{{apiKey}}");
      if (route !== undefined && item.name !== "Missing key is refused") assert.equal(sendsKey, route.access === "private", `${item.name}: x-api-key`);
    }
    assert.equal(collection.item.at(-2)?.request.method, "DELETE", "DELETE comes last, before the check that the image is gone");
  });

  test("runs top to bottom on a fresh local server with only baseUrl and apiKey: every request passes its tests", async (t) => {
    const started = performance.now();
    const summary = await withServer((server) => runNewman(server.url, server.apiKey));
    const ran = new Set(summary.run.executions.map((e) => e.item.name));
    assert.deepEqual(collection.item.filter((i) => !ran.has(i.name)).map((i) => i.name), [], "requests that did not run");
    assert.deepEqual(failedTests(summary), []);
    assert.equal(summary.run.stats.assertions.failed, 0);
    assert.equal(summary.run.stats.requests.failed, 0);
    const { requests, assertions } = summary.run.stats;
    assert.ok(assertions.total >= requests.total * 2, `${assertions.total} assertions for ${requests.total} requests`);
    t.diagnostic(`newman: ${requests.total} requests (${collection.item.length} in the collection), ${assertions.total} assertions, ${summary.run.failures.length} failures, ${Math.round(performance.now() - started)} ms`);
  });

  test("fails when the server answers another shape", async () => {
    const summary = await withServer(async (server) => {
      // The function's error shape as a gateway from before gateway responses had it: {"message": ...}.
      const proxy = await reshapingProxy(server.url, (doc) => ("error" in doc ? { message: (doc.error as { message: string }).message } : doc));
      try {
        return await runNewman(proxy.url, server.apiKey);
      } finally {
        proxy.server.close();
      }
    });
    const failed = failedTests(summary);
    for (const name of ["Missing key is refused", "Unknown size is refused", "Malformed id is refused", "The deleted image is gone"]) {
      assert.ok(failed.includes(`${name}: the body has openapi.yaml's shape`), `${name} notices:\n${failed.join("\n")}`);
    }
    assert.ok(!failed.some((f) => f.startsWith("Upload sample.jpg")), "the answers left alone still pass");
  });

  test("fails when DELETE runs first", async () => {
    const reordered = structuredClone(collection);
    const at = reordered.item.findIndex((i) => i.name === "Delete the image");
    reordered.item.unshift(...reordered.item.splice(at, 1));
    const summary = await withServer((server) => runNewman(server.url, server.apiKey, reordered));
    const failed = failedTests(summary);
    assert.ok(failed.includes("Delete the image: status is 204"), failed.join("\n"));
    assert.ok(failed.includes("The deleted image is gone: status is 404"), failed.join("\n"));
  });
});
