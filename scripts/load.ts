// npm run load: the full load run against the local server (default 2,000
// requests or 60 s, concurrency 32), with its figures. Exits 1 on any error,
// any lost or broken object, or server memory (heap after GC, or RSS) growing
// past its bound from the first quarter of the run to the last.
//   npm run load -- --requests 5000 --duration 120 --concurrency 64 --json
import { parseArgs } from "node:util";
import { describeLoad, runLoad } from "../test/support/load.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    duration: { type: "string", default: "60" },
    concurrency: { type: "string", default: "32" },
    stampedes: { type: "string", default: "4" },
    "rss-bound": { type: "string", default: "256" },
    "heap-bound": { type: "string", default: "16" },
    json: { type: "boolean", default: false },
  },
});

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`Expected a positive integer for --${name} but received ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const options = {
  requests: positive("requests", values.requests),
  durationMs: positive("duration", values.duration) * 1000,
  concurrency: positive("concurrency", values.concurrency),
  stampedes: positive("stampedes", values.stampedes),
  rssGrowthBoundMb: positive("rss-bound", values["rss-bound"]),
  heapGrowthBoundMb: positive("heap-bound", values["heap-bound"]),
};
console.error(`Load: ${options.requests} requests or ${options.durationMs / 1000} s, concurrency ${options.concurrency}, against a local server on 127.0.0.1...`);
const report = await runLoad({ ...options, progress: (line) => console.error(line) });
if (values.json) console.log(JSON.stringify(report, null, 2));
else for (const line of describeLoad(report)) console.log(line);
for (const e of report.errorSamples) console.error(`  error: ${e}`);
for (const p of [...report.stored.problems, ...report.stored.unreadable.map((k) => `${k}: unreadable (s3rver InternalError)`)].slice(0, 20)) console.error(`  bucket: ${p}`);
const failed =
  report.errors > 0 ||
  report.stored.problems.length > 0 ||
  report.stored.unreadable.length > 0 ||
  report.rssMb.growth > report.rssMb.bound ||
  report.heapAfterGcMb.growth > report.heapAfterGcMb.bound;
if (failed) console.error("FAILED: see above.");
process.exitCode = failed ? 1 : 0;
