// The acceptance targets of npm run bench. Times are never compared with an
// absolute limit (absolute times do not travel between machines): each timed
// target is a ratio of two things measured in the same run, or a bound per
// request far from what a request costs. Every line carries the machine's load
// average; a timed target missed while the machine is busy with other work is
// measured again, a bounded number of times, after waiting a while for the
// load to drop, and each attempt is kept.
import { availableParallelism, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

export interface Attempt {
  measured: number;
  /** The 1-minute load average when the measurement ended. */
  load: number;
}

export interface Check {
  name: string;
  measured: number;
  limit: number;
  unit: string;
  pass: boolean;
  load: number;
  /** Earlier attempts of a timed target that missed under load, oldest first. */
  retries?: Attempt[];
}

/** Another attempt at most this many times... */
export const RETRIES = 2;
/** ...each after waiting up to this long for the load to drop below one per CPU. */
const QUIET_WAIT_MS = 90_000;

export const load1 = () => loadavg()[0]!;
/** Busy: more runnable work than CPUs, so others' work shares ours. */
export const busy = (load = load1()) => load >= availableParallelism();

export function check(name: string, measured: number, limit: number, unit: string): Check {
  return { name, measured, limit, unit, pass: Number.isFinite(measured) && measured <= limit, load: load1() };
}

async function quieter(progress: (line: string) => void): Promise<void> {
  const until = Date.now() + QUIET_WAIT_MS;
  if (busy()) progress(`  waiting up to ${QUIET_WAIT_MS / 1000} s for the load average (${load1().toFixed(2)}) to drop below ${availableParallelism()}...`);
  while (busy() && Date.now() < until) await sleep(5_000);
}

/**
 * A timed target: measured again (at most RETRIES times) while it misses and
 * the machine was busy when it was measured. Passes on the first attempt that
 * meets it; every attempt is kept in `retries`.
 */
export async function timedCheck(
  first: Check,
  again: () => Promise<number>,
  progress: (line: string) => void,
  machine: { busy: (load: number) => boolean; quieter: () => Promise<void> } = { busy, quieter: () => quieter(progress) },
): Promise<Check> {
  let current = first;
  const retries: Attempt[] = [];
  while (!current.pass && machine.busy(current.load) && retries.length < RETRIES) {
    retries.push({ measured: current.measured, load: current.load });
    progress(`  ${current.name}: ${current.measured.toFixed(3)} over ${current.limit} at load ${current.load.toFixed(2)}; measuring again (${retries.length}/${RETRIES})`);
    await machine.quieter();
    current = check(current.name, await again(), current.limit, current.unit);
  }
  return retries.length === 0 ? current : { ...current, retries };
}

const fmt = (n: number, unit: string) => (unit === "" ? n.toFixed(3) : `${n.toFixed(unit === "MB" ? 2 : 1)} ${unit}`);

export function formatCheck(k: Check): string {
  const earlier = (k.retries ?? []).map((a) => `${fmt(a.measured, k.unit)} at load ${a.load.toFixed(2)}`);
  const retried = earlier.length === 0 ? "" : `; missed before under load: ${earlier.join(", ")}`;
  return `${k.pass ? "PASS" : "FAIL"}  ${k.name}: ${fmt(k.measured, k.unit)} (limit ${fmt(k.limit, k.unit)}; load ${k.load.toFixed(2)}${retried})`;
}
