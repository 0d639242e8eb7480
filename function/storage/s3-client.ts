// The handler's one S3 client, configured from the environment. Timeouts and
// attempts are bounded so a slow S3 can never hold a request past API
// Gateway's 29 s.
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

/** Local mode and tests point the handler at an S3-compatible endpoint. */
export const S3_ENDPOINT_ENV = "IMGAPI_S3_ENDPOINT";

/** `overrides` lets local mode give fake credentials, a region and checksum settings without touching process.env. */
export function createS3Client(env: NodeJS.ProcessEnv = process.env, overrides: S3ClientConfig = {}): S3Client {
  const endpoint = env[S3_ENDPOINT_ENV];
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 3,
    // Since @smithy/node-http-handler 4.x a requestTimeout only logs a warning
    // unless told to throw: without this, a silent S3 would hold the request.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 8_000, throwOnRequestTimeout: true },
    ...overrides,
  });
}
