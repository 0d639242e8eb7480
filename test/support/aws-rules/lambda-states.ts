// Lambda's function states, which moto skips (its functions are Active and
// Successful at once): after CreateFunction a function is Pending, after an
// update its LastUpdateStatus is InProgress, and meanwhile updates are refused.
// Deterministic: the state lasts until the client has polled it `polls` times.
import { restJsonError } from "../aws-errors.ts";
import type { UpstreamAnswer } from "../fault-proxy.ts";
import { jsonBody, lambdaCall, lambdaOps, ok, type AwsRule } from "./kit.ts";

export const pendingConflict = (functionArn: string) =>
  `The operation cannot be performed at this time. The resource ${functionArn} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'`;
export const PENDING_INVOKE = "The operation cannot be performed at this time. The function is currently in the following state: Pending";
export const updateConflict = (functionArn: string) => `The operation cannot be performed at this time. An update is in progress for resource: ${functionArn}`;

type Busy = { kind: "Pending" | "InProgress"; polls: number };

/** The answer with the function shown Pending (being created) or InProgress (being updated). */
function showBusy(answer: UpstreamAnswer, op: string, busy: Busy): UpstreamAnswer {
  const body = jsonBody(answer);
  const config = (op === "GetFunction" ? body.Configuration : body) as Record<string, unknown> | undefined;
  if (!ok(answer.status) || config === undefined) return answer;
  if (busy.kind === "Pending") Object.assign(config, { State: "Pending", StateReason: "The function is being created.", StateReasonCode: "Creating" });
  else Object.assign(config, { State: "Active", LastUpdateStatus: "InProgress" });
  const headers = { ...answer.headers };
  // The checksum was of moto's body.
  delete headers["x-amz-crc32"];
  return { status: answer.status, headers, body: Buffer.from(JSON.stringify(body)) };
}

/**
 * "While in pending state ... Invoke, UpdateFunctionCode,
 * UpdateFunctionConfiguration, PublishVersion fail"; while LastUpdateStatus is
 * InProgress, UpdateFunctionCode, UpdateFunctionConfiguration and
 * PublishVersion fail: ResourceConflictException (409) "The operation cannot
 * be performed at this time. An update is in progress for resource: <arn>"
 * (texts as reported in aws/serverless-application-model#2356,
 * remotion-dev/remotion#1186, motdotla/node-lambda#573). GetFunction and
 * GetFunctionConfiguration show the state for the first `polls` polls.
 * https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
 */
export function lambdaFunctionStates({ polls = 1 } = {}): AwsRule {
  const name = "lambda-function-states";
  return {
    name,
    source: "https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html",
    install({ proxy, region, account, partition }) {
      const busy = new Map<string, Busy>();
      const functionArn = (fn: string) => `arn:${partition}:lambda:${region}:${account}:function:${fn}`;
      proxy.observe({
        name,
        match: lambdaOps("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration"),
        seen: (req, answer) => {
          const call = lambdaCall(req)!;
          const fn = call.op === "CreateFunction" ? String(jsonBody(req).FunctionName ?? "") : call.fn;
          if (ok(answer.status) && fn && polls > 0) busy.set(fn, { kind: call.op === "CreateFunction" ? "Pending" : "InProgress", polls });
        },
      });
      proxy.inject({
        name,
        match: lambdaOps("GetFunction", "GetFunctionConfiguration", "UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "Invoke"),
        fault: (req) => {
          const { op, fn } = lambdaCall(req)!;
          const state = busy.get(fn);
          if (state === undefined) return undefined;
          if (op === "GetFunction" || op === "GetFunctionConfiguration") {
            state.polls -= 1;
            if (state.polls <= 0) busy.delete(fn);
            return { kind: "rewrite", rewrite: (answer) => showBusy(answer, op, state) };
          }
          if (op === "Invoke") return state.kind === "Pending" ? restJsonError(409, "ResourceConflictException", PENDING_INVOKE) : undefined;
          return restJsonError(409, "ResourceConflictException", state.kind === "Pending" ? pendingConflict(functionArn(fn)) : updateConflict(functionArn(fn)));
        },
        times: Infinity,
      });
    },
  };
}
