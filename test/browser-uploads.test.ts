// A large upload from a real browser: headless Chromium opens a page on one
// origin, asks the API (npm start's server) for a presigned URL and PUTs the
// photo straight to the local S3, which enforces the images bucket's CORS
// rule (config/bucket-cors.ts) as S3 does. From an origin the rule does not
// list, the browser blocks the same PUT after S3 refuses its preflight.
import { originalKey, uploadKey } from "../function/storage/key-layout.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { DEFAULT_SIZES, SETTINGS_ENV, settingsFromEnv } from "../config/runtime-env.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { chromiumSkip, hasChromium, launchChromium } from "./support/chromium.ts";
import { FIXTURES_DIR } from "./support/fixtures.ts";

const PHOTO = readFileSync(join(FIXTURES_DIR, "valid/sharp_concert.jpg"));
const skip = chromiumSkip();

interface PageServer {
  origin: string;
  server: Server;
}

/** An empty page on 127.0.0.1 and a port of its own: an origin of its own. */
async function startPage(): Promise<PageServer> {
  const server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end("<!doctype html><title>uploader</title>"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Runs in the page: the bytes PUT with the headers POST /uploads gave; what the page could read of the answer, or the error. */
function putFromPage(page: Page, url: string, headers: Record<string, string>): Promise<{ status?: number; etag?: string | null; error?: string }> {
  return page.evaluate(
    async ({ url, headers, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      try {
        const res = await fetch(url, { method: "PUT", headers, body: new Blob([bytes]) });
        return { status: res.status, etag: res.headers.get("ETag") };
      } catch (e) {
        return { error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { url, headers, base64: PHOTO.toString("base64") },
  );
}

describe("a browser uploads through the presigned URL, as the bucket's CORS rule allows", { skip: hasChromium ? false : skip || "no Chromium" }, () => {
  let allowed: PageServer;
  let other: PageServer;
  let dataDir: string;
  let api: LocalServer;
  let browser: Browser;

  before(async () => {
    [allowed, other] = await Promise.all([startPage(), startPage()]);
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-browser-uploads-"));
    // cors.origins lists the allowed page only: the API and its bucket both follow it.
    const settings = settingsFromEnv({ [SETTINGS_ENV]: JSON.stringify({ sizes: DEFAULT_SIZES, cors: { origins: [allowed.origin] } }) });
    api = await startLocalServer({ port: 0, dataDir, settings, log: () => {} });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await api?.close();
    for (const page of [allowed, other]) page?.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function presign(): Promise<{ id: string; upload: { url: string; headers: Record<string, string> } }> {
    const res = await fetch(`${api.url}/uploads`, {
      method: "POST",
      headers: { "x-api-key": api.apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ contentType: "image/jpeg", contentLength: PHOTO.length, name: "concert.jpg" }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as { id: string; upload: { url: string; headers: Record<string, string> } };
  }

  test("from the allowed origin: POST /uploads, then the PUT to the local S3 succeeds, and the API resizes the photo", async () => {
    const page = await browser.newPage();
    await page.goto(allowed.origin);
    // Both calls from the page: the API's CORS, then the bucket's.
    const answer = await page.evaluate(
      async ({ api, key, length }) => {
        const res = await fetch(`${api}/uploads`, { method: "POST", headers: { "x-api-key": key, "Content-Type": "application/json" }, body: JSON.stringify({ contentType: "image/jpeg", contentLength: length }) });
        return (await res.json()) as { id: string; upload: { url: string; headers: Record<string, string> } };
      },
      { api: api.url, key: api.apiKey, length: PHOTO.length },
    );
    const put = await putFromPage(page, answer.upload.url, answer.upload.headers);
    await page.close();

    assert.deepEqual(put, { status: 200, etag: `"${createHash("md5").update(PHOTO).digest("hex")}"` }, "the ETag is exposed to the page");
    const uploaded = await api.s3.client.send(new GetObjectCommand({ Bucket: api.bucket, Key: uploadKey(answer.id) }));
    assert.deepEqual(Buffer.from(await uploaded.Body!.transformToByteArray()), PHOTO, "the upload waits, unchecked, under uploads/");
    const thumbnail = await fetch(`${api.url}/images/${answer.id}/thumbnail`, { headers: { "x-api-key": api.apiKey } });
    const meta = await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata();
    assert.deepEqual([thumbnail.status, meta.format, meta.width, meta.height], [200, "webp", 150, 150]);
    const stored = await api.s3.client.send(new GetObjectCommand({ Bucket: api.bucket, Key: originalKey(answer.id) }));
    assert.deepEqual(Buffer.from(await stored.Body!.transformToByteArray()), PHOTO, "checked, it moved to originals/");
  });

  test("from an origin the rule does not list, the browser blocks the PUT (the preflight is refused); the URL itself is good", async () => {
    const { id, upload } = await presign();
    const page = await browser.newPage();
    const console: string[] = [];
    page.on("console", (m) => console.push(m.text()));
    await page.goto(other.origin);
    const put = await putFromPage(page, upload.url, upload.headers);
    await page.close();

    assert.deepEqual(put, { error: "TypeError: Failed to fetch" });
    assert.ok(console.some((line) => line.includes("blocked by CORS policy")), console.join("\n"));
    const absent = await api.s3.client.send(new HeadObjectCommand({ Bucket: api.bucket, Key: uploadKey(id) })).then(
      () => "stored",
      (e: Error) => e.name,
    );
    assert.equal(absent, "NotFound", "nothing reached the bucket");
    const direct = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: PHOTO });
    assert.equal(direct.status, 200, "outside a browser, with no CORS, the same URL works");
  });
});
