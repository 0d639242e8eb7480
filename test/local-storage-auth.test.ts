// The local S3 is no way around the API: it answers only requests signed
// with its own key pair, checked as S3 checks them (the signature over the
// method, key, query and signed headers' values, the date, a presigned URL's
// expiry), and refuses everything else with S3's error codes, storing nothing.
import { uploadKey } from "../function/storage/key-layout.ts";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { ImageStore } from "../function/storage/image-store.ts";
import { generateCredentials } from "../local/sigv4.ts";
import { startLocalS3, type LocalS3 } from "../local/storage.ts";
import { codeOf, messageOf, send, signed, type Answer } from "./support/s3-requests.ts";

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(996, 7)]);

describe("the local S3's authentication", () => {
  let dataDir: string;
  let s3: LocalS3;
  let store: ImageStore;
  const keys = async () => ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((o) => o.Key!).sort();
  const read = async (Key: string) => (await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key }))).Body!.transformToString());
  const path = (key: string) => `/${s3.bucket}/${key}`;
  const refused = (answer: Answer) => [answer.status, codeOf(answer)];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3-auth-"));
    s3 = await startLocalS3({ dataDir, maxUploadBytes: 2000 });
    store = new ImageStore(s3.client, s3.bucket);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "originals/kept", Body: "the original" }));
  });
  after(async () => {
    await s3.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("anonymous requests are refused whatever the operation (403 AccessDenied), and change nothing", async () => {
    const before = await keys();
    const deleteBody = '<Delete><Object><Key>originals/kept</Key></Object></Delete>';
    const attempts: [string, string, string?][] = [
      ["GET", `/${s3.bucket}?list-type=2`],
      ["GET", path("originals/kept")],
      ["PUT", path("originals/planted"), "not an image"],
      ["DELETE", path("originals/kept")],
      ["POST", `/${s3.bucket}?delete`, deleteBody],
      ["PUT", path("originals/kept")],
      ["DELETE", `/${s3.bucket}`],
      ["GET", "/"],
    ];
    for (const [method, target, body] of attempts) {
      const answer = await send(s3.endpoint, { method, target, ...(body === undefined ? {} : { body, headers: { "Content-Type": "application/octet-stream" } }) });
      assert.deepEqual([...refused(answer), messageOf(answer)], [403, "AccessDenied", "Access Denied"], `${method} ${target}`);
    }
    const head = await send(s3.endpoint, { method: "HEAD", target: path("originals/kept") });
    assert.deepEqual([head.status, head.body], [403, ""], "HEAD answers the status without a body");
    assert.deepEqual(await keys(), before);
    assert.equal(await read("originals/kept"), "the original");
  });

  test("a header signature must be the key pair's, for this region, this path and these headers, dated now", async () => {
    const { credentials } = s3;
    const get = { method: "GET", path: path("originals/kept") };
    assert.deepEqual([(await signed(s3.endpoint, get, { credentials })).status], [200], "the helper signs as S3 expects");
    const cases: [string, Promise<Answer>, number, string][] = [
      ["another secret", signed(s3.endpoint, get, { credentials: { ...credentials, secretAccessKey: generateCredentials().secretAccessKey } }), 403, "SignatureDoesNotMatch"],
      ["an unknown key id", signed(s3.endpoint, get, { credentials: generateCredentials() }), 403, "InvalidAccessKeyId"],
      ["another region", signed(s3.endpoint, get, { credentials, region: "eu-west-1" }), 400, "AuthorizationHeaderMalformed"],
      ["20 minutes old", signed(s3.endpoint, get, { credentials, date: new Date(Date.now() - 20 * 60_000) }), 403, "RequestTimeTooSkewed"],
      ["a header added unsigned", signed(s3.endpoint, get, { credentials }, { "x-amz-meta-extra": "1" }), 403, "AccessDenied"],
      ["signed for one key, sent for another", signed(s3.endpoint, { ...get, sentPath: path("originals/other") }, { credentials }), 403, "SignatureDoesNotMatch"],
    ];
    for (const [what, answer, status, code] of cases) assert.deepEqual(refused(await answer), [status, code], what);
    assert.equal(await read("originals/kept"), "the original");
  });

  test("a body must hash to its signed x-amz-content-sha256 (XAmzContentSHA256Mismatch), and is not stored", async () => {
    const answer = await signed(s3.endpoint, { method: "PUT", path: path("originals/swapped"), body: "other bytes" }, { credentials: s3.credentials, payloadHash: "0".repeat(64) });
    assert.deepEqual(refused(answer), [400, "XAmzContentSHA256Mismatch"]);
    assert.ok(!(await keys()).includes("originals/swapped"));
  });

  test("the handler's presigned PUT stores exactly the bytes of the type, length and key it was signed for", async () => {
    const id = randomUUID();
    const url = await store.presignUpload(id, { contentType: "image/jpeg", contentLength: JPEG.length, name: "été.jpg" }, 300);
    const answer = await fetch(url, { method: "PUT", body: JPEG, headers: { "Content-Type": "image/jpeg" } });
    assert.equal(answer.status, 200, await answer.text());
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: uploadKey(id) }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), JPEG);
    assert.deepEqual([got.ContentType, got.Metadata?.name], ["image/jpeg", encodeURIComponent("été.jpg")], "the signed query's x-amz-meta-name is the object's metadata");
  });

  test("a presigned PUT refuses another type, length, key, method, an added x-amz-* header or an altered query, and stores nothing", async () => {
    const id = randomUUID();
    const url = new URL(await store.presignUpload(id, { contentType: "image/jpeg", contentLength: JPEG.length, name: "a.jpg" }, 300));
    const target = `${url.pathname}${url.search}`;
    const put = (over: Partial<{ target: string; method: string; body: Buffer; headers: Record<string, string> }>) =>
      send(s3.endpoint, { method: "PUT", target, body: JPEG, ...over, headers: { "Content-Type": "image/jpeg", ...over.headers } });
    const otherName = new URL(url);
    otherName.searchParams.set("x-amz-meta-name", "b.jpg");
    const cases: [string, Promise<Answer>, number, string][] = [
      ["another type", put({ headers: { "Content-Type": "text/html" } }), 403, "SignatureDoesNotMatch"],
      ["another length", put({ body: Buffer.concat([JPEG, JPEG]) }), 403, "SignatureDoesNotMatch"],
      ["another key", put({ target: target.replace(id, randomUUID()) }), 403, "SignatureDoesNotMatch"],
      ["GET with the PUT's URL", send(s3.endpoint, { method: "GET", target }), 403, "SignatureDoesNotMatch"],
      ["a copy source added", put({ headers: { "x-amz-copy-source": `${s3.bucket}/originals/kept` } }), 403, "AccessDenied"],
      ["metadata added", put({ headers: { "x-amz-meta-format": "jpeg" } }), 403, "AccessDenied"],
      ["another name in the query", put({ target: `${otherName.pathname}${otherName.search}` }), 403, "SignatureDoesNotMatch"],
      ["the Authorization header as well", put({ headers: { Authorization: "AWS4-HMAC-SHA256 Credential=x" } }), 400, "InvalidArgument"],
    ];
    for (const [what, answer, status, code] of cases) assert.deepEqual(refused(await answer), [status, code], what);
    assert.ok(!(await keys()).some((k) => k.includes(id)), "nothing stored under the presigned key");
  });

  test("an expired presigned URL is refused (Request has expired); one claiming more than 7 days is malformed", async () => {
    const id = randomUUID();
    const command = new PutObjectCommand({ Bucket: s3.bucket, Key: `originals/${id}`, ContentType: "image/jpeg" });
    const stale = await getSignedUrl(s3.client, command, { expiresIn: 60, signingDate: new Date(Date.now() - 10 * 60_000) });
    const expired = await fetch(stale, { method: "PUT", body: JPEG, headers: { "Content-Type": "image/jpeg" } });
    const answer = { status: expired.status, headers: {}, body: await expired.text() };
    assert.deepEqual([...refused(answer), messageOf(answer)], [403, "AccessDenied", "Request has expired"]);
    assert.match(answer.body, /<X-Amz-Expires>60<\/X-Amz-Expires><Expires>[^<]+Z<\/Expires><ServerTime>[^<]+Z<\/ServerTime>/);

    const fresh = new URL(await getSignedUrl(s3.client, command, { expiresIn: 60 }));
    fresh.searchParams.set("X-Amz-Expires", "604801");
    const week = await send(s3.endpoint, { method: "PUT", target: `${fresh.pathname}${fresh.search}`, body: JPEG, headers: { "Content-Type": "image/jpeg" } });
    assert.deepEqual(refused(week), [400, "AuthorizationQueryParametersError"]);
    assert.ok(!(await keys()).some((k) => k.includes(id)));

    const variant = await store.presignVariant("originals/kept", 60);
    assert.equal(await (await fetch(variant)).text(), "the original", "a presigned GET in date serves the object");
  });

  test("a presigned PUT that does not sign its length is bounded by uploads.maxBytes (400 EntityTooLarge)", async () => {
    const unbounded = await getSignedUrl(s3.client, new PutObjectCommand({ Bucket: s3.bucket, Key: "originals/big" }), { expiresIn: 60 });
    const answer = await fetch(unbounded, { method: "PUT", body: Buffer.alloc(2001) });
    assert.deepEqual([answer.status, /<Code>(\w+)<\/Code>/.exec(await answer.text())?.[1]], [400, "EntityTooLarge"]);
    assert.equal((await fetch(unbounded, { method: "PUT", body: Buffer.alloc(2000) })).status, 200, "up to the limit it is taken");
  });
});
