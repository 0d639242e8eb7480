// Local mode's S3: s3rver started in-process, its data under the git-ignored
// .local/s3, the bucket created on start. The handler reaches it through
// createS3Client, the same code path as in Lambda; only the endpoint differs.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { createS3Client, S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";

export const LOCAL_BUCKET = "imgapi-local";
export const DEFAULT_DATA_DIR = fileURLToPath(new URL("../.local/s3", import.meta.url));

/** The client the handler uses in local mode (tests use it to look into the bucket). */
export function localS3Client(endpoint: string): S3Client {
  return createS3Client(
    { [S3_ENDPOINT_ENV]: endpoint },
    {
      region: "us-east-1",
      // s3rver knows one account, whose key pair is S3RVER/S3RVER; given here,
      // no real AWS credential is ever looked up.
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      // Since 3.729 the SDK adds a CRC32 to every PutObject; a streamed body is
      // then sent aws-chunked with a trailer, which s3rver 3.7.1 stores framing
      // and all (the object comes back longer and corrupt). Checksums only when
      // an operation requires one, as before 3.729.
      requestChecksumCalculation: "WHEN_REQUIRED",
    },
  );
}

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  dataDir: string;
  client: S3Client;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** Where objects are kept between runs; default .local/s3 in the repository. */
  dataDir?: string;
  bucket?: string;
}

export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const bucket = options.bucket ?? LOCAL_BUCKET;
  mkdirSync(dataDir, { recursive: true });
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dataDir,
    // Creates the bucket, or keeps it and its objects when it is already there.
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localS3Client(endpoint);

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    // The client's keep-alive sockets would hold s3rver's close open.
    closing ??= (async () => {
      client.destroy();
      await server.close();
    })();
    return closing;
  }
  return { endpoint, bucket, dataDir, client, close };
}
