// The check POST /images runs before it stores anything (the header, then a
// full decode), timed twice: on the inputs the bench resizes, for what an
// accepted upload costs (bench/cost.ts), and on every invalid file and bomb
// among the test fixtures, for what a refusal costs. test/image-core.test.ts
// asserts each of those is refused with a stable 4xx code; how long that takes
// is measured here, where the load can be read, not in the unit suite.
import type { RuntimeSettings } from "../config/schema.ts";
import { ApiError } from "../function/errors.ts";
import { assertDecodes, inspectImage } from "../function/image/inspect.ts";
import { fixturesIn, loadFixture } from "../test/support/fixtures.ts";
import type { BenchInput } from "./inputs.ts";
import { measure, median, round } from "./measure.ts";

async function checkUpload(buf: Buffer, limits: RuntimeSettings["input"]): Promise<void> {
  await inspectImage(buf, limits);
  await assertDecodes(buf, limits);
}

/** Median CPU ms of the check of each accepted input. */
export async function measureUploadChecks(inputs: BenchInput[], settings: RuntimeSettings, rounds: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const input of inputs) {
    const samples = [];
    for (let r = 0; r < rounds; r++) samples.push((await measure(() => checkUpload(input.buf, settings.input))).cpuMs);
    out[input.id] = round(median(samples), 1);
  }
  return out;
}

export interface RefusalCost {
  fixtures: number;
  /** The costliest refusal: its file, code and median CPU ms. */
  slowest: { file: string; code: string; cpuMs: number };
  /** Files whose check did not end in a 4xx: none expected. */
  accepted: string[];
}

export async function measureFixtureRefusals(settings: RuntimeSettings, rounds: number): Promise<RefusalCost> {
  const rows = fixturesIn("invalid", "bomb");
  let slowest = { file: "", code: "", cpuMs: -1 };
  const accepted: string[] = [];
  for (const f of rows) {
    const buf = loadFixture(f);
    let code = "";
    const samples = [];
    for (let r = 0; r < rounds; r++) {
      samples.push(
        (
          await measure(async () => {
            try {
              await checkUpload(buf, settings.input);
              code = "accepted";
            } catch (e) {
              code = e instanceof ApiError && e.status < 500 ? e.code : `unexpected ${String(e)}`;
            }
          })
        ).cpuMs,
      );
    }
    if (code === "accepted" || code.startsWith("unexpected")) accepted.push(`${f.file}: ${code}`);
    const cpuMs = round(median(samples), 1);
    if (cpuMs > slowest.cpuMs) slowest = { file: f.file, code, cpuMs };
  }
  return { fixtures: rows.length, slowest, accepted };
}
