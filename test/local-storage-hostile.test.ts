// Malformed and hostile input to the local S3: each gets a 4xx in S3's words
// (or a closed connection when the client is gone), nothing is stored, and
// the server, in this very process, answers the next request. The first case
// is the request that killed `npm start` under s3rver (GHSA-wm7h-9275-46v2 in
// dicer: a multipart header line starting with a space).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startLocalS3, type LocalS3 } from "../local/storage.ts";
import { codeOf, exchange, send, signed, signHeaders, type Answer } from "./support/s3-requests.ts";

const BOUNDARY = "----WebKitFormBoundaryoo6vortfDzBsDiro";
const DICER_CRASH = `--${BOUNDARY}\r\n Content-Disposition: form-data; name="x"\r\n\r\n\r\n--${BOUNDARY}--`;
const md5 = (body: string) => createHash("md5").update(body).digest("base64");
/** The status line and <Code> of a raw HTTP answer. */
const rawOutcome = (text: string) => [Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), /<Code>([^<]*)<\/Code>/.exec(text)?.[1]];

describe("the local S3 under malformed and hostile requests", () => {
  let dataDir: string;
  let s3: LocalS3;
  let slow: LocalS3;
  const keys = async (s: LocalS3) => ((await s.client.send(new ListObjectsV2Command({ Bucket: s.bucket }))).Contents ?? []).map((o) => o.Key!);
  const outcome = (answer: Answer) => [answer.status, codeOf(answer)];
  const deleteObjects = (body: string, headers: Record<string, string> = { "Content-MD5": md5(body) }) =>
    signed(s3.endpoint, { method: "POST", path: `/${s3.bucket}`, query: { delete: "" }, headers: { "Content-Type": "application/xml", ...headers }, body }, { credentials: s3.credentials });
  const host = () => new URL(s3.endpoint).host;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3-hostile-"));
    s3 = await startLocalS3({ dataDir: join(dataDir, "a") });
    // A short idle timeout: the silent client below is answered without a long wait.
    slow = await startLocalS3({ dataDir: join(dataDir, "b"), idleTimeoutMs: 300 });
  });
  after(async () => {
    await s3.close();
    await slow.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Once the server is done with what was sent, it still answers a signed request, and nothing was stored. */
  async function stillServing(s: LocalS3 = s3): Promise<void> {
    await s.whenIdle();
    assert.deepEqual(await keys(s), []);
  }

  test("s3rver's crash request (a multipart POST) gets 403 anonymous and 405 signed; the process lives on", async () => {
    const headers = { "Content-Type": `multipart/form-data; boundary=${BOUNDARY}` };
    assert.deepEqual(outcome(await send(s3.endpoint, { method: "POST", target: `/${s3.bucket}`, headers, body: DICER_CRASH })), [403, "AccessDenied"]);
    const answer = await signed(s3.endpoint, { method: "POST", path: `/${s3.bucket}`, headers, body: DICER_CRASH }, { credentials: s3.credentials });
    assert.deepEqual(outcome(answer), [405, "MethodNotAllowed"]);
    await stillServing();
  });

  test("DeleteObjects bodies: not XML, an entity bomb, the wrong root, no checksum, a wrong checksum", async () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><Delete><Object><Key>&b;</Key></Object></Delete>';
    const cases: [string, Promise<Answer>, number, string][] = [
      ["not XML", deleteObjects("{not xml"), 400, "MalformedXML"],
      ["an entity bomb", deleteObjects(bomb), 400, "MalformedXML"],
      ["unclosed", deleteObjects("<Delete><Object><Key>a</Key></Object>"), 400, "MalformedXML"],
      ["another root", deleteObjects("<Remove><Object><Key>a</Key></Object></Remove>"), 400, "MalformedXML"],
      ["no object", deleteObjects("<Delete><Quiet>true</Quiet></Delete>"), 400, "MalformedXML"],
      ["no checksum", deleteObjects("<Delete><Object><Key>a</Key></Object></Delete>", {}), 400, "InvalidRequest"],
      ["a wrong Content-MD5", deleteObjects("<Delete><Object><Key>a</Key></Object></Delete>", { "Content-MD5": md5("other") }), 400, "BadDigest"],
      ["a Content-MD5 that is not one", deleteObjects("<Delete><Object><Key>a</Key></Object></Delete>", { "Content-MD5": "nope" }), 400, "InvalidDigest"],
    ];
    for (const [what, answer, status, code] of cases) assert.deepEqual(outcome(await answer), [status, code], what);
    await stillServing();
  });

  test("bad paths, an oversized key, a huge header section, a garbled request line, a chunked PUT", async () => {
    const credentials = s3.credentials;
    const cases: [string, Promise<Answer>, number, string][] = [
      ["a broken %-escape", send(s3.endpoint, { method: "GET", target: `/${s3.bucket}/%E0%A4%A` }), 400, "InvalidURI"],
      ["a bucket name S3 refuses", signed(s3.endpoint, { method: "GET", path: "/Bad_Bucket/k" }, { credentials }), 400, "InvalidBucketName"],
      ["a 1025-byte key", send(s3.endpoint, { method: "GET", target: `/${s3.bucket}/${"k".repeat(1025)}` }), 400, "KeyTooLongError"],
      ["an unknown method", signed(s3.endpoint, { method: "PATCH", path: `/${s3.bucket}/k` }, { credentials }), 405, "MethodNotAllowed"],
      ["a subresource the local S3 lacks", signed(s3.endpoint, { method: "GET", path: `/${s3.bucket}`, query: { acl: "" } }, { credentials }), 501, "NotImplemented"],
    ];
    for (const [what, answer, status, code] of cases) assert.deepEqual(outcome(await answer), [status, code], what);

    const huge = await exchange(s3.endpoint, `GET /${s3.bucket}/k HTTP/1.1\r\nHost: ${host()}\r\nX-Filler: ${"a".repeat(100_000)}\r\n\r\n`);
    assert.deepEqual(rawOutcome(huge), [400, "RequestHeaderSectionTooLarge"]);
    const garbled = await exchange(s3.endpoint, "NOT HTTP AT ALL\r\n\r\n");
    assert.deepEqual(rawOutcome(garbled), [400, "BadRequest"]);
    const chunkedPut = await signed(s3.endpoint, { method: "PUT", path: `/${s3.bucket}/chunked`, headers: { "Transfer-Encoding": "chunked" }, body: "abc" }, { credentials, payloadHash: "UNSIGNED-PAYLOAD" });
    assert.deepEqual(outcome(chunkedPut), [411, "MissingContentLength"]);
    await stillServing();
  });

  // A timeout of its own: a server that never answers the silent client fails this test, not the file.
  test("a PUT whose body stops short: the client hangs up (400 IncompleteBody) or falls silent (400 RequestTimeout); nothing stored", { timeout: 30_000 }, async () => {
    // Signed for 1000 bytes of unsigned payload, as an SDK signs a streamed upload; 10 are sent.
    const put = async (s: LocalS3) => {
      const request = { method: "PUT", path: `/${s.bucket}/truncated`, headers: { "content-length": "1000" } };
      const { target, headers } = await signHeaders(s.endpoint, request, { credentials: s.credentials, payloadHash: "UNSIGNED-PAYLOAD" });
      return `PUT ${target} HTTP/1.1\r\n${Object.entries(headers).map(([n, v]) => `${n}: ${v}`).join("\r\n")}\r\n\r\n${"x".repeat(10)}`;
    };
    const hungUp = await exchange(s3.endpoint, await put(s3), { end: true });
    assert.deepEqual(rawOutcome(hungUp), [400, "IncompleteBody"]);
    await stillServing();
    const silent = await exchange(slow.endpoint, await put(slow));
    assert.deepEqual(rawOutcome(silent), [400, "RequestTimeout"]);
    await stillServing(slow);
  });
});
