// S3's errors in the API's terms, translated right at each call: a missing
// key is "not found" (undefined to the caller), throttling, 5xx and dropped
// connections are 503 with Retry-After, anything else (access denied, a
// missing bucket) is a 502 for the operator.
import { NoSuchKey, NotFound, S3ServiceException } from "@aws-sdk/client-s3";
import { ApiError } from "../errors.ts";

const TRANSIENT = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "ThrottlingException", "TimeoutError"]);

export function isNotFound(e: unknown): boolean {
  // A missing bucket is a deployment fault, not a missing image.
  if (e instanceof S3ServiceException && e.name === "NoSuchBucket") return false;
  return e instanceof NoSuchKey || e instanceof NotFound || (e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404);
}

/** A failed precondition of a conditional request (412), or a concurrent one (409). */
export function isConditionFailed(e: unknown): boolean {
  if (!(e instanceof S3ServiceException)) return false;
  return e.name === "PreconditionFailed" || e.name === "ConditionalRequestConflict" || e.$metadata.httpStatusCode === 412 || e.$metadata.httpStatusCode === 409;
}

export function translate(e: unknown, action: string): ApiError {
  const name = (e as { name?: string }).name ?? "";
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const code = (e as NodeJS.ErrnoException).code;
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500) || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "ETIMEDOUT") {
    return new ApiError("STORAGE_UNAVAILABLE", `${action}: S3 is unavailable (${name || code})`, { cause: e, retryAfter: 2 });
  }
  return new ApiError("STORAGE_ERROR", `${action}: S3 refused (${name || status})`, { cause: e });
}
