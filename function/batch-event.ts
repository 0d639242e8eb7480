// S3 Batch Operations' "Invoke AWS Lambda function" operation: for buckets
// past a few million originals, the reprocess command's work runs as a Batch
// Operations job over an S3 Inventory manifest of originals/ (README). S3
// invokes the function with one task per key and expects one result per task
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html,
// schema 1.0 and 2.0): Succeeded, TemporaryFailure (S3 retries it) or
// PermanentFailure, with a resultString that lands in the completion report.
import type { S3BatchEvent, S3BatchResult, S3BatchResultResultCode } from "aws-lambda";
import { ORIGINALS_PREFIX } from "./storage/key-layout.ts";
import type { ReprocessOutcome } from "./reprocess-event.ts";

type Reprocess = (event: { imgapi: "reprocess"; id: string }, requestId?: string) => Promise<ReprocessOutcome>;

export function isBatchEvent(event: unknown): event is S3BatchEvent {
  const e = event as Partial<S3BatchEvent> | null;
  return typeof e === "object" && e !== null && typeof e.invocationSchemaVersion === "string" && typeof e.invocationId === "string" && Array.isArray(e.tasks);
}

const RESULT: Record<ReprocessOutcome["action"], S3BatchResultResultCode> = {
  made: "Succeeded",
  "up to date": "Succeeded",
  "would make": "Succeeded",
  "not found": "Succeeded",
  refused: "PermanentFailure",
  // S3 unavailable, throttled or a fault: Batch Operations tries the task again.
  failed: "TemporaryFailure",
};

function keyOf(s3Key: unknown): string {
  if (typeof s3Key !== "string") return "";
  try {
    return decodeURIComponent(s3Key);
  } catch {
    return s3Key;
  }
}

export function createBatchHandler(reprocess: Reprocess) {
  return async function onBatch(event: S3BatchEvent, requestId?: string): Promise<S3BatchResult> {
    const results = [];
    // One at a time, as the S3 trigger: each may decode a 40 MP original.
    for (const task of event.tasks) {
      const key = keyOf(task?.s3Key);
      if (!key.startsWith(ORIGINALS_PREFIX)) {
        results.push({ taskId: String(task?.taskId), resultCode: "PermanentFailure" as const, resultString: `not under ${ORIGINALS_PREFIX}: the manifest must list originals/ only` });
        continue;
      }
      const outcome = await reprocess({ imgapi: "reprocess", id: key.slice(ORIGINALS_PREFIX.length) }, requestId);
      const detail = outcome.errorCode === undefined ? `${outcome.variants.length} variant(s)` : `${outcome.errorCode}: ${outcome.reason ?? ""}`;
      results.push({ taskId: String(task.taskId), resultCode: RESULT[outcome.action], resultString: `${outcome.action}: ${detail}`.slice(0, 1000) });
    }
    return { invocationSchemaVersion: event.invocationSchemaVersion, treatMissingKeysAs: "PermanentFailure", invocationId: event.invocationId, results };
  };
}
