// resizeOnUpload: S3 notifies the function of objects created under uploads/
// and originals/ (TRIGGER_PREFIXES), and it makes every size. Moto does not
// deliver notifications to a function, so the test does what S3 would: the S3
// client is wrapped so that after each successful PutObject or CopyObject
// whose key matches one of the prefixes, an S3 event for that key reaches the
// handler (a presigned PUT, which bypasses the client, is announced by the
// test). The function's own writes go through the same wrapper, so a write of
// its own that matched would show up as an invocation.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { parseRuntimeSettings } from "../config/load.ts";
import { BUCKET_ENV, SETTINGS_ENV, settingsToEnv } from "../config/runtime-env.ts";
import { createApp, createLambdaHandler, type LambdaHandler } from "../function/app.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import { decodeEventKey, isS3Event } from "../function/s3-events.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";
import { apiEvent, responseJson, uploadEvent } from "./support/events.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";
import { matches, notifyingClient, s3Event, type Notifying } from "./support/s3-notifications.ts";

const BUCKET = "imgapi-trigger";
const settings = parseRuntimeSettings(
  { sizes: { thumbnail: { width: 150, height: 150, fit: "cover" }, medium: { width: 800, format: "auto" } } },
  "test settings",
);
configureLibvips(settings.input.formats);
const photo = (background: string) => sharp({ create: { width: 1200, height: 900, channels: 3, background } }).jpeg().toBuffer();

describe("on moto, with S3's notification emulated", () => {
  let moto: Moto;
  let s3: S3Client;
  const logLines: string[] = [];

  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });

  async function keys(prefix: string): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  }

  function wired(): Notifying {
    // The function reads and writes through the notifying client, as in the deployed bucket.
    const function_: { handler?: LambdaHandler } = {};
    const notifying = notifyingClient(s3, () => function_.handler!);
    function_.handler = createLambdaHandler({ store: new ImageStore(notifying.client, BUCKET), settings, log: (l) => logLines.push(l) });
    return notifying;
  }

  test("objects put into originals/ by any route end up with every size; one invocation per original, none for the outputs", async () => {
    // Prepare
    const notifying = wired();
    const direct = ["3f9a2c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "8c7b6a5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"];
    const lines = logLines.length;

    // Act: two originals written straight into the bucket, one through POST /images.
    for (const [i, id] of direct.entries()) {
      await notifying.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${id}`, Body: await photo(i === 0 ? "#236" : "#632"), ContentType: "image/jpeg" }));
    }
    const api = createApp({ store: new ImageStore(notifying.client, BUCKET), settings, log: () => {} });
    const posted = responseJson<{ id: string }>(await api(uploadEvent(await photo("#363"), { contentType: "image/jpeg" }))).id;
    await notifying.settled();

    // Assess: every size in resized/ (the auto size both as the original's JPEG and as WebP).
    for (const id of direct) {
      assert.deepEqual(await keys(`resized/${id}/`), ["_original.json", "medium.jpg", "medium.webp", "thumbnail.webp"].map((k) => `resized/${id}/${k}`));
    }
    assert.deepEqual(await keys(`resized/${posted}/`), ["medium.jpg", "medium.webp", "thumbnail.webp"].map((k) => `resized/${posted}/${k}`));
    const thumb = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `resized/${direct[0]}/thumbnail.webp` }));
    assert.deepEqual([thumb.ContentType, thumb.Metadata?.width, thumb.Metadata?.height], ["image/webp", "150", "150"]);

    // Invoked exactly once per original, never for one of its own writes.
    const originals = [...direct, posted].map((id) => `originals/${id}`);
    assert.deepEqual([...notifying.invocations].sort(), [...originals].sort());
    const own = notifying.puts.filter((k) => !originals.includes(k));
    assert.ok(own.length >= 9, `the function wrote ${own.length} objects`);
    assert.ok(own.every((k) => k.startsWith("resized/")), own.join(", "));
    assert.ok(own.every((k) => !matches(k)), "no output matches a notification filter");

    // One log line per record.
    const records = logLines.slice(lines).map((l) => JSON.parse(l) as { msg: string; action: string; key: string; sizes?: number });
    assert.deepEqual(records.filter((r) => r.msg === "s3-object").map((r) => [r.key, r.action, r.sizes]).sort(), originals.map((k) => [k, "resized", 3]).sort());
  });

  test("a non-image under originals/ is rejected and deleted, and the other records of the event still run", async () => {
    // Prepare: a good original, a bad one, and keys the trigger must leave alone.
    const good = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    const bad = "9f8e7d6c-5b4a-4f3e-9d2c-1b0a9f8e7d6c";
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${good}`, Body: await photo("#555") }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${bad}`, Body: "<?php echo 'hi'; ?>" }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "originals/notes about cats.txt", Body: "meow" }));
    const handler = createLambdaHandler({ store: new ImageStore(s3, BUCKET), settings, log: (l) => logLines.push(l) });
    const one = (key: string, eventName = "ObjectCreated:Put") => ({ ...s3Event(BUCKET, key, 1, "e").Records[0]!, eventName });
    const lines = logLines.length;

    // Act: one event with five records.
    const outcome = await handler({
      Records: [
        one(`originals/${bad}`),
        one(`originals/${good}`, "ObjectCreated:CompleteMultipartUpload"),
        one("originals/notes about cats.txt"),
        one(`resized/${good}/thumbnail.webp`),
        one(`originals/${good}`, "ObjectRemoved:Delete"),
      ],
    });

    // Assess: no throw, one line per record, the bad object gone, the good one resized.
    assert.deepEqual(outcome, { resized: 1, ignored: 3, rejected: 1, failed: 0 });
    const lines2 = logLines.slice(lines).map((l) => JSON.parse(l) as { action: string; key: string; errorCode?: string; reason?: string });
    assert.deepEqual(
      lines2.map((l) => [l.action, l.errorCode ?? l.reason ?? ""]),
      [
        ["rejected", "UNSUPPORTED_IMAGE_TYPE"],
        ["resized", ""],
        ["ignored", "not originals/{image id}"],
        ["ignored", "not under uploads/ or originals/"],
        ["ignored", "not an ObjectCreated event"],
      ],
    );
    assert.equal(lines2[2]!.key, "originals/notes+about+cats.txt");
    assert.deepEqual(await keys(`originals/${bad}`), []);
    assert.deepEqual(await keys(`resized/${bad}/`), []);
    assert.equal((await keys(`resized/${good}/`)).length, 4);
    assert.deepEqual(await keys("originals/notes"), ["originals/notes about cats.txt"], "keys the API does not own are left alone");
  });

  /** POST /uploads, then the PUT to the presigned URL, then S3's event for it. */
  async function presignedUpload(notifying: Notifying, body: Buffer): Promise<string> {
    const api = createApp({ store: new ImageStore(notifying.client, BUCKET), settings, log: () => {} });
    const created = await api(apiEvent({ method: "POST", resource: "/uploads", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ contentType: "image/jpeg", contentLength: body.length }), base64: true }));
    const { id, upload } = responseJson<{ id: string; upload: { url: string } }>(created);
    assert.equal((await fetch(upload.url, { method: "PUT", body, headers: { "Content-Type": "image/jpeg" } })).status, 200);
    notifying.announce(BUCKET, `uploads/${id}`);
    await notifying.settled();
    return id;
  }

  test("a presigned upload is checked, sized and moved to originals/; the move's own event finds the sizes made", async () => {
    // Prepare
    const notifying = wired();
    const bytes = await photo("#246");
    const lines = logLines.length;

    // Act
    const id = await presignedUpload(notifying, bytes);

    // Assess: the checked bytes under originals/ with their facts, the upload gone, every size made once.
    assert.deepEqual(await keys(`uploads/${id}`), []);
    const original = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `originals/${id}` }));
    assert.ok(Buffer.from(await original.Body!.transformToByteArray()).equals(bytes));
    assert.deepEqual([original.ContentType, original.Metadata?.format, original.Metadata?.width, original.Metadata?.height], ["image/jpeg", "jpeg", "1200", "900"]);
    assert.deepEqual(await keys(`resized/${id}/`), ["medium.jpg", "medium.webp", "thumbnail.webp"].map((k) => `resized/${id}/${k}`));
    assert.deepEqual(notifying.invocations, [`uploads/${id}`, `originals/${id}`]);
    assert.deepEqual(notifying.puts.filter((k) => k.startsWith("resized/")).sort(), ["medium.jpg", "medium.webp", "thumbnail.webp"].map((k) => `resized/${id}/${k}`), "each size written once");
    const records = logLines.slice(lines).map((l) => JSON.parse(l) as { key: string; action: string; reason?: string; eventName: string });
    assert.deepEqual(records.map((r) => [r.eventName, r.key, r.action, r.reason ?? ""]), [
      ["ObjectCreated:Put", `uploads/${id}`, "resized", ""],
      ["ObjectCreated:Copy", `originals/${id}`, "ignored", "sizes up to date"],
    ]);
  });

  test("a refused presigned upload is deleted; the same id PUT again after its move is deleted and the image kept", async () => {
    const notifying = wired();
    const lines = logLines.length;

    const bomb = await presignedUpload(notifying, Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"));
    const kept = await presignedUpload(notifying, await photo("#642"));
    const before = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${kept}` }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `uploads/${kept}`, Body: "<svg/>" }));
    notifying.announce(BUCKET, `uploads/${kept}`);
    await notifying.settled();

    assert.deepEqual([...(await keys(`uploads/${bomb}`)), ...(await keys(`originals/${bomb}`)), ...(await keys(`resized/${bomb}/`))], []);
    assert.deepEqual(await keys(`uploads/${kept}`), [], "the second upload is deleted");
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${kept}` }))).ETag, before.ETag, "the checked original is untouched");
    const records = logLines.slice(lines).map((l) => JSON.parse(l) as { key: string; action: string; errorCode?: string; reason?: string });
    assert.deepEqual(records.map((r) => [r.key, r.action, r.errorCode ?? r.reason ?? ""]), [
      [`uploads/${bomb}`, "rejected", "UNSUPPORTED_IMAGE_TYPE"],
      [`uploads/${kept}`, "resized", ""],
      [`originals/${kept}`, "ignored", "sizes up to date"],
      [`uploads/${kept}`, "ignored", "the image exists: the new upload was deleted"],
    ]);
  });

  test("the Lambda entry point takes S3 events too", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      [BUCKET_ENV]: BUCKET,
      [SETTINGS_ENV]: settingsToEnv(settings),
      [S3_ENDPOINT_ENV]: moto.endpoint,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_REGION: MOTO_REGION,
    });
    const consoleLog = console.log;
    console.log = () => {};
    try {
      const { handler } = (await import("../function/handler.ts")) as { handler: LambdaHandler };
      const id = "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d";
      const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `originals/${id}`, Body: await photo("#777") }));
      const event = s3Event(BUCKET, `originals/${id}`, 1, put.ETag ?? "");
      assert.ok(isS3Event(event));
      assert.deepEqual(await handler(event, { awsRequestId: "s3-test" }), { resized: 1, ignored: 0, rejected: 0, failed: 0 });
      assert.equal((await keys(`resized/${id}/`)).length, 4);
    } finally {
      console.log = consoleLog;
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});

test("event keys are URL-decoded as S3 encodes them", () => {
  assert.equal(decodeEventKey("originals/a+b%2Bc%21"), "originals/a b+c!");
  assert.equal(decodeEventKey("originals/%E0%A4%A"), undefined);
  assert.equal(isS3Event({ Records: [{ eventSource: "aws:sqs" }] }), false);
  assert.equal(isS3Event({ httpMethod: "GET" }), false);
});
