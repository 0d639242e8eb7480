// The function's two reprocessing entries, against moto's S3: the reprocess
// command's {"imgapi": "reprocess"} event and S3 Batch Operations' "Invoke
// AWS Lambda function" event (schema 1.0 and 2.0), answered one result per
// task as Batch Operations documents it
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html).
import assert from "node:assert/strict";
import { test } from "node:test";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3BatchEvent, S3BatchResult } from "aws-lambda";
import { parseRuntimeSettings } from "../config/load.ts";
import { createLambdaHandler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import type { ReprocessOutcome } from "../function/reprocess-event.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { loadFixture } from "./support/fixtures.ts";
import { motoWithBucket } from "./support/moto-bucket.ts";

const BUCKET = "imgapi-reprocess-events";
const settings = parseRuntimeSettings({ sizes: { thumbnail: { width: 150, height: 150 }, medium: { width: 400, format: "auto" } } });
configureLibvips(settings.input.formats);

const aws = motoWithBucket(BUCKET);

async function fresh() {
  await aws.fresh();
  const handler = createLambdaHandler({ store: new ImageStore(aws.s3, BUCKET), settings, log: () => undefined });
  return {
    reprocess: (id: string, dryRun = false) => handler({ imgapi: "reprocess", id, dryRun }) as Promise<ReprocessOutcome>,
    batch: (event: S3BatchEvent) => handler(event) as Promise<S3BatchResult>,
  };
}

const ID = "3f2e1d0c-9b8a-4776-8655-443322110099";
const put = (id: string, body: Buffer, metadata?: Record<string, string>) =>
  aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${id}`, Body: body, ContentType: "image/jpeg", ...(metadata ? { Metadata: metadata } : {}) }));

test("reprocess event: a direct write is checked and every size made; then up to date; a dry run makes nothing", async () => {
  const { reprocess } = await fresh();
  await put(ID, loadFixture("sharp_320x240.jpg"));
  const dry = await reprocess(ID, true);
  assert.deepEqual([dry.action, dry.variants.sort(), dry.placeholder], ["would make", [`resized/${ID}/medium.*`, `resized/${ID}/thumbnail.*`], true]);
  const made = await reprocess(ID);
  // The "auto" size: as a request without Accept gets it (the original's JPEG) and as WebP.
  assert.deepEqual([made.action, made.variants.sort()], ["made", [`resized/${ID}/medium.jpg`, `resized/${ID}/medium.webp`, `resized/${ID}/thumbnail.webp`]]);
  assert.deepEqual(await reprocess(ID), { id: ID, action: "up to date", variants: [] });
});

test("reprocess event: an original stored before placeholders gets one; a broken one is refused and kept; bad ids", async () => {
  const { reprocess } = await fresh();
  await put(ID, loadFixture("sharp_320x240.jpg"), { format: "jpeg", width: "320", height: "240", alpha: "0" });
  const made = await reprocess(ID);
  assert.deepEqual([made.action, made.placeholder], ["made", true]);
  const head = await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${ID}` }));
  assert.match(head.Metadata?.thumbhash ?? "", /^[A-Za-z0-9+/]+/);
  const broken = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  await put(broken, loadFixture("sharp_320x240.jpg").subarray(0, 3000), { format: "jpeg", width: "320", height: "240", alpha: "0" });
  const refused = await reprocess(broken);
  assert.deepEqual([refused.action, refused.errorCode], ["refused", "UNREADABLE_IMAGE"]);
  assert.ok((await aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${broken}` }))).ContentLength! > 0, "kept");
  assert.deepEqual((await reprocess("../etc/passwd")).errorCode, "INVALID_ID");
  assert.equal((await reprocess("7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")).action, "not found");
});

test("S3 Batch Operations event: one result per task, Succeeded, PermanentFailure with the reason, keys outside originals/ refused", async () => {
  const { batch } = await fresh();
  await put(ID, loadFixture("sharp_320x240.jpg"));
  const broken = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
  await put(broken, Buffer.from("not an image at all"));
  const event: S3BatchEvent = {
    invocationSchemaVersion: "1.0",
    invocationId: "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
    job: { id: "f3cc4f60-61f6-4a2b-8a21-d07600c373ce" },
    tasks: [
      { taskId: "t1", s3Key: `originals/${ID}`, s3VersionId: null, s3BucketArn: `arn:aws:s3:::${BUCKET}` },
      { taskId: "t2", s3Key: `originals/${broken}`, s3VersionId: null, s3BucketArn: `arn:aws:s3:::${BUCKET}` },
      { taskId: "t3", s3Key: "resized/whatever.webp", s3VersionId: null, s3BucketArn: `arn:aws:s3:::${BUCKET}` },
    ],
  };
  const result = await batch(event);
  assert.deepEqual([result.invocationSchemaVersion, result.invocationId, result.treatMissingKeysAs], ["1.0", event.invocationId, "PermanentFailure"]);
  assert.deepEqual(result.results.map((r) => [r.taskId, r.resultCode]), [["t1", "Succeeded"], ["t2", "PermanentFailure"], ["t3", "PermanentFailure"]]);
  assert.match(result.results[0]!.resultString, /^made: 3 variant/);
  assert.match(result.results[1]!.resultString, /UNSUPPORTED_IMAGE_TYPE/);
  const again = await batch({ ...event, invocationSchemaVersion: "2.0", tasks: [event.tasks[0]!] });
  assert.deepEqual(again.results.map((r) => [r.resultCode, r.resultString]), [["Succeeded", "up to date: 0 variant(s)"]]);
});
