// The reprocess run: list the originals, skip those an interrupted run
// finished, and ask the function to make what is missing or outdated for
// each, a bounded number at a time. Stopping (the signal) lets the
// invocations under way finish and be recorded, then ends the run; the next
// run resumes from the state file.
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { ReprocessOutcome } from "../function/reprocess-event.ts";
import { ORIGINALS_PREFIX } from "../function/storage/key-layout.ts";
import { ID_PATTERN } from "../function/variants.ts";
import { invoker, type InvokeOptions } from "./invoke.ts";
import type { RunState } from "./state.ts";

export interface RunOptions {
  s3: S3Client;
  lambda: LambdaClient;
  bucket: string;
  functionName: string;
  dryRun: boolean;
  concurrency: number;
  /** Absent on a dry run: nothing is recorded. */
  state?: RunState;
  signal?: AbortSignal;
  invoke?: Pick<InvokeOptions, "backoffMs" | "maxAttempts" | "sleep">;
  onStart?: (total: number, skipped: number) => void;
  onDone?: (outcome: ReprocessOutcome) => void;
}

export interface Summary {
  originals: number;
  /** Finished by an earlier, interrupted run. */
  skipped: number;
  made: number;
  upToDate: number;
  wouldMake: number;
  notFound: number;
  /** Variant keys made, or a dry run would make. */
  variants: string[];
  placeholders: number;
  refused: Array<{ id: string; code: string; reason: string }>;
  failed: Array<{ id: string; code: string; reason: string }>;
  throttled: number;
  interrupted: boolean;
}

export async function listOriginals(s3: S3Client, bucket: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: ORIGINALS_PREFIX, ...(token === undefined ? {} : { ContinuationToken: token }) }));
    for (const o of page.Contents ?? []) {
      const id = o.Key!.slice(ORIGINALS_PREFIX.length);
      if (ID_PATTERN.test(id)) ids.push(id);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return ids;
}

export async function runReprocess(o: RunOptions): Promise<Summary> {
  const all = await listOriginals(o.s3, o.bucket);
  const done = o.state?.done ?? new Map<string, string>();
  const todo = all.filter((id) => !done.has(id));
  const summary: Summary = { originals: all.length, skipped: all.length - todo.length, made: 0, upToDate: 0, wouldMake: 0, notFound: 0, variants: [], placeholders: 0, refused: [], failed: [], throttled: 0, interrupted: false };
  o.onStart?.(all.length, summary.skipped);
  const invoke = invoker({ lambda: o.lambda, functionName: o.functionName, ...o.invoke, onThrottle: () => (summary.throttled += 1) });

  function count(outcome: ReprocessOutcome): void {
    if (outcome.placeholder) summary.placeholders += 1;
    summary.variants.push(...outcome.variants);
    const problem = { id: outcome.id, code: outcome.errorCode ?? "?", reason: outcome.reason ?? "" };
    if (outcome.action === "made") summary.made += 1;
    else if (outcome.action === "up to date") summary.upToDate += 1;
    else if (outcome.action === "would make") summary.wouldMake += 1;
    else if (outcome.action === "not found") summary.notFound += 1;
    else if (outcome.action === "refused") summary.refused.push(problem);
    else summary.failed.push(problem);
    // A failure (S3 or Lambda unavailable, throttled too long) is not recorded: the next run tries it again.
    if (outcome.action !== "failed") o.state?.record(outcome.id, outcome.action);
    o.onDone?.(outcome);
  }

  let next = 0;
  async function worker(): Promise<void> {
    while (next < todo.length && !o.signal?.aborted) {
      const id = todo[next++]!;
      count(await invoke(id, o.dryRun));
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, todo.length)) }, worker));
  summary.interrupted = next < todo.length;
  if (!summary.interrupted && summary.failed.length === 0) o.state?.finish();
  return summary;
}
