// Purge at the CDN, on moto in server mode (S3 and CloudFront): DELETE
// /images/{id} sends one CreateInvalidation for exactly that image's two
// paths and says so in X-Imgapi-Purge; a new focal point, and a variant remade
// after its size's settings changed, invalidate the same paths; a refused
// invalidation (through the fault proxy) does not undo or fail the delete.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { CloudFrontClient, CreateDistributionCommand, GetInvalidationCommand, ListInvalidationsCommand } from "@aws-sdk/client-cloudfront";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, createLambdaHandler } from "../function/app.ts";
import type { CdnSettings } from "../function/cdn/cdn-env.ts";
import { createInvalidator } from "../function/cdn/invalidate.ts";
import { purgeRequest } from "../function/cdn/purge-request.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import type { ReprocessEvent, ReprocessOutcome } from "../function/reprocess-event.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { apiEvent, listEvent, responseJson, sizeEvent, uploadEvent } from "./support/events.ts";
import { startFaultProxy } from "./support/fault-proxy.ts";
import { motoWithBucket } from "./support/moto-bucket.ts";
import { clientConfig } from "./support/moto.ts";

const BUCKET = "imgapi-cdn-purge";
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);
const aws = motoWithBucket(BUCKET);

let cloudfront: CloudFrontClient;
let distributionId: string;
let logs: string[];

beforeEach(async () => {
  await aws.fresh();
  cloudfront = new CloudFrontClient(clientConfig(aws.moto));
  const created = await cloudfront.send(
    new CreateDistributionCommand({
      DistributionConfig: {
        CallerReference: `imgapi-test-${Date.now()}`,
        Comment: "imgapi-test images",
        Enabled: true,
        Origins: { Quantity: 1, Items: [{ Id: "api", DomainName: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", OriginPath: "/prod", CustomOriginConfig: { HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: "https-only" } }] },
        DefaultCacheBehavior: { TargetOriginId: "api", ViewerProtocolPolicy: "https-only", CachePolicyId: "658327ea-f89d-4fab-a63d-7e88639e58f6" },
      },
    }),
  );
  distributionId = created.Distribution!.Id!;
  logs = [];
});

function makeApp(client: CloudFrontClient = cloudfront, appSettings: RuntimeSettings = settings) {
  const cdn: CdnSettings = { url: "https://d111111abcdef8.cloudfront.net", distributionId, originSha256: "a".repeat(64), keyPairId: "K2JCJMDEHXQW5F" };
  return createApp({
    store: new ImageStore(aws.s3, BUCKET),
    settings: appSettings,
    log: (line) => logs.push(line),
    signingSecret: () => Promise.resolve(Buffer.alloc(32, 3)),
    cdn: { settings: cdn, signingKey: () => Promise.reject(new Error("not needed here")), invalidate: createInvalidator(client) },
  });
}

async function upload(app: ReturnType<typeof makeApp>): Promise<string> {
  const bytes = await sharp({ create: { width: 640, height: 480, channels: 3, background: "#a52" } }).jpeg().toBuffer();
  const res = await app(uploadEvent(bytes, { contentType: "image/jpeg" }));
  assert.equal(res.statusCode, 201, res.body);
  return responseJson<{ id: string }>(res).id;
}

/** Every invalidation moto holds for the distribution, with its paths and reference. */
async function invalidations(): Promise<Array<{ paths: string[]; callerReference: string }>> {
  const listed = await cloudfront.send(new ListInvalidationsCommand({ DistributionId: distributionId }));
  return Promise.all(
    (listed.InvalidationList?.Items ?? []).map(async (summary) => {
      const one = await cloudfront.send(new GetInvalidationCommand({ DistributionId: distributionId, Id: summary.Id! }));
      const batch = one.Invalidation!.InvalidationBatch!;
      return { paths: [...(batch.Paths!.Items ?? [])].sort(), callerReference: batch.CallerReference! };
    }),
  );
}

const del = (id: string) => apiEvent({ method: "DELETE", resource: "/images/{id}", pathParameters: { id } });
const focus = (id: string, body: unknown) => apiEvent({ method: "PUT", resource: "/images/{id}/focus", pathParameters: { id }, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
const pathsOf = (id: string) => [`/public/images/${id}/*`, `/resized/${id}/*`];

test("DELETE sends one invalidation for exactly the image's paths, and its 204 says the purge was requested", async () => {
  const app = makeApp();
  const id = await upload(app);
  const other = await upload(app);
  assert.deepEqual(await invalidations(), [], "uploading purges nothing");
  const res = await app(del(id));
  assert.equal(res.statusCode, 204);
  assert.equal(res.headers?.["X-Imgapi-Purge"], "requested");
  const sent = await invalidations();
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0]!.paths, pathsOf(id));
  assert.ok(!sent[0]!.paths.some((p) => p.includes(other)), "no other image's paths");
  assert.ok(sent[0]!.callerReference.startsWith(`imgapi-${id}-`), sent[0]!.callerReference);
});

test("the caller reference is the same for a retry of the same change, and differs for another change or a later minute", () => {
  const at = Date.UTC(2026, 10, 27, 21, 0, 10);
  const id = "0b7e1a4c-3f52-4c1e-9d0a-5b6c7d8e9f01";
  assert.deepEqual(purgeRequest("E1", id, "delete", at), purgeRequest("E1", id, "delete", at + 20_000));
  assert.notEqual(purgeRequest("E1", id, "focus {\"x\":0.1}", at).callerReference, purgeRequest("E1", id, "focus {\"x\":0.2}", at).callerReference);
  assert.notEqual(purgeRequest("E1", id, "delete", at).callerReference, purgeRequest("E1", id, "delete", at + 60_000).callerReference);
});

test("a new focal point invalidates the image's paths; the same point again sends nothing", async () => {
  const app = makeApp();
  const id = await upload(app);
  assert.equal((await app(focus(id, { x: 0.2, y: 0.3 }))).statusCode, 200);
  assert.equal((await app(focus(id, { x: 0.2, y: 0.3 }))).statusCode, 200);
  const sent = await invalidations();
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0]!.paths, pathsOf(id));
});

test("a size remade because its settings changed invalidates the image's paths; an unchanged listing sends nothing", async () => {
  const id = await upload(makeApp());
  assert.equal((await makeApp()(listEvent(id))).statusCode, 200);
  assert.deepEqual(await invalidations(), [], "made for the first time: nothing cached to purge");
  assert.equal((await makeApp()(listEvent(id))).statusCode, 200);
  assert.deepEqual(await invalidations(), []);
  const thumbnail = settings.sizes.thumbnail!;
  const changed: RuntimeSettings = { ...settings, sizes: { ...settings.sizes, thumbnail: { ...thumbnail, width: (thumbnail.width ?? 150) + 10 } } };
  const res = await makeApp(cloudfront, changed)(listEvent(id));
  assert.equal(res.statusCode, 200, res.body);
  const sent = await invalidations();
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0]!.paths, pathsOf(id));
  // One size asked for on its own (GET /images/{id}/{size}), after another change.
  const again: RuntimeSettings = { ...settings, sizes: { ...settings.sizes, thumbnail: { ...thumbnail, width: (thumbnail.width ?? 150) + 20 } } };
  assert.equal((await makeApp(cloudfront, again)(sizeEvent(id, "thumbnail"))).statusCode, 200);
  const after = await invalidations();
  assert.equal(after.length, 2);
  assert.deepEqual(after[1]!.paths, pathsOf(id));
});

test("reprocessing remakes a size whose settings changed and invalidates the image's paths; up to date, it sends nothing", async () => {
  const id = await upload(makeApp());
  assert.equal((await makeApp()(listEvent(id))).statusCode, 200);
  const thumbnail = settings.sizes.thumbnail!;
  const changed: RuntimeSettings = { ...settings, sizes: { ...settings.sizes, thumbnail: { ...thumbnail, width: (thumbnail.width ?? 150) + 30 } } };
  const cdn: CdnSettings = { url: "https://d111111abcdef8.cloudfront.net", distributionId, originSha256: "a".repeat(64), keyPairId: "K2JCJMDEHXQW5F" };
  const handler = createLambdaHandler({
    store: new ImageStore(aws.s3, BUCKET),
    settings: changed,
    log: (line) => logs.push(line),
    cdn: { settings: cdn, signingKey: () => Promise.reject(new Error("not needed here")), invalidate: createInvalidator(cloudfront) },
  }) as unknown as (event: ReprocessEvent) => Promise<ReprocessOutcome>;
  assert.equal((await handler({ imgapi: "reprocess", id })).action, "made");
  const sent = await invalidations();
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0]!.paths, pathsOf(id));
  assert.equal((await handler({ imgapi: "reprocess", id })).action, "up to date");
  assert.equal((await invalidations()).length, 1, "nothing remade, nothing purged");
});

test("a refused invalidation does not lose the delete: 204 with X-Imgapi-Purge: failed, and the failure is logged", async () => {
  const proxy = await startFaultProxy(aws.moto.endpoint);
  const body = `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: cloudfront:CreateInvalidation</Message></Error><RequestId>fault</RequestId></ErrorResponse>`;
  proxy.inject({ name: "invalidation refused", match: { service: "cloudfront", method: "POST", path: /\/invalidation$/ }, fault: { kind: "respond", status: 403, body, headers: { "Content-Type": "text/xml" } }, times: Infinity });
  const faulty = new CloudFrontClient({ ...clientConfig(aws.moto), endpoint: proxy.url });
  try {
    const app = makeApp(faulty);
    const id = await upload(app);
    const res = await app(del(id));
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers?.["X-Imgapi-Purge"], "failed");
    assert.equal(proxy.faulted("invalidation refused"), 1, "the invalidation was sent, and refused");
    await assert.rejects(aws.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `originals/${id}` })), { name: "NotFound" }, "the image is deleted all the same");
    const failure = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "cdn purge failed");
    assert.ok(failure, logs.join("\n"));
    assert.equal(failure.id, id);
    assert.match(String(failure.error), /AccessDenied/);
    assert.deepEqual(await invalidations(), []);
  } finally {
    faulty.destroy();
    await proxy.close();
  }
});
