// The function with the CDN on, on moto (S3 and KMS): the listing hands out
// CDN URLs identical for a whole signing window; the public route refuses
// requests that came around the CDN (before the signature, before KMS); a
// variant too large for a Lambda response redirects to a CloudFront signed URL
// (canned policy, checked here with node:crypto as CloudFront checks it),
// signed with a key read and decrypted once, when first needed.
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { beforeEach, describe, test } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateKeyCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import type { APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { createApp } from "../function/app.ts";
import { CDN_ORIGIN_HEADER, CDN_SIGNING_KEY_CONTEXT, type CdnSettings } from "../function/cdn/cdn-env.ts";
import { cdnSigningKey } from "../function/cdn/resized-url.ts";
import { signingWindow } from "../function/cdn/signing-window.ts";
import { configureLibvips } from "../function/image/libvips.ts";
import type { KmsDecrypt } from "../function/signing-secret.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../function/storage/key-layout.ts";
import { apiEvent, listEvent, responseJson, uploadEvent } from "./support/events.ts";
import { motoWithBucket } from "./support/moto-bucket.ts";
import { clientConfig } from "./support/moto.ts";

const BUCKET = "imgapi-cdn-function";
const ORIGIN_SECRET = "b3JpZ2luLXNlY3JldC1mb3ItdGVzdHMtb25seS0xMjM0NTY";
const CDN: CdnSettings = { url: "https://d111111abcdef8.cloudfront.net", distributionId: "E2QWRUHAPOMQZL", originSha256: createHash("sha256").update(ORIGIN_SECRET).digest("hex"), keyPairId: "K2JCJMDEHXQW5F" };
const settings = settingsFromEnv({});
configureLibvips(settings.input.formats);
const aws = motoWithBucket(BUCKET);
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });

interface Listing {
  id: string;
  variants: Array<{ size: string; publicUrl: string }>;
}

let clock: number;
let decrypts: number;
let secretCalls: number;
let kms: KMSClient;

beforeEach(async () => {
  await aws.fresh();
  kms = new KMSClient(clientConfig(aws.moto));
  // As deploy stores it: the PEM encrypted with the images key under its context, the CiphertextBlob as the object's body.
  const key = await kms.send(new CreateKeyCommand({ Description: "images" }));
  const encrypted = await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from(privateKey), EncryptionContext: { ...CDN_SIGNING_KEY_CONTEXT } }));
  await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: CDN_SIGNING_KEY_OBJECT, Body: encrypted.CiphertextBlob! }));
  clock = Date.UTC(2026, 10, 27, 10, 0, 7);
  decrypts = 0;
  secretCalls = 0;
});

function makeApp(options: { cdn?: boolean; maxInlineBytes?: number } = {}) {
  const counted: KmsDecrypt = { send: (command) => (decrypts++, kms.send(command)) };
  const invalidate = () => Promise.resolve("I2J0I21PCUYOIK");
  return createApp({
    store: new ImageStore(aws.s3, BUCKET),
    settings,
    log: () => {},
    now: () => clock,
    signingSecret: () => (secretCalls++, Promise.resolve(Buffer.alloc(32, 9))),
    ...(options.maxInlineBytes === undefined ? {} : { maxInlineBytes: options.maxInlineBytes }),
    ...(options.cdn === false ? {} : { cdn: { settings: CDN, signingKey: cdnSigningKey(aws.s3, BUCKET, counted), invalidate } }),
  });
}

async function uploadAndList(app: ReturnType<typeof makeApp>): Promise<Listing> {
  const bytes = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#468" } }).jpeg().toBuffer();
  const { id } = responseJson<{ id: string }>(await app(uploadEvent(bytes, { contentType: "image/jpeg" })));
  return responseJson<Listing>(await app(listEvent(id)));
}

/** The public request CloudFront sends to the origin for a listed URL: its origin header unless told otherwise. */
function publicRequest(listing: Listing, size: string, origin: string | null = ORIGIN_SECRET, query?: Record<string, string>) {
  const url = new URL(listing.variants.find((v) => v.size === size)!.publicUrl);
  return apiEvent({
    method: "GET",
    resource: "/public/images/{id}/{size}",
    pathParameters: { id: listing.id, size },
    query: query ?? Object.fromEntries(url.searchParams),
    apiKey: null,
    headers: origin === null ? {} : { [CDN_ORIGIN_HEADER]: origin },
  });
}

const codeOf = (res: APIGatewayProxyResult) => [res.statusCode, responseJson<{ error: { code: string; message: string } }>(res).error.code] as const;

describe("signing window", () => {
  test("every listing in one window hands out the identical CDN URL; the next window another; expiry within [life, life + window]", async () => {
    const app = makeApp();
    const first = await uploadAndList(app);
    const window = signingWindow(settings.publicUrls.expiresSeconds);
    assert.equal(window, 3600);
    const nowSeconds = Math.floor(clock / 1000);
    for (const v of first.variants) {
      const url = new URL(v.publicUrl);
      assert.equal(url.origin, CDN.url);
      const expires = Number(url.searchParams.get("expires"));
      assert.equal(expires % window, 0, "on a window boundary");
      assert.ok(expires - nowSeconds >= settings.publicUrls.expiresSeconds && expires - nowSeconds <= settings.publicUrls.expiresSeconds + window, `${expires - nowSeconds}`);
    }
    clock += 1_000 * 60 * 30;
    assert.deepEqual(responseJson<Listing>(await app(listEvent(first.id))).variants.map((v) => v.publicUrl), first.variants.map((v) => v.publicUrl), "same window: same URLs");
    clock += 1_000 * 60 * 40;
    const later = responseJson<Listing>(await app(listEvent(first.id))).variants;
    assert.ok(later.every((v, i) => v.publicUrl !== first.variants[i]!.publicUrl), "next window: new URLs");
  });

  test("without the CDN, URLs are the API's own and expire exactly expiresSeconds from now", async () => {
    const listing = await uploadAndList(makeApp({ cdn: false }));
    const url = new URL(listing.variants[0]!.publicUrl);
    assert.notEqual(url.origin, CDN.url);
    assert.equal(Number(url.searchParams.get("expires")), Math.floor(clock / 1000) + settings.publicUrls.expiresSeconds);
  });
});

describe("origin guard", () => {
  test("without the origin secret, or with another, the public route answers 403 CDN_ONLY, before the signature and before KMS", async () => {
    const app = makeApp();
    const listing = await uploadAndList(app);
    secretCalls = 0;
    for (const origin of [null, "", "wrong", `${ORIGIN_SECRET}x`, CDN.originSha256]) {
      const res = await app(publicRequest(listing, "thumbnail", origin));
      assert.deepEqual(codeOf(res), [403, "CDN_ONLY"], `origin header ${JSON.stringify(origin)}`);
      assert.match(responseJson<{ error: { message: string } }>(res).error.message, /CDN URL .*GET \/images\/\{id\}/);
    }
    // A bad signature without the secret is still CDN_ONLY: nothing about the URL is told around the CDN.
    assert.deepEqual(codeOf(await app(publicRequest(listing, "thumbnail", null, { expires: "1", sig: "x" }))), [403, "CDN_ONLY"]);
    assert.equal(secretCalls, 0, "the signing secret was not asked for");
    // Through the CDN: the signature is checked as before.
    assert.deepEqual(codeOf(await app(publicRequest(listing, "thumbnail", ORIGIN_SECRET, { expires: "1", sig: "x" }))), [403, "INVALID_SIGNATURE"]);
    const ok = await app(publicRequest(listing, "thumbnail"));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.headers?.["Content-Type"], "image/webp");
  });

  test("without the CDN the public route needs no origin header", async () => {
    const app = makeApp({ cdn: false });
    const listing = await uploadAndList(app);
    assert.equal((await app(publicRequest(listing, "thumbnail", null))).statusCode, 200);
  });
});

describe("large variants", () => {
  test("a variant over maxInlineBytes redirects to a CloudFront signed URL (canned policy) expiring with the public URL; the key is decrypted once, when first needed", async () => {
    const app = makeApp({ maxInlineBytes: 10 });
    const listing = await uploadAndList(app);
    assert.equal(decrypts, 0, "listing needs no CDN signing key");
    const publicExpires = new URL(listing.variants[0]!.publicUrl).searchParams.get("expires")!;
    for (const size of ["thumbnail", "medium"]) {
      const res = await app(publicRequest(listing, size));
      assert.equal(res.statusCode, 302, res.body);
      const location = new URL(String(res.headers?.Location));
      const resource = `${location.origin}${location.pathname}`;
      assert.match(resource, new RegExp(`^${CDN.url}/resized/${listing.id}/${size}\\.webp$`));
      assert.deepEqual([...location.searchParams.keys()].sort(), ["Expires", "Key-Pair-Id", "Signature"]);
      assert.equal(location.searchParams.get("Expires"), publicExpires);
      assert.equal(location.searchParams.get("Key-Pair-Id"), CDN.keyPairId);
      // CloudFront's canned policy, signed RSA-SHA1, base64 with + = / as - _ ~.
      const policy = `{"Statement":[{"Resource":"${resource}","Condition":{"DateLessThan":{"AWS:EpochTime":${publicExpires}}}}]}`;
      const signature = Buffer.from(location.searchParams.get("Signature")!.replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/"), "base64");
      assert.ok(verify("RSA-SHA1", Buffer.from(policy), publicKey, signature), "the signature verifies with the key group's public key");
      assert.ok(!verify("RSA-SHA1", Buffer.from(policy.replace(publicExpires, String(Number(publicExpires) + 1))), publicKey, signature), "and covers the expiry");
      assert.match(String(res.headers?.["Cache-Control"]), /^public, max-age=\d+$/, "the edge may keep the redirect as long as the URL");
    }
    assert.equal(decrypts, 1, "one KMS Decrypt per cold start");
  });

  test("without the CDN a large variant still redirects to a presigned S3 URL", async () => {
    const app = makeApp({ cdn: false, maxInlineBytes: 10 });
    const listing = await uploadAndList(app);
    const res = await app(publicRequest(listing, "thumbnail", null));
    assert.equal(res.statusCode, 302);
    assert.match(String(res.headers?.Location), /X-Amz-Signature=/);
    assert.equal(decrypts, 0);
  });
});
