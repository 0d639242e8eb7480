// Local mode's S3: s3rver started in-process, its data under the git-ignored
// .local/s3, the bucket created on start. The handler reaches it through
// createS3Client, the same code path as in Lambda; only the endpoint differs.
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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

interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}

const { ALLOWED_METADATA } = createRequire(import.meta.url)("s3rver/lib/models/object.js") as { ALLOWED_METADATA: string[] };

/** Writes beside the target, then renames over it: a reader sees the old file or the new one, never a part. */
async function replaceFile(target: string, write: (temp: string) => Promise<unknown>): Promise<void> {
  const temp = `${target}.${randomUUID()}.partial`;
  try {
    await write(temp);
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

/**
 * s3rver 3.7.1 writes an object's bytes and its metadata file in place
 * (truncate, then write; the PUT may even be answered before the bytes are on
 * disk): a GET during a PUT of the same key, as when two requests make the same
 * size at once, reads a partial object, and concurrent PUTs of one key can
 * interleave its metadata. S3 replaces an object atomically; so do these.
 */
function atomicPuts(server: S3rver): void {
  const store = (server as unknown as { store: FilesystemStore }).store;
  store.putMetadata = async function putMetadata(bucket, key, metadata, md5) {
    const json = Object.fromEntries(Object.entries(metadata).filter(([k]) => ALLOWED_METADATA.includes(k) || k.startsWith("x-amz-meta-")));
    if (md5) await replaceFile(this.getResourcePath(bucket, key, "object.md5"), (temp) => writeFile(temp, md5));
    await replaceFile(this.getResourcePath(bucket, key, "metadata.json"), (temp) => writeFile(temp, JSON.stringify(json, null, 2)));
  };
  store.putObject = async function putObject(object) {
    const target = this.getResourcePath(object.bucket, object.key, "object");
    await mkdir(dirname(target), { recursive: true });
    const md5 = createHash("md5");
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = Buffer.isBuffer(object.content) ? [object.content] : object.content;
    await replaceFile(target, (temp) => pipeline(source, count, createWriteStream(temp)));
    const digest = md5.digest("hex");
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
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
  atomicPuts(server);
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
