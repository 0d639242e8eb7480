// AWS is eventually consistent: a role, key or permission made a moment ago is
// refused by the next service for a while, with an error that names a real
// problem when it lasts. Each Propagation below is one such answer, with the
// page that documents it and how long it may honestly last. A call is retried
// only while it gets one of the answers it was given, and only until the
// named timeout; anything else propagates at once.
import { DeployError, errorName } from "../errors.ts";

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface Propagation {
  /** What is propagating, for messages: "the new IAM role reaching Lambda". */
  what: string;
  /** Where AWS (or the reference provider) documents the answer. */
  source: string;
  timeoutMs: number;
  matches(e: unknown): boolean;
}

const answer = (name: string, pattern?: RegExp) => (e: unknown) => errorName(e) === name && (pattern === undefined || pattern.test((e as Error).message ?? ""));
const anyOf = (...tests: Array<(e: unknown) => boolean>) => (e: unknown) => tests.some((t) => t(e));

/** IAM's own guidance: changes can take time to be visible everywhere; terraform-provider-aws waits 2 minutes for them. */
const IAM_PROPAGATION_MS = 120_000;
/** KMS: "typically less than a few seconds ... in some cases it can take several minutes". */
const KMS_PROPAGATION_MS = 180_000;

export const PROPAGATION = {
  /** Lambda cannot yet assume a role IAM just made (or whose trust just changed). */
  roleToLambda: {
    what: "the function's IAM role reaching Lambda",
    source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency",
    timeoutMs: IAM_PROPAGATION_MS,
    matches: anyOf(
      answer("InvalidParameterValueException", /cannot be assumed by Lambda/i),
      // Lambda makes a KMS grant for the environment key; a key or policy made a moment ago is refused the same way.
      answer("InvalidParameterValueException", /unable to configure access to your environment variables because the KMS key is invalid for CreateGrant/i),
    ),
  },
  /** KMS refuses a key policy naming a principal IAM made moments ago. */
  principalToKms: {
    what: "the new IAM role reaching KMS",
    source: "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html (\"invalid principals\" while a new principal propagates)",
    timeoutMs: IAM_PROPAGATION_MS,
    matches: answer("MalformedPolicyDocumentException", /principal/i),
  },
  /** A key made moments ago is not yet visible to the next KMS call on it. */
  newKey: {
    what: "the new KMS key",
    source: "https://docs.aws.amazon.com/kms/latest/developerguide/programming-eventual-consistency.html",
    timeoutMs: KMS_PROPAGATION_MS,
    matches: anyOf(answer("NotFoundException"), answer("KMSInvalidStateException")),
  },
  /** API Gateway checks the account's CloudWatch Logs role, which IAM may not have propagated yet. */
  logsRoleToApiGateway: {
    what: "the CloudWatch Logs role reaching API Gateway",
    source: "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html; terraform-provider-aws resource_account.go retries both answers for its IAM propagation timeout",
    timeoutMs: IAM_PROPAGATION_MS,
    matches: anyOf(
      answer("BadRequestException", /role ARN does not have required permissions/i),
      answer("BadRequestException", /could not successfully write to CloudWatch Logs using the ARN specified/i),
    ),
  },
  /** S3 validates it may invoke the function; a permission Lambda just added may not be visible to it. */
  permissionToS3: {
    what: "the function's invoke permission reaching S3",
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html",
    timeoutMs: 60_000,
    matches: answer("InvalidArgument", /unable to validate the following destination configurations/i),
  },
  /** Lambda refuses a change while the previous one is still being applied. */
  functionUpdate: {
    what: "the function's previous update",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html",
    timeoutMs: 300_000,
    matches: answer("ResourceConflictException", /update is in progress|pending|cannot be performed at this time/i),
  },
  /** CloudTrail checks the bucket and key policies written a moment before (S3 and KMS propagate). */
  policiesToCloudTrail: {
    what: "the trail bucket's and key's policies reaching CloudTrail",
    source: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html",
    timeoutMs: 60_000,
    matches: anyOf(answer("InsufficientS3BucketPolicyException"), answer("InsufficientEncryptionPolicyException")),
  },
} as const satisfies Record<string, Propagation>;

export interface RetryScope {
  clock: Clock;
  progress(message: string): void;
}

/**
 * Runs the call, retrying with backoff (1 s doubling to 8 s) while it fails
 * with one of the given answers, until the longest of their timeouts. Past
 * it, the last error is wrapped in a DeployError that says what never arrived.
 */
export async function retryWhilePropagating<T>(scope: RetryScope, propagations: Propagation | Propagation[], call: () => Promise<T>): Promise<T> {
  const list = Array.isArray(propagations) ? propagations : [propagations];
  const started = scope.clock.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const waiting = list.find((p) => p.matches(e));
      if (waiting === undefined) throw e;
      const left = started + waiting.timeoutMs - scope.clock.now();
      if (left <= 0) {
        throw new DeployError(
          "waiting for",
          "propagation",
          waiting.what,
          `${errorName(e)}AfterTimeout`,
          `AWS still answered "${(e as Error).message}" after ${Math.round(waiting.timeoutMs / 1000)} s (${waiting.source}). When it lasts this long it is a real refusal: check that policy or setting, then run the same command again.`,
          { cause: e },
        );
      }
      if (attempt === 0) scope.progress(`waiting for ${waiting.what} (AWS is eventually consistent)`);
      await scope.clock.sleep(Math.min(1_000 * 2 ** attempt, 8_000, left));
    }
  }
}
