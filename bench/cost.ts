// What a user pays per million uploads, from the CPU the bench measured. One
// upload is POST /images (the check: header, then a full decode) and the
// GET /images/{id} that makes the three default sizes. Lambda bills the
// duration at the configured memory, and gives CPU in proportion to memory
// (one vCPU at 1769 MB: function/image/libvips.ts), so a CPU-bound request
// lasts its CPU time divided by its vCPU share. The time spent waiting on S3
// is not measured here and is left out: these are lower bounds of Lambda's
// part, exact for the request counts.
//
// Unit prices: US East (N. Virginia), on-demand, first pricing tier, free tiers
// left out, read on 2026-11-27 (AWS's rate tables render in the browser; the
// figures are those the pages and AWS's own documents state):
//   Lambda duration and requests  https://aws.amazon.com/lambda/pricing/
//   API Gateway REST API calls    https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html
//   S3 Standard requests          https://aws.amazon.com/s3/pricing/
//   CloudTrail S3 data events     https://aws.amazon.com/cloudtrail/pricing/
import type { Architecture } from "../deploy/function-zip.ts";
import { LAMBDA_MB_PER_VCPU } from "../function/image/libvips.ts";

export const PRICES = {
  region: "us-east-1",
  readOn: "2026-11-27",
  lambdaGbSecond: { arm64: 0.0000133334, x86_64: 0.0000166667 } as Record<Architecture, number>,
  lambdaRequest: 0.2 / 1e6,
  apiGatewayRestRequest: 3.5 / 1e6,
  s3PutClass: 0.005 / 1000,
  s3GetClass: 0.0004 / 1000,
  cloudTrailDataEvent: 0.1 / 100_000,
} as const;

/**
 * The calls one upload makes (function/actions/upload-image.ts, list-sizes.ts,
 * variants.ts): POST /images stores the original (1 PutObject); the listing
 * reads its head, looks for each size (3 HeadObject), reads the original
 * (GetObject) and stores the sizes (3 PutObject). HEAD and GET are S3's
 * GET-class requests; every one of them is a CloudTrail data event when
 * trail.dataEvents is on (the default).
 */
export const CALLS_PER_UPLOAD = { apiRequests: 2, lambdaInvocations: 2, s3Put: 4, s3Get: 5 } as const;

export interface CostInput {
  label: string;
  /** CPU ms of POST /images's check, and of making the three sizes. */
  checkCpuMs: number;
  renderCpuMs: number;
}

export interface CostRow {
  label: string;
  /** Billed ms per upload (both invocations, each rounded up to 1 ms). */
  billedMs: number;
  gbSeconds: number;
  /** USD per million uploads. */
  perMillion: Record<Architecture, number> & { lambda: Record<Architecture, number>; apiGateway: number; s3: number; cloudTrail: number };
}

export function costOf(input: CostInput, memoryMb: number, dataEvents = true): CostRow {
  const share = Math.min(1, memoryMb / LAMBDA_MB_PER_VCPU);
  const billedMs = Math.ceil(input.checkCpuMs / share) + Math.ceil(input.renderCpuMs / share);
  const gbSeconds = (memoryMb / 1024) * (billedMs / 1000);
  const million = 1e6;
  const lambda = (a: Architecture) => million * (gbSeconds * PRICES.lambdaGbSecond[a] + CALLS_PER_UPLOAD.lambdaInvocations * PRICES.lambdaRequest);
  const apiGateway = million * CALLS_PER_UPLOAD.apiRequests * PRICES.apiGatewayRestRequest;
  const s3 = million * (CALLS_PER_UPLOAD.s3Put * PRICES.s3PutClass + CALLS_PER_UPLOAD.s3Get * PRICES.s3GetClass);
  const cloudTrail = dataEvents ? million * (CALLS_PER_UPLOAD.s3Put + CALLS_PER_UPLOAD.s3Get) * PRICES.cloudTrailDataEvent : 0;
  const rest = apiGateway + s3 + cloudTrail;
  return {
    label: input.label,
    billedMs,
    gbSeconds,
    perMillion: { arm64: lambda("arm64") + rest, x86_64: lambda("x86_64") + rest, lambda: { arm64: lambda("arm64"), x86_64: lambda("x86_64") }, apiGateway, s3, cloudTrail },
  };
}

const usd = (n: number) => `$${n.toFixed(2)}`;

export function formatCost(rows: CostRow[], memoryMb: number): string {
  const head = `What a million uploads cost (each: POST /images, then GET /images/{id} making the three default WebP sizes), ${memoryMb} MB, ${PRICES.region} prices read on ${PRICES.readOn}; Lambda is CPU-bound time only (S3 waits not counted):`;
  const cells = [
    ["input", "billed ms", "GB-s", "Lambda arm64", "Lambda x86_64", "API Gateway", "S3 requests", "CloudTrail", "total arm64", "total x86_64"],
    ...rows.map((r) => [r.label, String(r.billedMs), r.gbSeconds.toFixed(3), usd(r.perMillion.lambda.arm64), usd(r.perMillion.lambda.x86_64), usd(r.perMillion.apiGateway), usd(r.perMillion.s3), usd(r.perMillion.cloudTrail), usd(r.perMillion.arm64), usd(r.perMillion.x86_64)]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [head, line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}
