// The demo page in a real browser: headless Chromium (Debian's package, driven
// by playwright-core, support/chromium.ts) loads the page from one origin, and
// the page talks to the local API on another through CORS, as a page would to
// a deployed API. Screenshots go to test/artifacts/browser/ (git-ignored).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { Browser, Page, Request } from "playwright-core";
import { settingsFromEnv, SETTINGS_ENV, DEFAULT_SIZES } from "../config/runtime-env.ts";
import type { RuntimeSettings } from "../config/schema.ts";
import { startDemoServer, type DemoServer } from "../local/demo-server.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { CHROMIUM, chromiumSkip, hasChromium, launchChromium } from "./support/chromium.ts";
import { FIXTURES_DIR } from "./support/fixtures.ts";

const ARTIFACTS = new URL("./artifacts/browser/", import.meta.url).pathname;
const WAIT_MS = 30_000;

// The photo is 2725x2225: thumbnail is cropped to its box, medium and large keep
// the aspect ratio (800x653.2 and 1600x1306.4). The concert is 400x267: sizes
// wider than it shrink to it, never enlarged.
const PHOTO = join(FIXTURES_DIR, "valid/sharp_2569067123_aca715a2ee_o.jpg");
const PHOTO_SIZES = { thumbnail: [150, 150], medium: [800, 653], large: [1600, 1306] };
const CONCERT = join(FIXTURES_DIR, "valid/sharp_concert.jpg");
const CONCERT_SIZES = { thumbnail: [150, 150], medium: [400, 267], large: [400, 267] };

const skip = chromiumSkip();

interface Shown {
  size: string;
  width: number;
  height: number;
  bytes: number;
  naturalWidth: number;
  naturalHeight: number;
  caption: string;
}

interface Api {
  server: LocalServer;
  dataDir: string;
  logs: { route?: string; status?: number }[];
}

async function startApi(settings: RuntimeSettings): Promise<Api> {
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-browser-"));
  const logs: Api["logs"] = [];
  const server = await startLocalServer({ port: 0, dataDir, settings, log: (line) => logs.push(JSON.parse(line) as Api["logs"][number]) });
  return { server, dataDir, logs };
}

async function stopApi(api: Api | undefined): Promise<void> {
  if (api === undefined) return;
  await api.server.close();
  rmSync(api.dataDir, { recursive: true, force: true });
}

async function originals(api: Api): Promise<number> {
  const listed = await api.server.s3.client.send(new ListObjectsV2Command({ Bucket: api.server.bucket, Prefix: "originals/" }));
  return listed.KeyCount ?? 0;
}

/** Picks the file with the page's file input and waits until the page says it is done or failed. */
async function pick(page: Page, file: string): Promise<"done" | "error"> {
  await page.getByLabel("Pick an image, or drop one here").setInputFiles(file);
  await page.locator('main[data-state="done"], main[data-state="error"]').waitFor({ timeout: WAIT_MS });
  return (await page.locator("main").getAttribute("data-state")) as "done" | "error";
}

async function errorShown(page: Page): Promise<string> {
  return (await page.locator("#error").isVisible()) ? await page.locator("#error").innerText() : "";
}

function shownSizes(page: Page): Promise<Shown[]> {
  // Runs in the page. No named function inside: tsx's esbuild would wrap it in
  // a __name() helper that exists only in Node.
  return page.locator("#sizes li").evaluateAll((items) =>
    items.map((li) => {
      const img = li.querySelector("img")!;
      return {
        size: li.getAttribute("data-size") ?? "",
        width: Number(li.getAttribute("data-width")),
        height: Number(li.getAttribute("data-height")),
        bytes: Number(li.getAttribute("data-bytes")),
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
        caption: li.querySelector("figcaption")!.textContent!,
      };
    }),
  );
}

function assertSizes(shown: Shown[], expected: Record<string, number[]>): void {
  assert.deepEqual(shown.map((s) => s.size), Object.keys(expected), "every configured size, in the config's order");
  for (const s of shown) {
    const [width, height] = expected[s.size]!;
    assert.deepEqual([s.width, s.height], [width, height], `${s.size}: the dimensions the page states`);
    assert.deepEqual([s.naturalWidth, s.naturalHeight], [width, height], `${s.size}: the image the browser decoded`);
    assert.ok(s.caption.includes(`${width} × ${height}`), `${s.size}'s caption: ${s.caption}`);
    assert.match(s.caption, /\d bytes\)? · webp$/, `${s.size}'s caption states its bytes and format: ${s.caption}`);
    assert.ok(s.bytes > 0, `${s.size}: bytes received`);
  }
}

// In CI a missing Chromium is a failure, never a skip.
test("Chromium is there for the browser tests", { skip }, () => {
  assert.ok(hasChromium, `Chromium is not at ${CHROMIUM} and CI is set: .ci/run installs Debian's chromium package when run as root.`);
});

describe("the demo page in headless Chromium", { skip: hasChromium ? false : (skip || "no Chromium: see the failing test above") }, () => {
  const settings = settingsFromEnv({});
  let browser: Browser;
  let api: Api;
  let demo: DemoServer;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    api = await startApi(settings);
    demo = await startDemoServer({ port: 0, apiUrl: api.server.url, apiKey: api.server.apiKey });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
    await stopApi(api);
  });

  async function openPage(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(url);
    await page.locator('main[data-state="ready"]').waitFor();
    return page;
  }

  test("served from another origin, it uploads a photo through CORS and shows every size with its dimensions", async () => {
    assert.deepEqual(Object.keys(settings.sizes), Object.keys(PHOTO_SIZES), "the sizes this test expects are the configured ones");
    assert.notEqual(new URL(demo.url).origin, new URL(api.server.url).origin);
    const page = await openPage(demo.pageUrl);
    const apiRequests: Request[] = [];
    page.on("request", (r) => {
      if (r.url().startsWith(api.server.url)) apiRequests.push(r);
    });
    // Labelled inputs, prefilled by the server that served the page.
    assert.equal(await page.getByLabel("Base URL").inputValue(), api.server.url);
    assert.equal(await page.getByLabel(/API key/).inputValue(), api.server.apiKey);

    const state = await pick(page, PHOTO);
    await page.screenshot({ path: join(ARTIFACTS, "demo-sizes.png"), fullPage: true });
    assert.equal(state, "done", await errorShown(page));
    const shown = await shownSizes(page);
    assertSizes(shown, PHOTO_SIZES);
    assert.match(await page.locator("#original").innerText(), /jpeg 2725 × 2225, 809\.7 KB \(829,183 bytes\)/);

    // The bytes the page shows are those the API lists for each size.
    const id = /id ([0-9a-f-]{36})/.exec(await page.locator("#original").innerText())![1]!;
    const listed = (await (await fetch(`${api.server.url}/images/${id}`, { headers: { "x-api-key": api.server.apiKey } })).json()) as { variants: { size: string; bytes: number }[] };
    assert.deepEqual(shown.map((s) => [s.size, s.bytes]), listed.variants.map((v) => [v.size, v.bytes]));

    // Cross-origin for real: every call carried the page's Origin, and the
    // browser asked the API's leave first (preflights reach the function).
    assert.deepEqual([...new Set(apiRequests.map((r) => r.method()))].sort(), ["GET", "POST"]);
    for (const r of apiRequests) assert.equal((await r.allHeaders())["origin"], demo.url, `${r.method()} ${r.url()}`);
    assert.ok(api.logs.some((l) => l.route === "OPTIONS" && l.status === 204), "a CORS preflight reached the API");
    await page.close();
  });

  test("a wrong key is reported with API Gateway's message, not swallowed", async () => {
    const page = await openPage(demo.pageUrl);
    const before = await originals(api);
    await page.getByLabel(/API key/).fill("not-the-key");

    const state = await pick(page, PHOTO);
    await page.screenshot({ path: join(ARTIFACTS, "demo-forbidden.png"), fullPage: true });
    assert.equal(state, "error");
    assert.equal(await errorShown(page), "403 INVALID_API_KEY: Missing or invalid API key: send your key in the x-api-key header. Check the API key above.");
    assert.equal(await page.locator("#error").getAttribute("role"), "alert");
    assert.equal(await page.locator("#sizes li").count(), 0);
    assert.equal(await originals(api), before, "nothing stored");
    await page.close();
  });

  test("an error of the function is shown with its code and message", async () => {
    const page = await openPage(demo.pageUrl);
    const state = await pick(page, join(FIXTURES_DIR, "invalid/libjpeg-turbo_vgl_6434_0018a.bmp"));
    assert.equal(state, "error");
    assert.match(await errorShown(page), /^415 UNSUPPORTED_IMAGE_TYPE: .+/);
    await page.close();
  });

  test("an API that does not allow the page's origin: the browser blocks it and the page says what to check", async () => {
    const strict = await startApi(settingsFromEnv({ [SETTINGS_ENV]: JSON.stringify({ sizes: DEFAULT_SIZES, cors: { origins: ["https://app.example"] } }) }));
    const notice = "This API allows https://app.example only.";
    const elsewhere = await startDemoServer({ port: 0, apiUrl: strict.server.url, apiKey: strict.server.apiKey, notice });
    try {
      const page = await openPage(elsewhere.pageUrl);
      assert.equal(await page.locator("#notice").innerText(), notice, "the server's notice is shown");
      const state = await pick(page, CONCERT);
      assert.equal(state, "error");
      const message = await errorShown(page);
      assert.ok(message.startsWith(`Could not reach ${strict.server.url}`), message);
      assert.ok(message.includes(`(${elsewhere.url}) in cors.origins`), message);
      await page.close();
    } finally {
      await elsewhere.close();
      await stopApi(strict);
    }
  });

  test("served by the API's own server (npm start), it works with no setup; small images are not enlarged", async () => {
    const page = await openPage(api.server.demoUrl);
    assert.equal(await page.getByLabel("Base URL").inputValue(), "");
    const state = await pick(page, CONCERT);
    assert.equal(state, "done", await errorShown(page));
    assertSizes(await shownSizes(page), CONCERT_SIZES);
    await page.close();
  });
});
