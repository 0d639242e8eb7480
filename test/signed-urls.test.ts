// Signed public URLs: GET /images/{id} hands out, per size, a link that serves
// the bytes without credentials until it expires. On moto (S3 and KMS) through
// the real Lambda entry point, whose secret comes from one KMS Decrypt of the
// ciphertext in its environment, and through the local server over HTTP.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateKeyCommand, EncryptCommand, KMSClient, type DecryptCommand } from "@aws-sdk/client-kms";
import type { APIGatewayProxyResult } from "aws-lambda";
import sharp from "sharp";
import { BUCKET_ENV, SETTINGS_ENV, settingsFromEnv, settingsToEnv, SIGNING_SECRET_CONTEXT, SIGNING_SECRET_ENV } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { createApp, type LambdaHandler } from "../function/app.ts";
import { signedUrl } from "../function/signed-urls.ts";
import { kmsSigningSecret } from "../function/signing-secret.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { S3_ENDPOINT_ENV } from "../function/storage/s3-client.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { apiEvent, HOST, listEvent, responseBytes, responseJson, sizeEvent, STAGE, uploadEvent } from "./support/events.ts";
import { clientConfig, MOTO_CREDENTIALS, MOTO_REGION, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";

const BUCKET = "imgapi-signed-urls";
const settings = settingsFromEnv({});
const silent = () => {};

type LambdaModule = { handler: LambdaHandler };
type ApiHandler = (event: ReturnType<typeof apiEvent>) => Promise<APIGatewayProxyResult>;

interface ListBody {
  id: string;
  variants: Array<{ size: string; link: string; publicUrl?: string }>;
}

const photo = () => sharp({ create: { width: 1200, height: 900, channels: 3, background: "#3a6" } }).jpeg().toBuffer();

/** Every way one character of a signed URL can change: the id, the size, the expiry, the signature. */
function tamperings(url: string): Array<[string, string]> {
  const u = new URL(url);
  const [, id = "", size = ""] = /\/public\/images\/([^/]+)\/([^/?]+)$/.exec(u.pathname) ?? [];
  const expires = u.searchParams.get("expires")!;
  const sig = u.searchParams.get("sig")!;
  const swap = (text: string, at: number, alphabet: string) => {
    const i = at < 0 ? text.length + at : at;
    const next = alphabet[(alphabet.indexOf(text[i]!) + 1) % alphabet.length]!;
    return text.slice(0, i) + next + text.slice(i + 1);
  };
  const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const withPath = (newId: string, newSize: string) => url.replace(`/public/images/${id}/${size}?`, `/public/images/${newId}/${newSize}?`);
  return [
    ["the id's first character", withPath(swap(id, 0, "0123456789abcdef"), size)],
    ["the id's last character", withPath(swap(id, -1, "0123456789abcdef"), size)],
    ["the size's first character", withPath(id, swap(size, 0, "abcdefghijklmnopqrstuvwxyz"))],
    ["the expiry's last digit", url.replace(`expires=${expires}`, `expires=${swap(expires, -1, "0123456789")}`)],
    ["the expiry's first digit (a later date)", url.replace(`expires=${expires}`, `expires=${swap(expires, 0, "123456789")}`)],
    ["the signature's first character", url.replace(`sig=${sig}`, `sig=${swap(sig, 0, B64URL)}`)],
    // The last of 43 base64url characters holds 2 spare bits: decoding would hide this change.
    ["the signature's last character", url.replace(`sig=${sig}`, `sig=${swap(sig, -1, B64URL)}`)],
    ["no signature", url.replace(`&sig=${sig}`, "")],
  ];
}

/** The API Gateway event a signed URL of the deployed API becomes (no API key). */
function publicEvent(url: string) {
  const u = new URL(url);
  const path = u.pathname.replace(new RegExp(`^/${STAGE}`), "");
  const [, id = "", size = ""] = /^\/public\/images\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
  return apiEvent({
    method: "GET",
    resource: "/public/images/{id}/{size}",
    pathParameters: { id: decodeURIComponent(id), size: decodeURIComponent(size) },
    query: Object.fromEntries(u.searchParams),
    apiKey: null,
  });
}

function errorCode(res: APIGatewayProxyResult): string {
  return responseJson<{ error: { code: string } }>(res).error.code;
}

/** The forms a secret could leak in. */
const secretForms = (secret: Buffer) => [secret.toString("hex"), secret.toString("base64"), secret.toString("base64url")];

describe("through the Lambda entry point, on moto's S3 and KMS", () => {
  let moto: Moto;
  let s3: S3Client;
  let kms: KMSClient;
  let keyId: string;
  const saved = { ...process.env };
  const printed: string[] = [];
  const consoleLog = console.log;
  let cold = 0;

  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    kms = new KMSClient(clientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    keyId = (await kms.send(new CreateKeyCommand({ Description: "imgapi test project key" }))).KeyMetadata!.KeyId!;
    Object.assign(process.env, {
      [BUCKET_ENV]: BUCKET,
      [SETTINGS_ENV]: settingsToEnv(settings),
      [S3_ENDPOINT_ENV]: moto.endpoint,
      AWS_ENDPOINT_URL_KMS: moto.endpoint,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_REGION: MOTO_REGION,
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    console.log = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
  });

  after(async () => {
    console.log = consoleLog;
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    s3?.destroy();
    kms?.destroy();
    await moto?.stop();
  });

  /** As deploy does: a random secret, encrypted under the project key with the signing context. */
  async function encryptSecret(secret: Buffer): Promise<string> {
    const out = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: SIGNING_SECRET_CONTEXT }));
    return Buffer.from(out.CiphertextBlob!).toString("base64");
  }

  /** A cold start with this ciphertext in the environment: a fresh instance of function/handler.ts. */
  async function coldStart(ciphertext: string): Promise<ApiHandler> {
    process.env[SIGNING_SECRET_ENV] = ciphertext;
    cold += 1;
    const url = `${new URL("../function/handler.ts", import.meta.url).href}?cold=${cold}`;
    const mod = (await import(url)) as LambdaModule;
    return (event) => mod.handler(event);
  }

  async function uploadAndList(handler: ApiHandler): Promise<ListBody> {
    const up = await handler(uploadEvent(await photo(), { contentType: "image/jpeg" }));
    assert.equal(up.statusCode, 201, up.body);
    const list = await handler(listEvent(responseJson<{ id: string }>(up).id));
    assert.equal(list.statusCode, 200, list.body);
    return responseJson<ListBody>(list);
  }

  test("a signed URL serves the size without a key; one changed character, or expiry, gives 403; rotation retires old URLs", async (t) => {
    const secret = randomBytes(32);
    const handler = await coldStart(await encryptSecret(secret));
    const answers: APIGatewayProxyResult[] = [];
    const call = async (event: ReturnType<typeof apiEvent>) => {
      const res = await handler(event);
      answers.push(res);
      return res;
    };

    // Prepare: an image, and its listing with a public URL per size.
    const listed = await uploadAndList(call);
    const started = Math.floor(Date.now() / 1000);
    assert.deepEqual(listed.variants.map((v) => v.size), ["thumbnail", "medium", "large"]);
    for (const v of listed.variants) {
      const url = new URL(v.publicUrl ?? "");
      assert.equal(`${url.origin}${url.pathname}`, `https://${HOST}/${STAGE}/public/images/${listed.id}/${v.size}`);
      const expires = Number(url.searchParams.get("expires"));
      assert.ok(Math.abs(expires - (started + settings.publicUrls.expiresSeconds)) <= 5, `expires ${expires}`);
      assert.match(url.searchParams.get("sig") ?? "", /^[A-Za-z0-9_-]{43}$/);
    }

    // Act + Assess: the public URL serves the same bytes as the keyed route, cacheable publicly until expiry.
    const thumb = listed.variants[0]!.publicUrl!;
    const open = await call(publicEvent(thumb));
    assert.equal(open.statusCode, 200, open.body);
    const keyed = await call(sizeEvent(listed.id, "thumbnail"));
    assert.deepEqual(responseBytes(open), responseBytes(keyed));
    assert.equal(open.headers?.["Content-Type"], "image/webp");
    assert.equal(open.headers?.ETag, keyed.headers?.ETag);
    const maxAge = Number(/^public, max-age=(\d+)$/.exec(String(open.headers?.["Cache-Control"]))?.[1]);
    assert.ok(maxAge > 0 && maxAge <= settings.publicUrls.expiresSeconds, String(open.headers?.["Cache-Control"]));

    for (const [what, url] of tamperings(thumb)) {
      const res = await call(publicEvent(url));
      assert.deepEqual([res.statusCode, errorCode(res)], [403, "INVALID_SIGNATURE"], `${what}: ${url}`);
    }
    // Signed with the right secret, but expired a second ago.
    const expired = signedUrl(secret, `https://${HOST}/${STAGE}`, listed.id, "thumbnail", Math.floor(Date.now() / 1000) - 1);
    const late = await call(publicEvent(expired));
    assert.deepEqual([late.statusCode, errorCode(late)], [403, "URL_EXPIRED"]);

    // Rotation: a new secret, a new cold start. Old links stop working; new ones work.
    const rotated = randomBytes(32);
    const next = await coldStart(await encryptSecret(rotated));
    const afterRotation = await next(publicEvent(thumb));
    answers.push(afterRotation);
    assert.deepEqual([afterRotation.statusCode, errorCode(afterRotation)], [403, "INVALID_SIGNATURE"]);
    const relisted = await next(listEvent(listed.id));
    answers.push(relisted);
    const fresh = responseJson<ListBody>(relisted).variants[0]!.publicUrl!;
    assert.notEqual(fresh, thumb);
    const works = await next(publicEvent(fresh));
    answers.push(works);
    assert.equal(works.statusCode, 200, works.body);
    assert.deepEqual(responseBytes(works), responseBytes(keyed));

    // Neither secret shows up in any answer or log line, in any encoding.
    const seen = [...answers.map((r) => `${JSON.stringify(r.headers)}\n${r.isBase64Encoded ? "" : r.body}`), ...printed];
    for (const form of [...secretForms(secret), ...secretForms(rotated)]) {
      for (const text of seen) assert.ok(!text.includes(form), `a secret leaks in: ${text.slice(0, 200)}`);
    }
    t.diagnostic(`${answers.length} answers and ${printed.length} log lines checked for the secrets`);
  });

  test("one KMS Decrypt per cold start, shared by concurrent requests; a failed one is retried", async () => {
    const secret = randomBytes(32);
    const ciphertext = Buffer.from(await encryptSecret(secret), "base64");
    let decrypts = 0;
    let failNext = true;
    const counting = {
      async send(command: DecryptCommand) {
        decrypts += 1;
        if (failNext) {
          failNext = false;
          throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        }
        return kms.send(command);
      },
    };
    const get = kmsSigningSecret(counting, ciphertext, SIGNING_SECRET_CONTEXT);
    await assert.rejects(get(), /decrypting the URL-signing secret with KMS failed \(ThrottlingException\)/);
    const got = await Promise.all([get(), get(), get(), get()]);
    assert.ok(got.every((g) => g?.equals(secret) === true));
    assert.equal(await get(), got[0]);
    assert.equal(decrypts, 2, "one failed Decrypt, then exactly one for every later request");
  });

  test("a ciphertext bound to another encryption context is refused: the listing fails loudly, the public route too", async () => {
    const other = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(32), EncryptionContext: { purpose: "something-else" } }));
    const handler = await coldStart(Buffer.from(other.CiphertextBlob!).toString("base64"));
    const up = await handler(uploadEvent(await photo(), { contentType: "image/jpeg" }));
    const res = await handler(listEvent(responseJson<{ id: string }>(up).id));
    assert.deepEqual([res.statusCode, errorCode(res)], [500, "INTERNAL_ERROR"]);
    const line = printed.map((l) => JSON.parse(l) as { status: number; detail?: string }).findLast((l) => l.status === 500);
    assert.match(line?.detail ?? "", /decrypting the URL-signing secret with KMS failed \(InvalidCiphertextException\)/);
    const open = await handler(publicEvent(`https://${HOST}/${STAGE}/public/images/${responseJson<{ id: string }>(up).id}/thumbnail?expires=9999999999&sig=${"A".repeat(43)}`));
    assert.deepEqual([open.statusCode, errorCode(open)], [500, "INTERNAL_ERROR"]);
  });
});

describe("without a secret, or with public URLs off", () => {
  let moto: Moto;
  let s3: S3Client;
  before(async () => {
    moto = await startMoto();
    s3 = new S3Client(s3ClientConfig(moto));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await moto?.stop();
  });

  const cases: Array<[string, RuntimeSettings, boolean]> = [
    ["no signing secret", settings, false],
    ["publicUrls.enabled false", { ...settings, publicUrls: { ...settings.publicUrls, enabled: false } }, true],
  ];
  for (const [what, custom, withSecret] of cases) {
    test(`${what}: no publicUrl in the listing, and the public route answers 403 PUBLIC_URLS_DISABLED`, async () => {
      const secret = randomBytes(32);
      let asked = 0;
      const app = createApp({
        store: new ImageStore(s3, BUCKET),
        settings: custom,
        log: silent,
        ...(withSecret ? { signingSecret: () => ((asked += 1), Promise.resolve(secret)) } : {}),
      });
      const up = await app(uploadEvent(await photo(), { contentType: "image/jpeg" }));
      const id = responseJson<{ id: string }>(up).id;
      const list = responseJson<ListBody>(await app(listEvent(id)));
      assert.ok(list.variants.every((v) => !("publicUrl" in v)));
      const res = await app(publicEvent(signedUrl(secret, `https://${HOST}/${STAGE}`, id, "thumbnail", Math.floor(Date.now() / 1000) + 60)));
      assert.deepEqual([res.statusCode, errorCode(res)], [403, "PUBLIC_URLS_DISABLED"]);
      assert.equal(asked, 0, "the secret is not even fetched when public URLs are off");
    });
  }

  test("with sizes made on request, an upload's answer has no public URL, so it never asks KMS for the secret", async () => {
    let asked = 0;
    const app = createApp({ store: new ImageStore(s3, BUCKET), settings: { ...settings, sizesAt: "request" }, log: silent, signingSecret: () => ((asked += 1), Promise.resolve(randomBytes(32))) });
    const up = await app(uploadEvent(await photo(), { contentType: "image/jpeg" }));
    assert.equal(up.statusCode, 201, up.body);
    assert.equal(asked, 0, "POST /images decrypted the signing secret");
    await app(listEvent(responseJson<{ id: string }>(up).id));
    assert.equal(asked, 1, "the listing signs its public URLs");
  });

  test("a link used after its expiry (the clock moved on) answers 403 URL_EXPIRED", async () => {
    let now = Date.now();
    const secret = randomBytes(32);
    const keyed = createApp({ store: new ImageStore(s3, BUCKET), settings, log: silent, signingSecret: () => Promise.resolve(secret), now: () => now });
    const up = await keyed(uploadEvent(await photo(), { contentType: "image/jpeg" }));
    const url = responseJson<ListBody>(await keyed(listEvent(responseJson<{ id: string }>(up).id))).variants[0]!.publicUrl!;
    assert.equal((await keyed(publicEvent(url))).statusCode, 200);
    now += (settings.publicUrls.expiresSeconds - 1) * 1000;
    assert.equal((await keyed(publicEvent(url))).statusCode, 200, "still valid a second before expiry");
    now += 1000;
    const res = await keyed(publicEvent(url));
    assert.deepEqual([res.statusCode, errorCode(res)], [403, "URL_EXPIRED"]);
  });
});

describe("through the local server, over HTTP", () => {
  let dataDir: string;
  let server: LocalServer;
  const logs: string[] = [];
  const secret = randomBytes(32);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-signed-"));
    server = await startLocalServer({ port: 0, dataDir, log: (l) => logs.push(l), signingSecret: secret });
  });
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function listed(s: LocalServer, id: string): Promise<ListBody> {
    const res = await fetch(`${s.url}/images/${id}`, { headers: { "x-api-key": s.apiKey } });
    assert.equal(res.status, 200);
    return (await res.json()) as ListBody;
  }

  test("a signed URL works without a key, tampered or expired ones get 403, and a restart (a new secret) retires them", async () => {
    const up = await fetch(`${server.url}/images`, { method: "POST", body: await photo(), headers: { "x-api-key": server.apiKey, "Content-Type": "image/jpeg" } });
    const { id } = (await up.json()) as { id: string };
    const url = (await listed(server, id)).variants[0]!.publicUrl!;
    assert.ok(url.startsWith(`${server.url}/public/images/${id}/thumbnail?expires=`), url);

    const open = await fetch(url);
    assert.equal(open.status, 200);
    const meta = await sharp(Buffer.from(await open.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["webp", 150, 150]);
    assert.match(open.headers.get("cache-control") ?? "", /^public, max-age=\d+$/);

    for (const [what, tampered] of tamperings(url)) {
      const res = await fetch(tampered);
      assert.equal(res.status, 403, what);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "INVALID_SIGNATURE", what);
    }
    const late = await fetch(signedUrl(secret, server.url, id, "thumbnail", Math.floor(Date.now() / 1000) - 1));
    assert.deepEqual([late.status, ((await late.json()) as { error: { code: string } }).error.code], [403, "URL_EXPIRED"]);

    // A restart on the same data: a new random secret.
    await server.close();
    server = await startLocalServer({ port: 0, dataDir, log: (l) => logs.push(l) });
    const oldUrl = url.replace(/^http:\/\/127\.0\.0\.1:\d+/, server.url);
    assert.equal((await fetch(oldUrl)).status, 403);
    const newUrl = (await listed(server, id)).variants[0]!.publicUrl!;
    assert.equal((await fetch(newUrl)).status, 200);

    for (const form of secretForms(secret)) for (const line of logs) assert.ok(!line.includes(form), line);
  });
});
