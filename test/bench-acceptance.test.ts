// npm run bench's rules, without timing anything: a timed target missed while
// the machine is busy is measured again, a bounded number of times, and every
// attempt is reported; one missed on a quiet machine fails at once. And the
// cost model's arithmetic, from CPU time to dollars per million uploads.
import assert from "node:assert/strict";
import { test } from "node:test";
import { check, formatCheck, RETRIES, timedCheck } from "../bench/acceptance.ts";
import { CALLS_PER_UPLOAD, costOf, PRICES } from "../bench/cost.ts";

const quietAfter = (n: number) => {
  let calls = 0;
  return { busy: () => calls < n, quieter: async () => void calls++ };
};

test("a target met the first time is not measured again", async () => {
  let again = 0;
  const got = await timedCheck(check("ratio", 0.5, 0.65, ""), async () => ++again, () => {}, quietAfter(99));
  assert.deepEqual([got.pass, again, got.retries], [true, 0, undefined]);
});

test("missed under load: measured again until it passes, each earlier attempt kept with its load", async () => {
  const values = [0.7, 0.6];
  const first = { ...check("ratio", 0.8, 0.65, ""), load: 5.5 };
  const got = await timedCheck(first, async () => values.shift()!, () => {}, quietAfter(99));
  assert.equal(got.pass, true);
  assert.equal(got.measured, 0.6);
  assert.deepEqual(got.retries?.map((a) => [a.measured, a.load]), [[0.8, 5.5], [0.7, got.retries![1]!.load]]);
  assert.match(formatCheck(got), /^PASS {2}ratio: 0\.600 \(limit 0\.650; load [\d.]+; missed before under load: 0\.800 at load 5\.50, 0\.700 at load [\d.]+\)$/);
});

test(`missed under load every time: fails after ${RETRIES} more attempts, not more`, async () => {
  let again = 0;
  const got = await timedCheck(check("ratio", 0.9, 0.65, ""), async () => (++again, 0.9), () => {}, { busy: () => true, quieter: async () => {} });
  assert.deepEqual([got.pass, again, got.retries?.length], [false, RETRIES, RETRIES]);
  assert.match(formatCheck(got), /^FAIL {2}ratio: 0\.900/);
});

test("missed on a quiet machine: fails at once", async () => {
  let again = 0;
  const got = await timedCheck(check("ratio", 0.9, 0.65, ""), async () => ++again, () => {}, { busy: () => false, quieter: async () => {} });
  assert.deepEqual([got.pass, again], [false, 0]);
});

test("a measurement that is not a number never passes", () => {
  assert.equal(check("jimp", NaN, 0.1, "").pass, false);
});

test("cost: CPU time stretched by the vCPU share, billed per invocation in whole ms, priced per million uploads", () => {
  // 1536 MB is 1536/1769 of a vCPU: 100 ms of CPU lasts 115.2 ms, billed 116.
  const row = costOf({ label: "x", checkCpuMs: 100, renderCpuMs: 100 }, 1536);
  assert.equal(row.billedMs, 232);
  assert.equal(row.gbSeconds, 1.5 * 0.232);
  const lambdaArm = 1e6 * (1.5 * 0.232 * PRICES.lambdaGbSecond.arm64 + 2 * PRICES.lambdaRequest);
  assert.ok(Math.abs(row.perMillion.lambda.arm64 - lambdaArm) < 1e-9);
  assert.ok(Math.abs(row.perMillion.apiGateway - 7) < 1e-9, "two REST API calls at 3.50 USD per million");
  assert.ok(Math.abs(row.perMillion.s3 - 22) < 1e-9, "4 PUT at 5 USD and 5 GET at 0.40 USD per million");
  assert.ok(Math.abs(row.perMillion.cloudTrail - 9) < 1e-9, "9 data events at 0.10 USD per 100,000");
  assert.ok(Math.abs(row.perMillion.arm64 - (lambdaArm + 7 + 22 + 9)) < 1e-9);
  assert.ok(row.perMillion.x86_64 > row.perMillion.arm64);
  // At 1769 MB and above a request has a whole vCPU: its duration is its CPU time.
  assert.equal(costOf({ label: "x", checkCpuMs: 100, renderCpuMs: 100 }, 3008).billedMs, 200);
  assert.equal(costOf({ label: "x", checkCpuMs: 1, renderCpuMs: 1 }, 1536, false).perMillion.cloudTrail, 0);
  assert.equal(CALLS_PER_UPLOAD.s3Put + CALLS_PER_UPLOAD.s3Get, 9);
});
