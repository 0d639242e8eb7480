// The embedded S3 (s3rver) with the client the handler uses in local mode:
// bytes come back exactly as sent, from Buffers and from streams, and the
// bucket outlives a restart. Streams matter: s3rver 3.7.1 stores the
// aws-chunked framing of a checksummed streamed upload, corrupting the object.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ImageStore } from "../function/storage/image-store.ts";
import { LOCAL_BUCKET, startLocalS3, type LocalS3 } from "../local/storage.ts";

/** Every byte value, then random bytes: whatever a codec would mangle shows. */
const payload = (size: number) => Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(size - 256)]);

/** A stream in uneven chunks, as a file or a socket would give it. */
function chunked(data: Buffer, chunkSize = 64 * 1024 + 7): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) chunks.push(data.subarray(at, at + chunkSize));
  return Readable.from(chunks);
}

describe("the embedded S3 with the handler's local client", () => {
  let dataDir: string;
  let s3: LocalS3;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3-"));
    s3 = await startLocalS3({ dataDir });
  });
  after(async () => {
    await s3.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function roundTrip(key: string, body: Buffer | Readable, contentLength?: number): Promise<Buffer> {
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ...(contentLength === undefined ? {} : { ContentLength: contentLength }) }),
    );
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  test("uses fake credentials, a region and no checksum unless required: the real AWS chain is never asked", async () => {
    const credentials = await s3.client.config.credentials();
    assert.deepEqual([credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken], ["S3RVER", "S3RVER", undefined]);
    assert.equal(await s3.client.config.region(), "us-east-1");
    assert.equal(await s3.client.config.requestChecksumCalculation(), "WHEN_REQUIRED");
    assert.equal(s3.bucket, LOCAL_BUCKET);
    await s3.client.send(new HeadBucketCommand({ Bucket: s3.bucket }));
  });

  test("a Buffer comes back byte for byte", async () => {
    const data = payload(1_000_000);
    assert.deepEqual(await roundTrip("buffer.bin", data), data);
  });

  // Of known length, as real S3 needs it (without one, it refuses a streamed PutObject).
  test("a stream comes back byte for byte", async () => {
    const data = payload(700_001);
    assert.deepEqual(await roundTrip("stream-known.bin", chunked(data), data.length), data);
  });

  test("the handler's ImageStore round-trips an original and a variant with its ETag", async () => {
    const store = new ImageStore(s3.client, s3.bucket);
    const original = payload(50_000);
    const id = "2f1c7a3e-3b1d-4c59-9a4e-0d9b6f1e2a77";
    await store.putOriginal({ id, format: "png", width: 3, height: 2, hasAlpha: true, bytes: original.length, name: "chat noir.png" }, original, "image/png");
    const got = await store.getOriginal(id);
    assert.deepEqual(got?.data, original);
    assert.deepEqual([got?.meta.format, got?.meta.width, got?.meta.height, got?.meta.hasAlpha, got?.meta.name], ["png", 3, 2, true, "chat noir.png"]);

    const variant = payload(20_000);
    const put = await store.putVariant(`resized/${id}/thumbnail.webp`, { data: variant, contentType: "image/webp", width: 3, height: 2 }, "tag-1");
    const read = await store.getVariant(put.key);
    assert.deepEqual(read?.data, variant);
    assert.deepEqual([read?.meta.contentType, read?.meta.tag, read?.meta.etag], ["image/webp", "tag-1", put.etag]);
    assert.equal(await store.getVariant(`resized/${id}/missing.webp`), undefined);
  });

  test("objects outlive a restart on the same data folder", async () => {
    const data = payload(10_000);
    await roundTrip("kept.bin", data);
    await s3.close();
    s3 = await startLocalS3({ dataDir });
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "kept.bin" }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), data);
  });
});
