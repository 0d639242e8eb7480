// Local mode's S3: a small S3-compatible server of our own (local/s3/), its
// data under the git-ignored .local/s3, the bucket created on start with the
// CORS rule deploy gives the images bucket. It answers only requests signed
// with a key pair made for this run, which only the handler's client (and a
// presigned URL it makes) holds: the storage is no way around the API key or
// the upload checks. The handler reaches it through createS3Client, the same
// code path as in Lambda; only the endpoint and the credentials differ.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { imagesBucketCorsRules } from "../config/bucket-cors.ts";
import { createS3Client, S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";
import { ObjectStore } from "./s3/objects.ts";
import { importS3rverBucket } from "./s3/s3rver-import.ts";
import { startS3Server } from "./s3/server.ts";
import { generateCredentials, LOCAL_REGION, type LocalCredentials } from "./sigv4.ts";

export const LOCAL_BUCKET = "imgapi-local";
export const DEFAULT_DATA_DIR = fileURLToPath(new URL("../.local/s3", import.meta.url));
/** S3 takes up to 5 GB in one PUT; locally 1 GiB, far above any variant the handler writes, bounds the disk one request can fill. */
export const MAX_OBJECT_BYTES = 1024 * 1024 * 1024;
/** How long a connection may stay silent mid-request before RequestTimeout. */
export const IDLE_TIMEOUT_MS = 20_000;

/** The client the handler uses in local mode (tests use it to look into the bucket). */
export function localS3Client(endpoint: string, credentials: LocalCredentials): S3Client {
  return createS3Client(
    { [S3_ENDPOINT_ENV]: endpoint },
    {
      region: LOCAL_REGION,
      // Given here, so no real AWS credential is ever looked up.
      credentials,
      // Since 3.729 the SDK adds a CRC32 to every PutObject; a streamed body is
      // then sent aws-chunked with a trailer, which the local S3 does not
      // implement. Checksums only when an operation requires one (DeleteObjects),
      // sent as a header over a plain body, which the local S3 verifies.
      requestChecksumCalculation: "WHEN_REQUIRED",
    },
  );
}

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  dataDir: string;
  /** The key pair every request must be signed with, fresh per start unless given. */
  credentials: LocalCredentials;
  client: S3Client;
  /** Resolves once the server handles no request (tests wait for a dropped upload's cleanup). */
  whenIdle(): Promise<void>;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** Where objects are kept between runs; default .local/s3 in the repository. */
  dataDir?: string;
  bucket?: string;
  credentials?: LocalCredentials;
  /** The bucket's allowed CORS origins (cors.origins); default none: every preflight is refused. */
  corsOrigins?: readonly string[];
  /** The largest body a presigned PUT may carry (uploads.maxBytes); default the 1 GiB object cap. */
  maxUploadBytes?: number;
  idleTimeoutMs?: number;
  /** Where the server's own faults are reported; default stderr. */
  log?: (line: string) => void;
}

export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const bucket = options.bucket ?? LOCAL_BUCKET;
  const credentials = options.credentials ?? generateCredentials();
  const store = await ObjectStore.open(dataDir);
  // Creates the bucket, or keeps it and its objects when it is already there.
  await store.createBucket(bucket);
  await importS3rverBucket(store, dataDir, bucket);
  const server = await startS3Server({
    store,
    credentials,
    cors: new Map([[bucket, options.corsOrigins === undefined ? [] : imagesBucketCorsRules(options.corsOrigins)]]),
    maxPresignedPutBytes: options.maxUploadBytes ?? MAX_OBJECT_BYTES,
    maxObjectBytes: MAX_OBJECT_BYTES,
    idleTimeoutMs: options.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    now: () => new Date(),
    log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
  });
  const client = localS3Client(server.endpoint, credentials);

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      client.destroy();
      await server.close();
    })();
    return closing;
  }
  return { endpoint: server.endpoint, bucket, dataDir, credentials, client, whenIdle: () => server.whenIdle(), close };
}
