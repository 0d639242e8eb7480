// The function's reserved concurrency: a ceiling on how many copies run at
// once, so one caller (or one scan-bomb storm) can neither run up the bill
// without bound nor starve every other function of the account's shared pool.
// Lambda lets a function reserve only what leaves the account's unreserved
// pool at its minimum, 100, or the whole quota when that is smaller (a new
// account's quota is often 10): https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
// So the account's settings are read first, and a ceiling that cannot be set
// is reported with what to do, never sent to fail.
import { DeleteFunctionConcurrencyCommand, GetAccountSettingsCommand, PutFunctionConcurrencyCommand } from "@aws-sdk/client-lambda";
import type { DeployContext } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { endpointLacksApi, type Changes } from "../toolkit/index.ts";

/** "auto" reserves this many when the account allows: about 20 requests a second of typical uploads, the default stage throttle. */
export const AUTO_RESERVED_CONCURRENCY = 10;
/** Lambda keeps at least this much of the account's concurrency unreserved (or all of it, below). */
export const MIN_UNRESERVED = 100;

export interface ConcurrencyPlan {
  /** What to reserve; undefined: no reservation. */
  reserved?: number;
  /** Why "auto" reserves less than its default, or nothing. */
  note?: string;
}


/** How much the function may reserve, given the account and what it reserves today; undefined when the endpoint does not say. */
async function reservable(ctx: DeployContext, current: number | undefined): Promise<{ available: number; limit: number } | undefined> {
  const settings = await step("reading the account's concurrency for", "Lambda function", ctx.names.functionName, "lambda:GetAccountSettings", async () => {
    try {
      return await ctx.clients.lambda.send(new GetAccountSettingsCommand({}));
    } catch (e) {
      // A plain moto_server lacks it: the quota is then unknown, and deploy goes on.
      if (endpointLacksApi(e)) return undefined;
      throw e;
    }
  });
  if (settings === undefined) return undefined;
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0;
  const unreserved = (settings.AccountLimit?.UnreservedConcurrentExecutions ?? 0) + (current ?? 0);
  return { available: Math.max(0, unreserved - Math.min(MIN_UNRESERVED, limit)), limit };
}

export async function planConcurrency(ctx: DeployContext, current: number | undefined): Promise<ConcurrencyPlan> {
  const wanted = ctx.config.lambda.reservedConcurrency;
  if (wanted === false) return {};
  const account = await reservable(ctx, current);
  if (account === undefined) {
    if (wanted === "auto") return { note: "no concurrency ceiling: this endpoint does not report Lambda's account settings (an emulator such as a plain moto_server)" };
    return { reserved: wanted };
  }
  const { available, limit } = account;
  const quota = `the account's Lambda concurrency quota in ${ctx.region} is ${limit}`;
  const raise = "ask for more with Service Quotas (Lambda, Concurrent executions)";
  if (wanted === "auto") {
    if (available >= AUTO_RESERVED_CONCURRENCY) return { reserved: AUTO_RESERVED_CONCURRENCY };
    if (available > 0) return { reserved: available, note: `reserved ${available}, not ${AUTO_RESERVED_CONCURRENCY}: ${quota}` };
    return { note: `no concurrency ceiling: ${quota} and Lambda keeps ${Math.min(MIN_UNRESERVED, limit)} of it unreserved; ${raise}, then deploy again` };
  }
  if (wanted > available) {
    throw new DeployError(
      "reserving concurrency for",
      "Lambda function",
      ctx.names.functionName,
      "ConcurrencyQuotaTooLow",
      `lambda.reservedConcurrency is ${wanted} but only ${available} can be reserved (${quota}, and Lambda keeps ${Math.min(MIN_UNRESERVED, limit)} unreserved). Lower it, set it to "auto", or ${raise}.`,
    );
  }
  return { reserved: wanted };
}

/** Sends the reservation (or its removal) when it differs from the current one. */
export async function applyConcurrency(ctx: DeployContext, changes: Changes, current: number | undefined, plan: ConcurrencyPlan): Promise<void> {
  if (current === plan.reserved) return;
  const FunctionName = ctx.names.functionName;
  if (plan.reserved === undefined) {
    await changes.apply("ReservedConcurrency", "lambda:DeleteFunctionConcurrency", () => ctx.clients.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName })), "removing reserved concurrency of");
  } else {
    const reserved = plan.reserved;
    await changes.apply("ReservedConcurrency", "lambda:PutFunctionConcurrency", () => ctx.clients.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: reserved })), "reserving concurrency for");
  }
}
