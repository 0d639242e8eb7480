// Process-wide libvips settings: which loaders may run, how many threads and
// how much operation cache. Applied once per process (cold start).
import { availableParallelism } from "node:os";
import sharp from "sharp";
import type { InputFormat } from "../../config/schema.ts";
import { LOADERS } from "./formats.ts";

/**
 * Lambda gives a function CPU in proportion to its memory: one full vCPU at
 * 1769 MB, up to six at 10240 MB
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
 */
export const LAMBDA_MB_PER_VCPU = 1769;

/**
 * libvips threads per image. Below two vCPUs a second thread only takes turns
 * with the first (and costs its memory), and the sizes of a request are
 * already encoded in parallel on libuv's pool; above, one thread per whole
 * vCPU. Off Lambda: sharp's glibc default of 1, set explicitly because sharp
 * switches to one thread per core whenever MALLOC_ARENA_MAX is set.
 */
export function libvipsThreads(env: NodeJS.ProcessEnv = process.env): number {
  const memoryMb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  if (!(memoryMb > 0)) return 1;
  return Math.max(1, Math.min(Math.floor(memoryMb / LAMBDA_MB_PER_VCPU), availableParallelism()));
}

let applied: string | undefined;

/**
 * Blocks every libvips loader, then unblocks only the allowed formats', so a
 * file that slips past sniffing still cannot reach an untrusted decoder.
 * Returns the libvips thread count set.
 */
export function configureLibvips(allowed: readonly InputFormat[], env: NodeJS.ProcessEnv = process.env): number {
  const threads = libvipsThreads(env);
  const key = `${[...allowed].sort().join(",")}/${threads}`;
  if (applied === key) return threads;
  sharp.block({ operation: ["VipsForeignLoad"] });
  sharp.unblock({ operation: allowed.flatMap((f) => LOADERS[f]) });
  // The handler holds one request at a time: libvips' cache of recent
  // operations only grows memory here, it never gets a hit across images.
  sharp.cache(false);
  sharp.concurrency(threads);
  applied = key;
  return threads;
}
