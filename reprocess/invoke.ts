// One direct invoke of the deployed function per original, with its own
// bounded, jittered backoff when Lambda throttles (TooManyRequestsException,
// 429: the function's reserved concurrency or the account's is used up,
// https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors).
// The SDK's own retries are off for this client, so the wait grows with the
// throttling the run itself causes instead of exhausting a shared retry quota.
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { ReprocessOutcome } from "../function/reprocess-event.ts";

export interface InvokeOptions {
  lambda: LambdaClient;
  functionName: string;
  /** First wait after a throttle, doubled each time (default 500 ms). */
  backoffMs?: number;
  /** Throttled attempts before giving up on an original (it stays for the next run). */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  onThrottle?: () => void;
}

const THROTTLED = new Set(["TooManyRequestsException", "ThrottlingException", "EC2ThrottledException"]);

export function invoker(options: InvokeOptions) {
  const { lambda, functionName } = options;
  const backoff = options.backoffMs ?? 500;
  const maxAttempts = options.maxAttempts ?? 8;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  return async function invoke(id: string, dryRun: boolean): Promise<ReprocessOutcome> {
    const payload = Buffer.from(JSON.stringify({ imgapi: "reprocess", id, dryRun }));
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: payload }));
        const text = Buffer.from(out.Payload ?? new Uint8Array()).toString("utf8");
        if (out.FunctionError !== undefined) {
          let message = text;
          try {
            message = (JSON.parse(text) as { errorMessage?: string }).errorMessage ?? text;
          } catch {
            // not JSON: the text as it is
          }
          return { id, action: "failed", variants: [], errorCode: "FUNCTION_ERROR", reason: `${out.FunctionError}: ${message.slice(0, 300)}` };
        }
        return JSON.parse(text) as ReprocessOutcome;
      } catch (e) {
        const name = (e as { name?: string }).name ?? "Error";
        if (!THROTTLED.has(name)) return { id, action: "failed", variants: [], errorCode: name, reason: (e as Error).message };
        if (attempt >= maxAttempts) return { id, action: "failed", variants: [], errorCode: name, reason: `throttled ${attempt} times: lower --concurrency, or raise the function's concurrency` };
        options.onThrottle?.();
        // Full jitter: concurrent workers do not retry in step.
        await sleep(Math.min(30_000, backoff * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      }
    }
  };
}
