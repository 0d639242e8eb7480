// Checks that run before the first change: AWS limits a deploy would
// otherwise meet only at its last steps, after dozens of changes (a trail
// quota, the account's concurrency, Lambda's 4 KB environment). Read-only.
import type { DeployContext } from "./context.ts";
import { planConcurrency } from "./resources/function-concurrency.ts";
import { functionEnvironment } from "./resources/function-environment.ts";
import { findFunction } from "./resources/lambda-function.ts";
import { SIGNING_SECRET_ENV } from "../config/runtime-env.ts";
import { checkTrailQuota } from "./resources/trail.ts";

/**
 * A KMS ciphertext of the 32-byte signing secret is about 185 bytes, 248 in
 * base64; this leaves room, so a configuration that fits here fits after.
 */
const CIPHERTEXT_ALLOWANCE = "x".repeat(320);

export async function preflight(ctx: DeployContext): Promise<void> {
  const found = await findFunction(ctx);
  functionEnvironment(ctx, found?.Configuration?.Environment?.Variables?.[SIGNING_SECRET_ENV] ?? CIPHERTEXT_ALLOWANCE);
  await planConcurrency(ctx, found?.Concurrency?.ReservedConcurrentExecutions);
  await checkTrailQuota(ctx);
}
