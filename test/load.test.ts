// Load on the local server, in short form (npm run load is the full run): a
// bounded burst of mixed uploads, size listings and variant fetches from
// concurrent clients, with stampedes of every client on one fresh image. The
// figures (throughput, latency percentiles, errors, server memory) go in the
// summary line; the assertions are the ones a user relies on: every request
// answered, nothing lost or broken in the bucket, memory flat, no hang.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { startLocalS3 } from "../local/storage.ts";
import { describeLoad, runLoad, type LoadReport } from "./support/load.ts";

const options = {
  requests: Number(process.env.LOAD_REQUESTS ?? 200),
  durationMs: Number(process.env.LOAD_SECONDS ?? 60) * 1000,
  concurrency: Number(process.env.LOAD_CONCURRENCY ?? 16),
  stampedes: 2,
  // What the server keeps alive (JS heap and Buffers after a full GC, nothing
  // in flight) may grow this much from before the run to after it...
  heapGrowthBoundMb: 8,
  // ...and its RSS (libvips and allocator pools, which follow the work in
  // flight) this much from the first quarter's peak to the last quarter's median.
  rssGrowthBoundMb: 256,
};
/** No request may take longer than this, even at the back of the queue. */
const LATENCY_BOUND_MS = 25_000;

let report: LoadReport;

before(async () => {
  report = await runLoad(options);
});

after(() => {
  if (report !== undefined) for (const line of describeLoad(report)) console.log(line);
});

test("every request is answered, with no error but the known partial reads", () => {
  assert.ok(report.requests >= Math.min(options.requests, 50), `${report.requests} requests`);
  assert.equal(report.errors - report.partialReads, 0, report.errorSamples.join("\n"));
  assert.ok(report.latencyMs.max < LATENCY_BOUND_MS, `slowest request ${report.latencyMs.max.toFixed(0)} ms`);
});

test(
  "no variant is ever served partial, even while another request rewrites it",
  () => {
    assert.equal(report.partialReads, 0, report.errorSamples.join("\n"));
  },
);

test("every uploaded image and every variant served is in the bucket afterwards, whole and decodable", () => {
  assert.deepEqual(report.stored.problems, []);
  assert.equal(report.stored.originals + report.stored.unreadable.filter((k) => k.startsWith("originals/")).length, report.uploads);
  // Every variant served is stored (a missing one is a "lost" problem above); more may be, made for clients that then failed.
  assert.ok(report.stored.variants + report.stored.unreadable.filter((k) => k.startsWith("resized/")).length >= report.variantsServed);
});

test(
  "no object is left unreadable by concurrent writes of the same key, and the bucket still lists",
  () => {
    assert.deepEqual(report.stored.unreadable, []);
    assert.equal(report.stored.listing, "ok");
  },
);

test(`the server's memory stays flat: what it keeps grows less than ${options.heapGrowthBoundMb} MB, its RSS less than ${options.rssGrowthBoundMb} MB`, () => {
  assert.ok(report.heapAfterGcMb.growth < options.heapGrowthBoundMb, `heap+buffers after GC ${report.heapAfterGcMb.before.toFixed(1)} -> ${report.heapAfterGcMb.after.toFixed(1)} MB`);
  assert.ok(report.rssMb.samples >= 8, `${report.rssMb.samples} RSS samples`);
  assert.ok(report.rssMb.growth < options.rssGrowthBoundMb, `RSS peak ${report.rssMb.firstQuarter.toFixed(0)} MB by the first quarter, ${report.rssMb.lastQuarter.toFixed(0)} MB in the last`);
});

test(
  "the local S3 replaces an object atomically: reads during concurrent rewrites of one key get it whole, and it stays readable",
  async () => {
    // What a stampede does to one variant in local mode, without the image work:
    // several PUTs of the same key (differing only in metadata) while it is read.
    const dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3rver-"));
    const s3 = await startLocalS3({ dataDir });
    const body = Buffer.alloc(200_000, 7);
    let partial = 0;
    let broken = 0;
    try {
      for (let round = 0; round < 30; round++) {
        const Key = `resized/${round}/large.webp`;
        await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: body }));
        await Promise.all([
          ...Array.from({ length: 4 }, (_, i) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: body, ContentType: "image/webp", Metadata: { width: String(1600 - i * 100), spec: "x".repeat(i * 3) } }))),
          ...Array.from({ length: 4 }, async () => {
            try {
              const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }));
              if (!Buffer.from(await got.Body!.transformToByteArray()).equals(body)) partial += 1;
            } catch {
              partial += 1;
            }
          }),
        ]);
        try {
          await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key }));
        } catch {
          broken += 1;
        }
      }
    } finally {
      await s3.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    assert.deepEqual({ partial, broken }, { partial: 0, broken: 0 }, "of 120 reads during rewrites, and 30 keys afterwards");
  },
);
