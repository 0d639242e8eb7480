// Which AWS regions a config may name. The list is the AWS SDK's own partition
// data (the partitions.json that @aws-sdk/core ships and resolves endpoints
// with), so it moves with the SDK instead of going stale in our code; a region
// newer than the installed SDK still passes when it has a partition's shape.
// https://docs.aws.amazon.com/general/latest/gr/rande.html#regional-endpoints
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { nearest } from "./edit-distance.ts";

export interface Partition {
  id: string;
  regionRegex: RegExp;
  regions: string[];
}

/**
 * @aws-sdk/core exports only a resolver over this data, not the data, so the
 * file is read where the package keeps it (beside its ESM build). A layout
 * change throws here, and test/newcomer-errors.test.ts fails on it.
 */
export function sdkPartitionsFile(): string {
  const require = createRequire(import.meta.url);
  const core = dirname(require.resolve("@aws-sdk/core/package.json", { paths: [dirname(require.resolve("@aws-sdk/client-sts"))] }));
  return join(core, "dist-es", "submodules", "client", "util-endpoints", "lib", "aws", "partitions.js");
}

let cached: Partition[] | undefined;

export function sdkPartitions(): Partition[] {
  if (cached !== undefined) return cached;
  const file = sdkPartitionsFile();
  let data: { partitions: Array<{ id: string; regionRegex: string; regions: Record<string, unknown> }> };
  try {
    data = JSON.parse(readFileSync(file, "utf8").replace(/^\s*export const partitionsInfo\s*=\s*/, "").replace(/;\s*$/, ""));
  } catch (e) {
    throw new Error(`Cannot read the AWS SDK's region list from ${file} (${(e as Error).message}): has @aws-sdk/core moved it?`, { cause: e });
  }
  cached = data.partitions.map((p) => {
    const regionRegex = new RegExp(p.regionRegex);
    // "aws-global" and the like are signing pseudo-regions, not places to deploy to.
    return { id: p.id, regionRegex, regions: Object.keys(p.regions).filter((r) => regionRegex.test(r)) };
  });
  return cached;
}

export type RegionCheck = { ok: true; warning?: string } | { ok: false; problem: string };

/** Within this many edits of a known region's name (without its number), a region is a typo, not a new one. */
const TYPO_EDITS = 2;

const withoutNumber = (region: string) => region.replace(/-\d+$/, "");

/** Of regions equally few edits away, those sharing the longest start with `region`: a typo seldom hits the first letters (us-est-1 is us-east-1 before us-west-1). */
function closestOf(region: string, names: string[]): string[] {
  const shared = (name: string) => {
    let i = 0;
    while (i < name.length && name[i] === region[i]?.toLowerCase()) i++;
    return i;
  };
  const longest = Math.max(...names.map(shared));
  return names.filter((name) => shared(name) === longest).slice(0, 3);
}

function didYouMean(region: string, names: string[]): string {
  return names.length === 0 ? "" : `; did you mean ${closestOf(region, names).join(" or ")}?`;
}

/**
 * Known to the SDK: fine. A typo of a known region (us-est-1): refused with
 * the nearest. The shape of a partition's regions but unknown to this SDK
 * (eu-west-4, or a new place far from every known name): accepted with a
 * warning, since AWS opens regions faster than our lockfile moves.
 */
export function checkRegion(region: string, partitions: Partition[] = sdkPartitions()): RegionCheck {
  const known = partitions.flatMap((p) => p.regions);
  if (known.includes(region)) return { ok: true };
  const near = nearest(region, known);
  const partition = partitions.find((p) => p.regionRegex.test(region));
  if (partition !== undefined) {
    const places = new Set(known.map(withoutNumber));
    const place = withoutNumber(region);
    const typo = !places.has(place) && nearest(place, [...places]).distance <= TYPO_EDITS;
    if (!typo) {
      return { ok: true, warning: `region ${region} is not in the AWS SDK's list of regions (it may be newer than the installed SDK); using it as given${near.distance <= TYPO_EDITS ? `. If it is a typo: did you mean ${closestOf(region, near.names).join(" or ")}?` : "."}` };
    }
  }
  const close = near.distance <= Math.max(TYPO_EDITS, Math.floor(region.length / 3)) ? near.names : [];
  return { ok: false, problem: `unknown region ${JSON.stringify(region)}${didYouMean(region, close)} (AWS regions: https://docs.aws.amazon.com/general/latest/gr/rande.html)` };
}
