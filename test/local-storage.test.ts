// The local S3 with the client the handler uses in local mode: every
// operation the handler and the tests send, answered as S3 answers it
// (bytes, metadata, ETags, listings page by page, copies, deletes, S3's error
// codes), and the bucket outlives a restart, also from s3rver's old layout.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { ImageStore } from "../function/storage/image-store.ts";
import { LOCAL_BUCKET, startLocalS3, type LocalS3 } from "../local/storage.ts";

/** Every byte value, then random bytes: whatever a codec would mangle shows. */
const payload = (size: number) => Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(size - 256)]);
const md5 = (data: Buffer) => createHash("md5").update(data).digest("hex");

/** A stream in uneven chunks, as a file or a socket would give it. */
function chunked(data: Buffer, chunkSize = 64 * 1024 + 7): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkSize) chunks.push(data.subarray(at, at + chunkSize));
  return Readable.from(chunks);
}

/** The S3 error code a call fails with. */
async function codeOf(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "no error",
    (e: Error) => e.name,
  );
}

describe("the local S3 with the handler's local client", () => {
  let dataDir: string;
  let s3: LocalS3;
  const put = (Key: string, Body: Buffer | string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
    s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body, ...extra }));
  const get = async (Key: string) => {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }));
    return { ...got, bytes: Buffer.from(await got.Body!.transformToByteArray()) };
  };
  const keys = async (Prefix: string) => ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix }))).Contents ?? []).map((o) => o.Key);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3-"));
    s3 = await startLocalS3({ dataDir });
  });
  after(async () => {
    await s3.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("signs with a key pair made for this run, in us-east-1, checksums only when required: the real AWS chain is never asked", async () => {
    const credentials = await s3.client.config.credentials();
    assert.deepEqual([credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken], [s3.credentials.accessKeyId, s3.credentials.secretAccessKey, undefined]);
    assert.match(credentials.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.equal(await s3.client.config.region(), "us-east-1");
    assert.equal(await s3.client.config.requestChecksumCalculation(), "WHEN_REQUIRED");
    assert.equal(s3.bucket, LOCAL_BUCKET);
    await s3.client.send(new HeadBucketCommand({ Bucket: s3.bucket }));
  });

  test("a Buffer and a stream of known length come back byte for byte, with the MD5 as ETag", async () => {
    const data = payload(1_000_000);
    const written = await put("buffer.bin", data);
    assert.equal(written.ETag, `"${md5(data)}"`);
    assert.deepEqual((await get("buffer.bin")).bytes, data);
    const streamed = payload(700_001);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "stream.bin", Body: chunked(streamed), ContentLength: streamed.length }));
    assert.deepEqual((await get("stream.bin")).bytes, streamed);
  });

  test("Content-Type, x-amz-meta-* and stored headers come back on GET and HEAD; a missing key is NoSuchKey / 404", async () => {
    await put("meta.bin", "x", { ContentType: "image/png", Metadata: { name: "chat%20noir.png", Width: "3" }, CacheControl: "max-age=60" });
    const got = await get("meta.bin");
    assert.deepEqual([got.ContentType, got.Metadata, got.CacheControl, got.ContentLength], ["image/png", { name: "chat%20noir.png", width: "3" }, "max-age=60", 1]);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "meta.bin" }));
    assert.deepEqual([head.ContentType, head.Metadata, head.ETag], ["image/png", got.Metadata, got.ETag]);
    assert.equal(await codeOf(get("no/such/key")), "NoSuchKey");
    assert.equal(await codeOf(s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "no/such/key" }))), "NotFound");
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
    const written = await store.putVariant(`resized/${id}/thumbnail.webp`, { data: variant, contentType: "image/webp", width: 3, height: 2 }, "tag-1");
    const read = await store.getVariant(written.key);
    assert.deepEqual(read?.data, variant);
    assert.deepEqual([read?.meta.contentType, read?.meta.tag, read?.meta.etag], ["image/webp", "tag-1", written.etag]);
    assert.equal(await store.getVariant(`resized/${id}/missing.webp`), undefined);
    // deleteImage lists the variants and deletes them with DeleteObjects.
    assert.deepEqual((await store.deleteImage(id)).sort(), [`originals/${id}`, `resized/${id}/thumbnail.webp`]);
    assert.deepEqual(await keys(`resized/${id}/`), []);
  });

  test("CopyObject: COPY keeps the source's type and metadata, REPLACE takes the request's; S3's refusals", async () => {
    const data = payload(30_000);
    await put("uploads/a", data, { ContentType: "image/jpeg", Metadata: { name: "a.jpg" } });
    const copied = await s3.client.send(new CopyObjectCommand({ Bucket: s3.bucket, Key: "originals/a", CopySource: `${s3.bucket}/uploads/a` }));
    assert.equal(copied.CopyObjectResult?.ETag, `"${md5(data)}"`);
    const kept = await get("originals/a");
    assert.deepEqual([kept.bytes, kept.ContentType, kept.Metadata], [data, "image/jpeg", { name: "a.jpg" }]);
    await s3.client.send(
      new CopyObjectCommand({ Bucket: s3.bucket, Key: "originals/b", CopySource: `/${s3.bucket}/uploads/a`, MetadataDirective: "REPLACE", ContentType: "image/png", Metadata: { format: "png" } }),
    );
    const replaced = await get("originals/b");
    assert.deepEqual([replaced.bytes, replaced.ContentType, replaced.Metadata], [data, "image/png", { format: "png" }]);

    const copy = (input: Partial<ConstructorParameters<typeof CopyObjectCommand>[0]>) =>
      codeOf(s3.client.send(new CopyObjectCommand({ Bucket: s3.bucket, Key: "originals/c", CopySource: `${s3.bucket}/uploads/a`, ...input })));
    assert.equal(await copy({ Key: "uploads/a" }), "InvalidRequest", "onto itself, changing nothing");
    assert.equal(await copy({ CopySource: `${s3.bucket}/uploads/missing` }), "NoSuchKey");
    assert.equal(await copy({ CopySource: "other-bucket/uploads/a" }), "NoSuchBucket");
    assert.equal(await copy({ CopySourceIfMatch: '"0123"' }), "PreconditionFailed");
    assert.equal(await copy({ MetadataDirective: "MERGE" as never }), "InvalidArgument");
    assert.deepEqual(await keys("originals/c"), [], "no refused copy left an object");
  });

  test("ListObjectsV2 pages with continuation tokens in key order, within a prefix; ListObjects v1 with a marker", async () => {
    const names = ["p/e", "p/a", "p/c", "p/b", "p/d", "q/a"];
    for (const name of names) await put(name, name);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "p/", MaxKeys: 2, ContinuationToken: token }));
      pages += 1;
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      assert.equal(page.KeyCount, page.Contents?.length ?? 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    assert.deepEqual([seen, pages], [["p/a", "p/b", "p/c", "p/d", "p/e"], 3]);
    const v1 = await s3.client.send(new ListObjectsCommand({ Bucket: s3.bucket, Prefix: "p/", Marker: "p/c" }));
    assert.deepEqual((v1.Contents ?? []).map((o) => [o.Key, o.Size, o.ETag]), [["p/d", 3, `"${md5(Buffer.from("p/d"))}"`], ["p/e", 3, `"${md5(Buffer.from("p/e"))}"`]]);
    assert.equal(await codeOf(s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: "bm90LWEtdG9rZW4" }))), "InvalidArgument");
  });

  test("DeleteObjects deletes every key given, missing ones included, and refuses more than 1000 (MalformedXML)", async () => {
    for (const name of ["d/1", "d/2"]) await put(name, name);
    const out = await s3.client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: [{ Key: "d/1" }, { Key: "d/2" }, { Key: "d/never" }] } }));
    assert.deepEqual((out.Deleted ?? []).map((d) => d.Key), ["d/1", "d/2", "d/never"]);
    assert.deepEqual(await keys("d/"), []);
    await put("d/kept", "k");
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ Key: i === 0 ? "d/kept" : `d/${i}` }));
    assert.equal(await codeOf(s3.client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: tooMany } }))), "MalformedXML");
    assert.deepEqual(await keys("d/"), ["d/kept"], "nothing deleted by the refused batch");
  });

  test("a conditional PutObject (If-None-Match: *) refuses to replace an object", async () => {
    await put("once", "first");
    assert.equal(await codeOf(put("once", "second", { IfNoneMatch: "*" })), "PreconditionFailed");
    assert.equal((await get("once")).bytes.toString(), "first");
  });

  test("buckets: NoSuchBucket, CreateBucket, BucketNotEmpty, DeleteBucket", async () => {
    const other = "imgapi-other";
    assert.equal(await codeOf(s3.client.send(new GetObjectCommand({ Bucket: other, Key: "k" }))), "NoSuchBucket");
    await s3.client.send(new CreateBucketCommand({ Bucket: other }));
    await s3.client.send(new PutObjectCommand({ Bucket: other, Key: "k", Body: "v" }));
    assert.equal(await codeOf(s3.client.send(new DeleteBucketCommand({ Bucket: other }))), "BucketNotEmpty");
    await s3.client.send(new DeleteObjectsCommand({ Bucket: other, Delete: { Objects: [{ Key: "k" }] } }));
    await s3.client.send(new DeleteBucketCommand({ Bucket: other }));
    assert.equal(await codeOf(s3.client.send(new HeadBucketCommand({ Bucket: other }))), "NotFound");
    assert.equal(await codeOf(s3.client.send(new CreateBucketCommand({ Bucket: "Not_A_Bucket" }))), "InvalidBucketName");
  });

  test("objects outlive a restart on the same data folder", async () => {
    const data = payload(10_000);
    await put("kept.bin", data, { Metadata: { spec: "v1" } });
    await s3.close();
    s3 = await startLocalS3({ dataDir });
    const got = await get("kept.bin");
    assert.deepEqual([got.bytes, got.Metadata], [data, { spec: "v1" }]);
    assert.ok((await keys("")).includes("kept.bin"));
  });
});

test("images kept by s3rver (the earlier local S3) are moved into the new store on start", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3rver-"));
  const folder = join(dataDir, LOCAL_BUCKET, "originals");
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "abc._S3rver_object"), "old bytes");
  writeFileSync(join(folder, "abc._S3rver_metadata.json"), JSON.stringify({ "content-type": "image/png", "x-amz-meta-format": "png" }));
  writeFileSync(join(folder, "abc._S3rver_object.md5"), md5(Buffer.from("old bytes")));
  const s3 = await startLocalS3({ dataDir });
  try {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "originals/abc" }));
    assert.deepEqual([await got.Body!.transformToString(), got.ContentType, got.Metadata], ["old bytes", "image/png", { format: "png" }]);
  } finally {
    await s3.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
