// A bounded load run against the local server (startLocalServer, with the
// example config, in a child process so its memory is measured on its own:
// RSS, and the JS heap after a forced GC, asked over IPC): mixed uploads, size
// listings and variant fetches from N concurrent clients, plus "stampedes" in
// which every client asks for the sizes of one fresh image at once. Traffic
// goes only to 127.0.0.1 and stops after `requests` or `durationMs`.
// Afterwards the server is stopped and its bucket opened directly: every
// upload must be there byte for byte, and every variant whole and decodable.
import { fork, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, ListObjectsCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { loadConfig } from "../../config/load.ts";
import { runtimeSettingsOf } from "../../config/runtime-env.ts";
import { startLocalServer } from "../../local/server.ts";
import { startLocalS3 } from "../../local/storage.ts";
import { FIXTURES_DIR } from "./fixtures.ts";
import { mulberry32 } from "./seeded-random.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const SIZES = ["thumbnail", "medium", "large"] as const;

export interface LoadOptions {
  /** Stop after this many requests... */
  requests: number;
  /** ...or after this long, whichever comes first. */
  durationMs: number;
  concurrency: number;
  /** Stampedes (every client on one fresh image) spread over the run. */
  stampedes?: number;
  /** Allowed growth of the server's RSS from the first quarter of the run to the last. */
  rssGrowthBoundMb: number;
  /** Allowed growth of its JS heap and Buffers after GC (what is kept alive), from before the run to after it: a leak detector. */
  heapGrowthBoundMb: number;
  seed?: number;
  /** Progress lines (a person watching npm run load). */
  progress?: (line: string) => void;
}

type Kind = "upload" | "upload-json" | "list" | "size" | "size-304" | "stampede";

interface Sample {
  kind: Kind;
  ms: number;
  at: number;
}

export interface LoadReport {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  concurrency: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  byKind: Record<string, { count: number; p50: number; p95: number }>;
  errors: number;
  /**
   * Of the errors, variant reads that got a partial object while another
   * request was rewriting it (s3rver writes in place; S3 never serves a
   * partial object). Counted apart so the rest stay strict.
   */
  partialReads: number;
  errorSamples: string[];
  stampedes: number;
  uploads: number;
  variantsServed: number;
  stored: {
    originals: number;
    variants: number;
    /** Lost, altered or broken objects. */
    problems: string[];
    /** Objects s3rver can no longer read (InternalError), and whether the bucket still lists. */
    unreadable: string[];
    listing: string;
  };
  /** firstQuarter: the peak by the end of the first quarter (warm-up included); lastQuarter: the median of the last. */
  rssMb: { start: number; firstQuarter: number; lastQuarter: number; growth: number; peak: number; bound: number; samples: number };
  /** JS heap and Buffers after a full GC with nothing in flight, before the run and after it. */
  heapAfterGcMb: { before: number; after: number; growth: number; bound: number };
}

/** The images uploaded during the run: real photos and graphics from the fixture corpus. */
const SOURCES = ["valid/sharp_flowers.jpeg", "valid/sharp_4.webp", "valid/sharp_blackbug.png", "exif/recurser_Landscape_6.jpg", "valid/sharp_concert.jpg", "valid/sharp_Crash_test.gif", "valid/sharp_5_webp_a.webp", "valid/image-rs_progressive_cat.jpg"];

class PartialRead extends Error {}

const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Memory {
  rss: number;
  heapUsed: number;
}

interface Server {
  url: string;
  apiKey: string;
  child: ChildProcess;
  /** The child's memory: RSS, and the JS heap plus Buffers ("external") right after a full GC. */
  memory(): Promise<Memory>;
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

/** The local server in a child process of its own, on a free port, with its own data folder. */
async function startServer(dataDir: string): Promise<Server> {
  const apiKey = randomBytes(30).toString("base64url");
  const child = fork(SELF, ["serve", dataDir, apiKey], {
    cwd: ROOT,
    execArgv: ["--import", "tsx", "--expose-gc"],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const waiting = new Map<string, (m: ChildMessage) => void>();
  child.on("message", (m: ChildMessage) => waiting.get(m.type)?.(m));
  const next = (type: string, timeoutMs: number) =>
    new Promise<ChildMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} from the server child within ${timeoutMs} ms\n${stderr.slice(-2000)}`)), timeoutMs);
      waiting.set(type, (m) => {
        clearTimeout(timer);
        waiting.delete(type);
        resolve(m);
      });
    });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ready = await Promise.race([next("ready", 60_000), exited.then((code) => Promise.reject(new Error(`the server child exited with ${code}\n${stderr.slice(-2000)}`)))]);
  return {
    url: (ready as { url: string }).url,
    apiKey,
    child,
    async memory() {
      const answer = next("memory", 10_000);
      child.send({ type: "memory" });
      return (await answer) as unknown as Memory;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ type: "stop" });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

type ChildMessage = { type: "ready"; url: string } | ({ type: "memory" } & Memory);

/** The child's side: the server, and its memory on request. */
async function serve(dataDir: string, apiKey: string): Promise<void> {
  const settings = runtimeSettingsOf(loadConfig(join(ROOT, "config.example.json")));
  const server = await startLocalServer({ port: 0, dataDir, apiKey, settings, log: () => {} });
  const send = (m: ChildMessage) => process.send!(m);
  process.on("message", (m: { type: string }) => {
    if (m.type === "memory") {
      (globalThis as { gc?: () => void }).gc?.();
      // Buffers (images) live outside the JS heap: "external" counts them.
      const { rss, heapUsed, external } = process.memoryUsage();
      send({ type: "memory", rss: rss / 1024 / 1024, heapUsed: (heapUsed + external) / 1024 / 1024 });
    } else if (m.type === "stop") {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", url: server.url });
}

function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const progress = options.progress ?? (() => {});
  const random = mulberry32(options.seed ?? 20_251_124);
  const sources = SOURCES.map((file) => readFileSync(join(FIXTURES_DIR, file)));
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-load-"));
  const server = await startServer(dataDir);
  const headers = { "x-api-key": server.apiKey };

  const samples: Sample[] = [];
  const errors: string[] = [];
  /** Uploaded id -> source index. */
  const uploaded = new Map<string, number>();
  const ids: string[] = [];
  /** "id/size" -> dimensions a listing promised. */
  const promised = new Map<string, [number, number]>();
  const served = new Set<string>();
  const etags = new Map<string, string>();
  let started = 0;
  let finished = 0;
  let partialReads = 0;

  async function timed(kind: Kind, fn: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    try {
      await fn();
    } catch (e) {
      if (e instanceof PartialRead) partialReads += 1;
      errors.push(`${kind}: ${(e as Error).message}`);
    } finally {
      samples.push({ kind, ms: performance.now() - t0, at: performance.now() });
      finished += 1;
    }
  }

  async function upload(kind: "upload" | "upload-json" | "stampede", source: number): Promise<string> {
    const bytes = sources[source]!;
    const res =
      kind === "upload-json"
        ? await fetch(`${server.url}/images`, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify({ image: bytes.toString("base64"), name: `load-${source}.img` }) })
        : await fetch(`${server.url}/images`, { method: "POST", headers: { ...headers, "Content-Type": "application/octet-stream" }, body: bytes });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`upload: ${res.status} ${text.slice(0, 200)}`);
    const id = (JSON.parse(text) as { id: string }).id;
    uploaded.set(id, source);
    ids.push(id);
    return id;
  }

  async function list(id: string): Promise<void> {
    const res = await fetch(`${server.url}/images/${id}`, { headers });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`list: ${res.status} ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { variants: Array<{ size: string; width: number; height: number }> };
    if (body.variants.length !== SIZES.length) throw new Error(`list: ${body.variants.length} variants`);
    for (const v of body.variants) {
      const key = `${id}/${v.size}`;
      const before = promised.get(key);
      if (before !== undefined && (before[0] !== v.width || before[1] !== v.height)) throw new Error(`list: ${key} was ${before}, now ${v.width}x${v.height}`);
      promised.set(key, [v.width, v.height]);
      served.add(key);
    }
  }

  async function fetchSize(id: string, size: string, conditional: boolean): Promise<void> {
    const key = `${id}/${size}`;
    const etag = etags.get(key);
    const res = await fetch(`${server.url}/images/${id}/${size}`, { headers: { ...headers, ...(conditional && etag ? { "If-None-Match": etag } : {}) } });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status === 304 && conditional && etag) return;
    if (res.status === 503 && /STORAGE_UNAVAILABLE/.test(bytes.toString("utf8"))) {
      // s3rver aborts a read whose file is truncated under it by a rewrite.
      throw new PartialRead(`size: 503 ${bytes.toString("utf8", 0, 200)}`);
    }
    if (res.status !== 200) throw new Error(`size: ${res.status} ${bytes.toString("utf8", 0, 200)}`);
    let meta;
    try {
      meta = await sharp(bytes).metadata();
      // A full decode for one in ten: a partial object can have a whole header.
      if (random() < 0.1) await sharp(bytes, { failOn: "warning" }).raw().toBuffer();
    } catch (e) {
      throw new PartialRead(`size: ${key}: 200 with ${bytes.length} bytes that do not decode (${(e as Error).message})`);
    }
    const want = promised.get(key);
    if (meta.format !== "webp" || (want !== undefined && (meta.width !== want[0] || meta.height !== want[1]))) {
      throw new Error(`size: ${key} is ${meta.format} ${meta.width}x${meta.height}, promised ${want}`);
    }
    promised.set(key, [meta.width!, meta.height!]);
    served.add(key);
    const tag = res.headers.get("etag");
    if (tag) etags.set(key, tag);
  }

  const pickId = () => ids[Math.floor(random() * ids.length)]!;
  const pickSize = () => SIZES[Math.floor(random() * SIZES.length)]!;

  function nextRequest(): () => Promise<void> {
    const r = random();
    if (ids.length < 4 || r < 0.15) {
      const source = Math.floor(random() * sources.length);
      return () => timed("upload", async () => void (await upload("upload", source)));
    }
    if (r < 0.2) {
      const source = Math.floor(random() * sources.length);
      return () => timed("upload-json", async () => void (await upload("upload-json", source)));
    }
    const id = pickId();
    if (r < 0.4) return () => timed("list", () => list(id));
    const size = pickSize();
    if (r < 0.45) return () => timed("size-304", () => fetchSize(id, size, true));
    return () => timed("size", () => fetchSize(id, size, false));
  }

  /** Every client at once on one fresh image: its sizes made concurrently by many requests. */
  async function stampede(): Promise<void> {
    let id: string;
    try {
      id = await upload("stampede", Math.floor(random() * 3));
    } catch (e) {
      errors.push(`stampede upload: ${(e as Error).message}`);
      return;
    }
    await Promise.all(
      Array.from({ length: options.concurrency }, (_, i) => {
        started += 1;
        return i % 4 === 0 ? timed("stampede", () => list(id)) : timed("stampede", () => fetchSize(id, SIZES[i % SIZES.length]!, false));
      }),
    );
  }

  const rss: Array<{ at: number; mb: number }> = [];
  const startMb = rssMb(server.child.pid!) ?? 0;
  const rssSampler = setInterval(() => {
    const mb = rssMb(server.child.pid!);
    if (mb !== undefined) rss.push({ at: performance.now(), mb });
  }, 200);
  // Warm-up, outside the measured run: every client uploads an image and has
  // its sizes made, at once, so the first quarter is measured with the server
  // at its working size (libvips, buffers, sockets) rather than from cold.
  await Promise.all(
    Array.from({ length: Math.max(options.concurrency, sources.length) }, async (_, i) => {
      const id = await upload("upload", i % sources.length);
      await list(id);
    }),
  );
  // What the server keeps alive, measured with nothing in flight: JS heap and
  // Buffers right after a full GC, once before the run and once after it.
  const quiet = async () => {
    await new Promise((r) => setTimeout(r, 500));
    await server.memory();
    return (await server.memory()).heapUsed;
  };
  const heapBefore = await quiet();

  const t0 = performance.now();
  const deadline = t0 + options.durationMs;
  const stampedeAt = new Set(Array.from({ length: options.stampedes ?? 3 }, (_, i) => Math.floor(((i + 0.5) * options.requests) / (options.stampedes ?? 3))));
  let lastProgress = t0;
  async function worker(): Promise<void> {
    while (started < options.requests && performance.now() < deadline) {
      const n = started;
      started += 1;
      if (stampedeAt.has(n)) {
        stampedeAt.delete(n);
        await stampede();
        continue;
      }
      await nextRequest()();
      if (performance.now() - lastProgress > 5_000) {
        lastProgress = performance.now();
        progress(`  ${finished} requests, ${errors.length} errors, ${((performance.now() - t0) / 1000).toFixed(0)} s, server RSS ${rss.at(-1)?.mb.toFixed(0) ?? "?"} MB`);
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  const t1 = performance.now();
  clearInterval(rssSampler);
  const heapAfter = await quiet();
  await server.stop();

  // The bucket, opened directly once the server is gone.
  const stored = await verifyBucket(dataDir, uploaded, sources, served);
  if (process.env.LOAD_KEEP_DATA) progress(`  data kept in ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });

  const measured = samples.filter((s) => s.at >= t0);
  const all = measured.map((s) => s.ms).sort((a, b) => a - b);
  const byKind: LoadReport["byKind"] = {};
  for (const kind of new Set(measured.map((s) => s.kind))) {
    const ms = measured.filter((s) => s.kind === kind).map((s) => s.ms).sort((a, b) => a - b);
    byKind[kind] = { count: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95) };
  }
  const span = t1 - t0;
  const quarter = (series: Array<{ at: number; mb: number }>, from: number, to: number) => series.filter((x) => x.at >= t0 + from * span && x.at <= t0 + to * span).map((x) => x.mb);
  // RSS follows the work in flight (a stampede of renders lifts it for
  // seconds), so the last quarter's median is held against the highest RSS
  // reached by the end of the first quarter, warm-up included: a server that
  // keeps what it allocates climbs past that; one that is flat does not.
  const first = Math.max(...rss.filter((x) => x.at <= t0 + 0.25 * span).map((x) => x.mb));
  const last = median(quarter(rss, 0.75, 1));
  return {
    requests: measured.length,
    seconds: span / 1000,
    requestsPerSecond: measured.length / (span / 1000),
    concurrency: options.concurrency,
    latencyMs: { p50: percentile(all, 50), p95: percentile(all, 95), p99: percentile(all, 99), max: all.at(-1) ?? 0 },
    byKind,
    errors: errors.length,
    partialReads,
    errorSamples: errors.slice(0, 10),
    stampedes: (options.stampedes ?? 3) - stampedeAt.size,
    uploads: uploaded.size,
    variantsServed: served.size,
    stored,
    rssMb: { start: startMb, firstQuarter: first, lastQuarter: last, growth: last - first, peak: Math.max(...rss.map((x) => x.mb)), bound: options.rssGrowthBoundMb, samples: rss.length },
    heapAfterGcMb: { before: heapBefore, after: heapAfter, growth: heapAfter - heapBefore, bound: options.heapGrowthBoundMb },
  };
}

/**
 * Every upload and every variant served must be in the bucket: the originals
 * byte for byte, the variants whole, decodable at their recorded size. Keys
 * are checked one by one (a listing is tried too, for strays).
 */
async function verifyBucket(dataDir: string, uploaded: Map<string, number>, sources: Buffer[], served: Set<string>): Promise<LoadReport["stored"]> {
  const s3 = await startLocalS3({ dataDir });
  const problems: string[] = [];
  const unreadable: string[] = [];
  let originals = 0;
  let variants = 0;
  const read = async (Key: string) => {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }));
    return { data: Buffer.from(await got.Body!.transformToByteArray()), meta: got.Metadata ?? {}, length: got.ContentLength };
  };
  /** undefined when the key cannot be read; the reason is recorded (a missing key only when it must exist). */
  const tryRead = async (key: string, mayBeAbsent = false) => {
    try {
      return await read(key);
    } catch (e) {
      const name = (e as Error).name;
      if (mayBeAbsent && name === "NoSuchKey") return undefined;
      // s3rver answers InternalError for a key whose metadata file it broke itself.
      if (name === "InternalError") unreadable.push(key);
      else problems.push(`${key}: ${name === "NoSuchKey" ? "lost" : `cannot be read (${name})`}`);
      return undefined;
    }
  };
  try {
    for (const [id, source] of uploaded) {
      const got = await tryRead(`originals/${id}`);
      if (got === undefined) continue;
      originals += 1;
      if (sha(got.data) !== sha(sources[source]!)) problems.push(`originals/${id} is not the uploaded bytes`);
    }
    // Every size of every upload: a served one must be there; one never asked for may be absent.
    for (const id of uploaded.keys()) {
      for (const size of SIZES) {
        const key = `${id}/${size}`;
        const got = await tryRead(`resized/${key}.webp`, !served.has(key));
        if (got === undefined) continue;
        variants += 1;
        try {
          const { info } = await sharp(got.data, { failOn: "warning" }).raw().toBuffer({ resolveWithObject: true });
          if (info.width !== Number(got.meta.width) || info.height !== Number(got.meta.height)) {
            problems.push(`resized/${key}.webp decodes at ${info.width}x${info.height}, recorded ${got.meta.width}x${got.meta.height}`);
          }
        } catch (e) {
          problems.push(`resized/${key}.webp does not decode (${(e as Error).message})`);
        }
      }
    }
    // ListObjects (v1): s3rver 3.7.1 cannot page ListObjectsV2 on Node >= 17 (its
    // continuation tokens use DES, which OpenSSL 3 no longer offers).
    let listing = "ok";
    try {
      let marker: string | undefined;
      for (;;) {
        const page = await s3.client.send(new ListObjectsCommand({ Bucket: s3.bucket, Marker: marker }));
        for (const o of page.Contents ?? []) {
          const id = /^(?:originals|resized)\/([^/]+)/.exec(o.Key!)?.[1];
          if (id === undefined || !uploaded.has(id)) problems.push(`unexpected object ${o.Key}`);
        }
        if (!page.IsTruncated || (page.Contents ?? []).length === 0) break;
        marker = page.Contents!.at(-1)!.Key;
      }
    } catch (e) {
      listing = `fails (${(e as Error).name})`;
    }
    return { originals, variants, problems, unreadable, listing };
  } finally {
    await s3.close();
  }
}

const signed = (mb: number, digits = 0) => `${mb >= 0 ? "+" : ""}${mb.toFixed(digits)} MB`;
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

/** The one-line summary, and a line of detail. */
export function describeLoad(r: LoadReport): string[] {
  const kinds = Object.entries(r.byKind)
    .map(([k, v]) => `${k} ${v.count} (p50 ${fmt(v.p50)}, p95 ${fmt(v.p95)})`)
    .join("; ");
  return [
    `load: ${r.requests} requests in ${r.seconds.toFixed(1)} s at concurrency ${r.concurrency}: ${r.requestsPerSecond.toFixed(1)} req/s, p50 ${fmt(r.latencyMs.p50)}, p95 ${fmt(r.latencyMs.p95)}, p99 ${fmt(r.latencyMs.p99)}, max ${fmt(r.latencyMs.max)}; ${r.errors} errors${r.partialReads > 0 ? ` (${r.partialReads} partial reads of a variant being rewritten)` : ""}; ${r.stored.originals} originals and ${r.stored.variants} variants present and decodable, ${r.stored.problems.length} lost or broken${r.stored.unreadable.length > 0 ? `, ${r.stored.unreadable.length} unreadable (s3rver metadata)` : ""}; server heap+buffers after GC ${r.heapAfterGcMb.before.toFixed(1)} -> ${r.heapAfterGcMb.after.toFixed(1)} MB across the run (${signed(r.heapAfterGcMb.growth, 1)}, bound ${r.heapAfterGcMb.bound}), RSS peak ${r.rssMb.firstQuarter.toFixed(0)} MB by the first quarter, median ${r.rssMb.lastQuarter.toFixed(0)} MB in the last (${signed(r.rssMb.growth)}, bound ${r.rssMb.bound})`,
    `load: ${kinds}; ${r.stampedes} stampedes of ${r.concurrency} clients on one fresh image; ${r.uploads} uploads, ${r.variantsServed} variants served; RSS at start ${r.rssMb.start.toFixed(0)} MB, peak ${r.rssMb.peak.toFixed(0)} MB (${r.rssMb.samples} samples); bucket listing ${r.stored.listing}`,
  ];
}

// Run as the server child: node --import tsx --expose-gc test/support/load.ts serve DATA_DIR API_KEY
if (process.argv[1] === SELF && process.argv[2] === "serve") {
  await serve(process.argv[3]!, process.argv[4]!);
}
