// Process-wide libvips settings: which loaders may run, how many threads and
// how much operation cache. Applied once per process (cold start).
import sharp from "sharp";
import type { InputFormat } from "../../config/schema.ts";
import { LOADERS } from "./formats.ts";

let applied: string | undefined;

/**
 * Blocks every libvips loader, then unblocks only the allowed formats', so a
 * file that slips past sniffing still cannot reach an untrusted decoder.
 */
export function configureLibvips(allowed: readonly InputFormat[]): void {
  const key = [...allowed].sort().join(",");
  if (applied === key) return;
  sharp.block({ operation: ["VipsForeignLoad"] });
  sharp.unblock({ operation: allowed.flatMap((f) => LOADERS[f]) });
  // The handler holds one request at a time: libvips' cache of recent
  // operations only grows memory here, it never gets a hit across images.
  sharp.cache(false);
  applied = key;
}
