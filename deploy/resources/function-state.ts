// Lambda's function states: a new function is Pending until Lambda has set it
// up, and an update leaves LastUpdateStatus InProgress until it is applied;
// meanwhile further updates are refused with ResourceConflictException.
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
// The SDK's waiters do the same polling but sleep on real timers; this one
// sleeps on the deploy's clock, so a test's virtual clock waits for nothing.
import { GetFunctionCommand, type FunctionConfiguration } from "@aws-sdk/client-lambda";
import type { DeployContext } from "../context.ts";
import { DeployError, step } from "../errors.ts";

const RESOURCE = "Lambda function";
/** Lambda's own setup and updates normally finish in seconds; this bounds the wait. */
const WAIT_MS = 300_000;

type Until = "active" | "updated";

/** Settled, still busy, or failed with Lambda's reason. */
function verdict(config: FunctionConfiguration | undefined, until: Until): "done" | "busy" | { failed: string } {
  if (until === "active") {
    if (config?.State === "Active") return "done";
    if (config?.State === "Failed" || config?.State === "Inactive") return { failed: `${config.State}: ${config.StateReason ?? "no reason given"}` };
    return "busy";
  }
  if (config?.LastUpdateStatus === "Successful" || config?.LastUpdateStatus === undefined) return "done";
  if (config.LastUpdateStatus === "Failed") return { failed: `update Failed: ${config.LastUpdateStatusReason ?? "no reason given"}` };
  return "busy";
}

/** Polls GetFunction (1 s, doubling to 5 s) until the function is Active, or its last update finished. */
export async function waitForFunction(ctx: DeployContext, until: Until): Promise<void> {
  if (ctx.dryRun) return;
  const name = ctx.names.functionName;
  ctx.progress(until === "active" ? `waiting for ${name} to become Active` : `waiting for the update of ${name} to finish`);
  const deadline = ctx.clock.now() + WAIT_MS;
  for (let delay = 1_000; ; delay = Math.min(delay * 2, 5_000)) {
    const got = await step("waiting for", RESOURCE, name, "lambda:GetFunction", () => ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: name })));
    const state = verdict(got.Configuration, until);
    if (state === "done") return;
    if (state !== "busy") throw new DeployError("waiting for", RESOURCE, name, "FunctionFailed", `Lambda reports ${state.failed}. Fix the cause and run the same command again.`);
    if (ctx.clock.now() >= deadline) {
      throw new DeployError("waiting for", RESOURCE, name, "Timeout", `Still not settled after ${WAIT_MS / 1000} s. Check the function in the Lambda console, then run the same command again.`);
    }
    await ctx.clock.sleep(delay);
  }
}
