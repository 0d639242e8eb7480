// npx tsx reprocess/index.ts as a user runs it, against moto: S3 and STS are
// moto's; Lambda's Invoke is answered by a stand-in in front of it (moto's
// Lambda cannot run our zip) that hands the payload to the function's own
// handler, on the same bucket, with the settings "deployed". After a size
// changes: a dry run lists exactly the outdated variants, the run remakes
// them and nothing else, a stopped run resumes without redoing what it
// finished, a refused original is reported while the run goes on, Lambda's
// throttling is backed off, and --json is one document.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { parseRuntimeSettings } from "../config/load.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createLambdaHandler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { resourceNames } from "../deploy/names.ts";
import { startFaultProxy, restJsonError, type FaultProxy } from "./support/fault-proxy.ts";
import { responseJson, uploadEvent } from "./support/events.ts";
import { loadFixture } from "./support/fixtures.ts";
import { runCli } from "./support/cli-run.ts";
import { MOTO_REGION, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const STACK = "rp-test";
const NAMES = resourceNames(STACK, "123456789012", MOTO_REGION); // moto's account
const SIZES = { thumbnail: { width: 150, height: 150, fit: "cover" }, medium: { width: 400 } } as const;
const before1 = parseRuntimeSettings({ sizes: SIZES });
const changed = parseRuntimeSettings({ sizes: { ...SIZES, thumbnail: { width: 100, height: 100, fit: "cover" } } });
configureLibvips(before1.input.formats);

let moto: Moto;
let proxy: FaultProxy;
let s3: S3Client;
/** The settings the "deployed" function runs with. */
let deployed: RuntimeSettings = before1;
const invoked: string[] = [];
let onInvoke: (id: string) => void = () => undefined;

before(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  s3 = new S3Client(s3ClientConfig(moto));
});
after(async () => {
  s3?.destroy();
  await proxy?.close();
  await moto?.stop();
});

/** The Lambda Invoke stand-in: the handler runs the payload, as the deployed function would; the first `throttles` invokes are refused as Lambda throttles. */
function standIn(throttles = 0): void {
  proxy.clear();
  if (throttles > 0) proxy.inject({ name: "throttled", match: { service: "lambda", method: "POST" }, fault: restJsonError(429, "TooManyRequestsException", "Rate Exceeded."), times: throttles });
  proxy.inject({
    name: "lambda invoke stand-in",
    match: { service: "lambda", method: "POST", path: new RegExp(`^/2015-03-31/functions/${NAMES.functionName}/invocations$`) },
    fault: async (req) => {
      const event = JSON.parse(req.body.toString("utf8")) as { id: string };
      invoked.push(event.id);
      onInvoke(event.id);
      const handler = createLambdaHandler({ store: new ImageStore(s3, NAMES.imagesBucket), settings: deployed, log: () => undefined });
      const result = await handler(event as never);
      return { kind: "respond", status: 200, body: JSON.stringify(result), headers: { "Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST" } };
    },
    times: Infinity,
  });
}

async function fresh(): Promise<{ ids: string[]; dir: string }> {
  await moto.reset();
  await s3.send(new CreateBucketCommand({ Bucket: NAMES.imagesBucket }));
  deployed = before1;
  invoked.length = 0;
  onInvoke = () => undefined;
  standIn();
  const handler = createLambdaHandler({ store: new ImageStore(s3, NAMES.imagesBucket), settings: before1, log: () => undefined });
  const ids: string[] = [];
  for (const name of ["sharp_320x240.jpg", "sharp_blackbug.png", "recurser_Portrait_6.jpg"]) {
    const { id } = responseJson<{ id: string }>(await handler(uploadEvent(loadFixture(name), { contentType: "image/jpeg" })));
    await handler({ imgapi: "reprocess", id } as never);
    ids.push(id);
  }
  const dir = mkdtempSync(join(tmpdir(), "imgapi-reprocess-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ stackName: STACK, region: MOTO_REGION, sizes: changed.sizes }));
  deployed = changed; // the size changed and was deployed
  return { ids: ids.sort(), dir };
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  pid?: number;
}

function cli(dir: string, args: string[], onSpawn?: (pid: number) => void): Promise<Ran> {
  const flags = ["--config", join(dir, "config.json"), "--state", join(dir, "state.jsonl"), "--endpoint-url", proxy.url, ...args];
  return runCli("reprocess/index.ts", flags, { env: { IMGAPI_REPROCESS_BACKOFF_MS: "20" }, ...(onSpawn ? { onSpawn } : {}) });
}

interface JsonSummary {
  ok: boolean;
  dryRun: boolean;
  originals: number;
  skipped: number;
  made: number;
  upToDate: number;
  wouldMake: number;
  variants: string[];
  refused: Array<{ id: string; code: string; reason: string }>;
  failed: unknown[];
  throttled: number;
  interrupted: boolean;
}

async function etags(): Promise<Map<string, string>> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: NAMES.imagesBucket }));
  return new Map((listed.Contents ?? []).map((o) => [o.Key!, o.ETag!]));
}

const thumbnails = (ids: string[]) => ids.flatMap((id) => [`resized/${id}/thumbnail.webp`]).sort();

test("after a size changed: the dry run lists exactly the outdated variants and changes nothing; the run remakes those and nothing else", async () => {
  const { ids, dir } = await fresh();
  const stored = await etags();
  const dry = await cli(dir, ["--dry-run", "--json"]);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as JsonSummary;
  assert.deepEqual([plan.ok, plan.dryRun, plan.originals, plan.wouldMake, plan.upToDate], [true, true, 3, 3, 0]);
  assert.deepEqual([...plan.variants].sort(), thumbnails(ids));
  assert.deepEqual(await etags(), stored, "a dry run writes nothing");

  const run = await cli(dir, ["--json", "--concurrency", "2"]);
  assert.equal(run.code, 0, run.stderr);
  const done = JSON.parse(run.stdout) as JsonSummary;
  assert.deepEqual([done.ok, done.made, done.upToDate, done.refused.length, done.failed.length], [true, 3, 0, 0, 0]);
  assert.deepEqual([...done.variants].sort(), thumbnails(ids));
  const now = await etags();
  for (const [key, etag] of stored) {
    if (thumbnails(ids).includes(key)) assert.notEqual(now.get(key), etag, `${key} remade`);
    else assert.equal(now.get(key), etag, `${key} untouched`);
  }
  const thumb = await s3.send(new HeadObjectCommand({ Bucket: NAMES.imagesBucket, Key: thumbnails(ids)[0]! }));
  assert.deepEqual([thumb.Metadata?.width, thumb.Metadata?.height], ["100", "100"]);

  const again = JSON.parse((await cli(dir, ["--json"])).stdout) as JsonSummary;
  assert.deepEqual([again.made, again.upToDate, again.skipped], [0, 3, 0], "finished runs leave no state: the next checks everything, finds it up to date");
});

test("a stopped run resumes: what it finished is not asked again", async () => {
  const { ids, dir } = await fresh();
  let pid: number | undefined;
  // Stopped (Ctrl-C) while the first original is being made: that one finishes, the rest wait.
  onInvoke = () => {
    if (invoked.length === 1 && pid !== undefined) process.kill(pid, "SIGINT");
  };
  const first = await cli(dir, ["--json", "--concurrency", "1"], (p) => (pid = p));
  assert.equal(first.code, 1, "a stopped run is not done");
  const stopped = JSON.parse(first.stdout) as JsonSummary;
  assert.deepEqual([stopped.interrupted, stopped.made], [true, 1]);
  const firstDone = [...invoked];
  assert.equal(firstDone.length, 1);

  onInvoke = () => undefined;
  const second = await cli(dir, ["--json"]);
  assert.equal(second.code, 0, second.stderr);
  const resumed = JSON.parse(second.stdout) as JsonSummary;
  assert.deepEqual([resumed.skipped, resumed.made, resumed.interrupted], [1, 2, false]);
  assert.deepEqual(invoked.slice(1).sort(), ids.filter((id) => id !== firstDone[0]).sort(), "each original asked once in all");
});

test("a refused original is reported with its reason and the run goes on; throttling is backed off", async () => {
  const { ids, dir } = await fresh();
  // An original stored as checked whose bytes no longer decode.
  const broken = "9e8d7c6b-5a49-4382-9716-05f4e3d2c1b0";
  await s3.send(new PutObjectCommand({ Bucket: NAMES.imagesBucket, Key: `originals/${broken}`, Body: loadFixture("sharp_320x240.jpg").subarray(0, 3000), ContentType: "image/jpeg", Metadata: { format: "jpeg", width: "320", height: "240", alpha: "0" } }));
  standIn(2);
  const run = await cli(dir, ["--json", "--concurrency", "1"]);
  const done = JSON.parse(run.stdout) as JsonSummary;
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual([done.originals, done.made, done.refused.length, done.throttled], [4, 3, 1, 2]);
  assert.equal(proxy.faulted("throttled"), 2);
  assert.deepEqual([done.refused[0]!.id, done.refused[0]!.code], [broken, "UNREADABLE_IMAGE"]);
  assert.match(done.refused[0]!.reason, /corrupt or truncated/);
  assert.equal(new Set(invoked).size, 4);
  assert.ok(ids.every((id) => invoked.includes(id)));
});

test("flags: --help, a bad --concurrency, a missing config", async () => {
  const dir = mkdtempSync(join(tmpdir(), "imgapi-reprocess-"));
  const help = await cli(dir, ["--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--config", "--profile", "--region", "--endpoint-url", "--dry-run", "--json", "--concurrency", "--state"]) assert.ok(help.stdout.includes(flag), flag);
  const bad = await cli(dir, ["--concurrency", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Expected an integer from 1 to 100 for --concurrency but received "0"/);
  const missing = await cli(dir, []);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /copy config\.example\.json/);
});
