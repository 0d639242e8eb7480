// The demo page's layout in headless Chromium (support/chromium.ts), at a
// desktop and a phone width: every size in a box of its own pixel size (or its
// column's width, with a note, when wider), the placeholder painted in that box
// until the bytes arrive, links and copy buttons, and retry after an error.
// Screenshots go to test/artifacts/browser/ (git-ignored); with
// UPDATE_DOCS_SCREENSHOT=1 the desktop one, optimised, also goes to docs/demo.png.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page, Route } from "playwright-core";
import sharp from "sharp";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { chromiumSkip, hasChromium, launchChromium } from "./support/chromium.ts";
import { FIXTURES_DIR } from "./support/fixtures.ts";

const ARTIFACTS = new URL("./artifacts/browser/", import.meta.url).pathname;
const DOCS_SCREENSHOT = new URL("../docs/demo.png", import.meta.url).pathname;
const WAIT_MS = 30_000;
// 2725x2225: thumbnail cropped to its box, medium and large keep the aspect ratio.
const PHOTO = join(FIXTURES_DIR, "valid/sharp_2569067123_aca715a2ee_o.jpg");
const SIZES: Record<string, [number, number]> = { thumbnail: [150, 150], medium: [800, 653], large: [1600, 1306] };
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
/** What the clipboard holds, read in the page (the tsconfig has no DOM lib: this is the page's navigator). */
const clipboardText = (page: Page) => page.evaluate("navigator.clipboard.readText()") as Promise<string>;
/** A size's own GET /images/{id}/{size}, not the listing nor the public URL. */
const SIZE_REQUEST = /\/images\/[0-9a-f-]{36}\/[a-z]+$/;

const skip = chromiumSkip();

interface Box {
  size: string;
  loading: boolean;
  placeholder: boolean;
  image: boolean;
  width: number;
  height: number;
  room: number;
  note: string;
}

/** Each size card's box as laid out: the frame (placeholder or image), the width its column leaves, its note. */
function boxes(page: Page): Promise<Box[]> {
  // Runs in the page. No named function inside: tsx's esbuild would wrap it in a __name() helper that exists only in Node.
  return page.locator("#sizes li").evaluateAll((items) =>
    items.map((li) => {
      const frame = li.querySelector(".frame")!.getBoundingClientRect();
      const note = li.querySelector(".fit-note")!;
      return {
        size: li.getAttribute("data-size") ?? "",
        loading: li.classList.contains("loading"),
        placeholder: li.querySelector(".frame canvas.placeholder") !== null,
        image: li.querySelector(".frame img") !== null,
        width: frame.width,
        height: frame.height,
        room: li.querySelector(".view")!.clientWidth,
        note: note.hasAttribute("hidden") ? "" : (note.textContent ?? ""),
      };
    }),
  );
}

/** Own size when it fits, else the column's width at the same aspect ratio with a note saying so. */
function assertLaidOut(shown: Box[], where: string): void {
  assert.deepEqual(shown.map((b) => b.size), Object.keys(SIZES), where);
  for (const b of shown) {
    const [width, height] = SIZES[b.size]!;
    if (width <= b.room) {
      assert.deepEqual([b.width, b.height], [width, height], `${where} ${b.size}: its own pixel size`);
      assert.equal(b.note, "", `${where} ${b.size}: no note when it fits`);
    } else {
      assert.equal(b.width, b.room, `${where} ${b.size}: the column's width`);
      assert.ok(Math.abs(b.height - (b.room * height) / width) < 1, `${where} ${b.size}: its aspect ratio (${b.width}x${b.height})`);
      assert.equal(b.note, `Scaled to ${Math.floor((b.room / width) * 100)}% to fit: the image is ${width} px wide. Show at actual size`, `${where} ${b.size}`);
    }
  }
}

describe("the demo page's sizes, placeholders and retry in headless Chromium", { skip: hasChromium ? false : skip || "no Chromium: see browser.test.ts" }, () => {
  let browser: Browser;
  let api: LocalServer;
  let dataDir: string;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-browser-demo-"));
    api = await startLocalServer({ port: 0, dataDir, settings: settingsFromEnv({}), log: () => {} });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await api?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function openPage(viewport: { width: number; height: number }, colorScheme: "light" | "dark" = "light"): Promise<Page> {
    const context = await browser.newContext({ viewport, colorScheme, permissions: ["clipboard-read", "clipboard-write"] });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(api.demoUrl);
    await page.locator('main[data-state="ready"]').waitFor();
    return page;
  }

  async function pick(page: Page): Promise<void> {
    await page.getByLabel("Pick an image, or drop one here").setInputFiles(PHOTO);
  }

  async function settled(page: Page): Promise<string> {
    await page.locator('main[data-state="done"], main[data-state="error"]').waitFor();
    return (await page.locator("main").getAttribute("data-state"))!;
  }

  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    test(`${name} (${viewport.width}x${viewport.height}): the placeholder while each size loads, then each size at its own size`, async () => {
      // The phone in dark mode, so that the screenshots show both schemes.
      const scheme = name === "phone" ? "dark" : "light";
      const page = await openPage(viewport, scheme);
      assert.equal(await page.locator("body").evaluate((b) => b.ownerDocument.defaultView!.getComputedStyle(b).backgroundColor), scheme === "dark" ? "rgb(18, 20, 24)" : "rgb(246, 247, 249)");
      // The sizes' bytes are held back until the placeholders have been seen.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      await page.route(SIZE_REQUEST, async (route: Route) => {
        await released;
        await route.continue();
      });
      await pick(page);
      await page.locator("#sizes li.loading canvas.placeholder").nth(2).waitFor();
      const loading = await boxes(page);
      assert.ok(loading.every((b) => b.loading && b.placeholder && !b.image), JSON.stringify(loading));
      assertLaidOut(loading, `${name}, loading`);
      await page.screenshot({ path: join(ARTIFACTS, `demo-${name}-loading.png`), fullPage: true });

      release();
      assert.equal(await settled(page), "done", await page.locator("#error").innerText());
      const shown = await boxes(page);
      assert.ok(shown.every((b) => !b.loading && !b.placeholder && b.image), JSON.stringify(shown));
      assertLaidOut(shown, name);
      // Same aspect ratio, four times the pixels: a wider box, or where both are scaled to the column, another scale.
      const [medium, large] = [shown[1]!, shown[2]!];
      assert.ok(medium.width !== large.width || medium.note !== large.note, `${name}: medium and large look different`);
      console.log(`${name}: ${shown.map((b) => `${b.size} ${b.width}x${b.height.toFixed(1)} (column ${b.room})${b.note === "" ? "" : " scaled"}`).join(", ")}`);
      const shot = await page.screenshot({ path: join(ARTIFACTS, `demo-${name}.png`), fullPage: true });

      // The original's facts, and no image of it: the API does not serve it.
      assert.match(await page.locator("#original").innerText(), /jpeg 2725 × 2225, 809\.7 KB \(829,183 bytes\), id [0-9a-f-]{36}$/);
      assert.match(await page.locator("#original-section").innerText(), /never serves it back/);
      assert.equal(await page.locator("#original-section img").count(), 0);
      // Every image says which size it is and how big.
      assert.deepEqual(await page.locator("#sizes img").evaluateAll((imgs) => imgs.map((i) => i.getAttribute("alt"))), Object.entries(SIZES).map(([s, [w, h]]) => `${s}, ${w} × ${h}`));

      if (name === "desktop") {
        // The README's picture: the page down to the end of the first row of sizes, at 960 px, in 64 colours.
        const medium = (await page.locator('#sizes li[data-size="medium"]').boundingBox())!;
        const bottom = Math.ceil(medium.y + medium.height + ((await page.evaluate("window.scrollY")) as number)) + 16;
        const top = await sharp(shot).extract({ left: 0, top: 0, width: viewport.width, height: bottom }).toBuffer();
        const png = await sharp(top).resize({ width: 960 }).png({ palette: true, quality: 60, colours: 64, dither: 0.8, compressionLevel: 9, effort: 10 }).toBuffer();
        writeFileSync(join(ARTIFACTS, "demo-readme.png"), png);
        assert.ok(png.length < 200 * 1024, `the README's screenshot is ${png.length} bytes`);
        if (process.env.UPDATE_DOCS_SCREENSHOT === "1") writeFileSync(DOCS_SCREENSHOT, png);
      }

      // The large size at its real size: the box scrolls sideways instead.
      const largeCard = page.locator('#sizes li[data-size="large"]');
      await largeCard.getByRole("button", { name: "Show at actual size" }).click();
      const [, , real] = await boxes(page);
      assert.deepEqual([real!.width, real!.height], SIZES.large, `${name}: large at actual size`);
      assert.match(real!.note, /^Actual size, 1600 px wide: scroll sideways/);
      assert.ok(await largeCard.locator(".view").evaluate((v) => v.scrollWidth > v.clientWidth), "the box scrolls");
      await page.context().close();
    });
  }

  test("the public URL opens with no key, and its copy button and curl command carry it", async () => {
    const page = await openPage(VIEWPORTS.desktop);
    await pick(page);
    assert.equal(await settled(page), "done");
    const card = page.locator('#sizes li[data-size="medium"]');
    const url = (await card.getByRole("link").getAttribute("href"))!;
    assert.match(url, /\/public\/images\/[0-9a-f-]{36}\/medium\?/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/webp");

    const [copyUrl, copyCurl] = [card.locator(".links dt").nth(0).getByRole("button"), card.locator(".links dt").nth(1).getByRole("button")];
    assert.equal(await copyUrl.innerText(), "Copy URL");
    await copyUrl.click();
    await copyUrl.filter({ hasText: "Copied" }).waitFor();
    assert.equal(await clipboardText(page), url);
    const curl = `curl -o medium.webp '${url}'`;
    assert.equal(await card.locator("code").innerText(), curl);
    assert.equal(await copyCurl.innerText(), "Copy command");
    await copyCurl.click();
    await copyCurl.filter({ hasText: "Copied" }).waitFor();
    assert.equal(await clipboardText(page), curl);
    await page.context().close();
  });

  test("after an error, the same file picked again, or Try again, uploads it", async () => {
    const page = await openPage(VIEWPORTS.phone);
    // The first upload fails as a busy API would answer; later ones go through.
    let failures = 0;
    await page.route(/\/images\?name=/, async (route: Route) => {
      if (failures++ > 0) return route.continue();
      await route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "SERVICE_UNAVAILABLE", message: "Try again in a moment." } }) });
    });
    await pick(page);
    assert.equal(await settled(page), "error");
    assert.equal(await page.locator("#error").innerText(), "503 SERVICE_UNAVAILABLE: Try again in a moment.");
    await page.screenshot({ path: join(ARTIFACTS, "demo-phone-error.png"), fullPage: true });
    // An input that kept the file's name would fire no change for the same file.
    assert.equal(await page.getByLabel("Pick an image, or drop one here").inputValue(), "");

    await pick(page);
    assert.equal(await settled(page), "done", await page.locator("#error").innerText());
    assert.equal(await page.locator("#sizes img").count(), 3);

    // Try again: the last file once more, with no picking.
    failures = 0;
    await pick(page);
    assert.equal(await settled(page), "error");
    await page.getByRole("button", { name: "Try again" }).click();
    assert.equal(await settled(page), "done", await page.locator("#error").innerText());
    assert.equal(failures, 2, "the retry sent the upload again");
    assert.equal(await page.locator("#sizes img").count(), 3);
    assert.equal(await page.locator("#error-box").isVisible(), false);
    await page.context().close();
  });
});
