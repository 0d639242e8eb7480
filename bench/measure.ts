// Measuring CPU time the way Lambda bills it: process.cpuUsage() deltas, user
// plus system, so the work of libvips' and libuv's threads counts, not just
// the wall clock of the main thread.

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Whether garbage can be collected between measurements (node --expose-gc). */
export const canCollect = gc !== undefined;

export interface Sample {
  cpuMs: number;
  wallMs: number;
}

/**
 * CPU and wall time of one run of fn. Garbage left by an earlier run (jimp
 * leaves hundreds of MB) is collected first, so it is not billed to this one.
 */
export async function measure(fn: () => Promise<unknown>): Promise<Sample> {
  gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs };
}

export const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;
