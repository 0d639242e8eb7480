// CORS on the local S3, driven by the rule deploy gives PutBucketCors
// (config/bucket-cors.ts) and answered as S3 answers: a preflight from an
// allowed origin, for an allowed method and headers, gets 200 and the rule's
// headers; anything else gets 403 and no Access-Control-Allow-Origin, so the
// browser blocks the request. Actual requests carry the headers too, errors
// included, so a page can read why S3 refused.
// https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors-troubleshooting.html
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CORS_MAX_AGE_SECONDS, imagesBucketCorsRules } from "../config/bucket-cors.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { startLocalS3, type LocalS3 } from "../local/storage.ts";
import { codeOf, messageOf, send, type Answer } from "./support/s3-requests.ts";

const APP = "https://app.example";
const VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";
const NOT_ALLOWED =
  "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/** The CORS headers of an answer, by lower-case name. */
const corsOf = (answer: Answer) => Object.fromEntries(Object.entries(answer.headers).filter(([n]) => n.startsWith("access-control-") || n === "vary"));

test("the images bucket's rule: the configured origins, PUT/GET/HEAD with Content-Type, ETag exposed, an hour's preflight cache", () => {
  assert.deepEqual(imagesBucketCorsRules([APP, "http://localhost:5173"]), [
    {
      ID: "imgapi-browser-access",
      AllowedOrigins: [APP, "http://localhost:5173"],
      AllowedMethods: ["PUT", "GET", "HEAD"],
      AllowedHeaders: ["Content-Type"],
      ExposeHeaders: ["ETag"],
      MaxAgeSeconds: 3600,
    },
  ]);
  assert.equal(CORS_MAX_AGE_SECONDS, 3600);
  assert.deepEqual(imagesBucketCorsRules(["*"])[0]!.AllowedOrigins, ["*"]);
});

describe("CORS on the local S3, for the configured origins", () => {
  let dataDir: string;
  let s3: LocalS3;
  let open: LocalS3;
  let closed: LocalS3;
  const preflight = (s: LocalS3, headers: Record<string, string>, key = "originals/x") =>
    send(s.endpoint, { method: "OPTIONS", target: `/${s.bucket}/${key}?X-Amz-Signature=ignored`, headers });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-s3-cors-"));
    s3 = await startLocalS3({ dataDir: join(dataDir, "a"), corsOrigins: [APP] });
    open = await startLocalS3({ dataDir: join(dataDir, "b"), corsOrigins: ["*"] });
    closed = await startLocalS3({ dataDir: join(dataDir, "c") });
  });
  after(async () => {
    for (const s of [s3, open, closed]) await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a preflight for the presigned PUT from an allowed origin: 200 with the rule's headers, no signature needed", async () => {
    const answer = await preflight(s3, { Origin: APP, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "Content-Type" });
    assert.equal(answer.status, 200);
    assert.deepEqual(corsOf(answer), {
      "access-control-allow-origin": APP,
      "access-control-allow-methods": "PUT, GET, HEAD",
      "access-control-allow-headers": "content-type",
      "access-control-expose-headers": "ETag",
      "access-control-max-age": "3600",
      "access-control-allow-credentials": "true",
      vary: VARY,
    });
    const any = await preflight(open, { Origin: "http://127.0.0.1:8080", "Access-Control-Request-Method": "GET" });
    assert.deepEqual([any.status, any.headers["access-control-allow-origin"], any.headers["access-control-allow-credentials"]], [200, "*", undefined]);
  });

  test("preflights no rule allows get 403 AccessForbidden and no Access-Control-Allow-Origin", async () => {
    const cases: [string, LocalS3, Record<string, string>, string][] = [
      ["another origin", s3, { Origin: "https://evil.example", "Access-Control-Request-Method": "PUT" }, NOT_ALLOWED],
      ["another method", s3, { Origin: APP, "Access-Control-Request-Method": "DELETE" }, NOT_ALLOWED],
      ["a header the rule does not allow", s3, { Origin: APP, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type, x-api-key" }, NOT_ALLOWED],
      ["a bucket without CORS", closed, { Origin: APP, "Access-Control-Request-Method": "PUT" }, "CORSResponse: CORS is not enabled for this bucket."],
    ];
    for (const [what, server, headers, message] of cases) {
      const answer = await preflight(server, headers);
      assert.deepEqual([answer.status, codeOf(answer), messageOf(answer)], [403, "AccessForbidden", message], what);
      assert.equal(answer.headers["access-control-allow-origin"], undefined, what);
    }
    const missingBucket = await send(s3.endpoint, { method: "OPTIONS", target: "/no-such-bucket/k", headers: { Origin: APP, "Access-Control-Request-Method": "GET" } });
    assert.deepEqual([missingBucket.status, messageOf(missingBucket)], [403, "CORSResponse: Bucket not found"]);
    const noOrigin = await preflight(s3, { "Access-Control-Request-Method": "PUT" });
    assert.deepEqual([noOrigin.status, codeOf(noOrigin), messageOf(noOrigin)], [400, "BadRequest", "Insufficient information. Origin request header needed."]);
    const badMethod = await preflight(s3, { Origin: APP, "Access-Control-Request-Method": "PATCH" });
    assert.deepEqual([badMethod.status, messageOf(badMethod)], [400, "Invalid Access-Control-Request-Method: PATCH"]);
  });

  test("actual requests from an allowed origin carry the headers, refusals included; from another origin only Vary", async () => {
    const store = new ImageStore(s3.client, s3.bucket);
    const body = Buffer.from("0123456789");
    const url = new URL(await store.presignUpload(randomUUID(), { contentType: "image/jpeg", contentLength: body.length }, 300));
    const put = (origin: string, type: string) => send(s3.endpoint, { method: "PUT", target: `${url.pathname}${url.search}`, body, headers: { Origin: origin, "Content-Type": type } });

    const refused = await put(APP, "text/html");
    assert.deepEqual([refused.status, codeOf(refused), refused.headers["access-control-allow-origin"]], [403, "SignatureDoesNotMatch", APP], "a page can read why");
    const stored = await put(APP, "image/jpeg");
    assert.deepEqual([stored.status, stored.headers["access-control-allow-origin"], stored.headers["access-control-expose-headers"]], [200, APP, "ETag"]);
    assert.match(stored.headers.etag ?? "", /^"[0-9a-f]{32}"$/);
    const elsewhere = await put("https://evil.example", "image/jpeg");
    assert.deepEqual([elsewhere.headers["access-control-allow-origin"], elsewhere.headers.vary], [undefined, VARY]);
  });
});
