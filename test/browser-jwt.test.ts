// The demo page against an API in jwt mode, in headless Chromium (as
// browser.test.ts): it signs in at the dev issuer with authorization code +
// PKCE, or takes a pasted token, and then sends Authorization: Bearer; the
// API's 401 shows in the page; a sign-in answer whose state this tab did not
// send is refused before any token exchange. Screenshots go to
// test/artifacts/browser/ (git-ignored).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { Browser, Page, Request } from "playwright-core";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { startDemoServer, type DemoServer } from "../local/demo-server.ts";
import { startDevIssuer, type DevIssuer } from "../local/dev-issuer.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { chromiumSkip, hasChromium, launchChromium } from "./support/chromium.ts";
import { FIXTURES_DIR } from "./support/fixtures.ts";

const ARTIFACTS = new URL("./artifacts/browser/", import.meta.url).pathname;
const WAIT_MS = 30_000;
const AUDIENCE = "imgapi-demo";

// As in browser.test.ts: the photo is 2725x2225 (thumbnail cropped, the others
// keep its aspect ratio); the 400x267 concert is never enlarged.
const PHOTO = join(FIXTURES_DIR, "valid/sharp_2569067123_aca715a2ee_o.jpg");
const PHOTO_SIZES = { thumbnail: [150, 150], medium: [800, 653], large: [1600, 1306] };
const CONCERT = join(FIXTURES_DIR, "valid/sharp_concert.jpg");
const CONCERT_SIZES = { thumbnail: [150, 150], medium: [400, 267], large: [400, 267] };
const SMALL = join(FIXTURES_DIR, "valid/pngsuite_basn2c08.png");
const UNAUTHORIZED = "401 UNAUTHORIZED: Unauthorized. The bearer token is missing, expired or not for this API: sign in again, or paste another token.";

const skip = chromiumSkip();

describe("the demo page against an API in jwt mode, in headless Chromium", { skip: hasChromium ? false : skip || "no Chromium: see browser.test.ts" }, () => {
  let browser: Browser;
  let issuer: DevIssuer;
  let api: LocalServer;
  let dataDir: string;
  /** The page alone on another origin, set up for nothing: a person types the API and pastes a token. */
  let elsewhere: DemoServer;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    issuer = await startDevIssuer({ audience: AUDIENCE });
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-browser-jwt-"));
    api = await startLocalServer({ port: 0, dataDir, settings: settingsFromEnv({}), auth: "jwt", jwt: { issuer: issuer.issuer, audience: AUDIENCE }, log: () => {} });
    elsewhere = await startDemoServer({ port: 0, apiUrl: "", apiKey: "" });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await elsewhere?.close();
    await api?.close();
    await issuer?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function openPage(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(url);
    await settled(page);
    return page;
  }

  /** Waits until the page has finished starting (or refused a sign-in) and returns its state. */
  async function settled(page: Page): Promise<string> {
    await page.locator('main[data-state="ready"], main[data-state="error"]').waitFor();
    return (await page.locator("main").getAttribute("data-state"))!;
  }

  async function pick(page: Page, file: string): Promise<"done" | "error"> {
    await page.getByLabel("Pick an image, or drop one here").setInputFiles(file);
    await page.locator('main[data-state="done"], main[data-state="error"]').waitFor();
    return (await page.locator("main").getAttribute("data-state")) as "done" | "error";
  }

  const errorShown = async (page: Page) => ((await page.locator("#error").isVisible()) ? await page.locator("#error").innerText() : "");

  /** What the page shows of each size: its stated dimensions and the image the browser decoded. */
  function shownSizes(page: Page): Promise<[string, number, number, number, number][]> {
    return page.locator("#sizes li").evaluateAll((items) =>
      items.map((li) => {
        const img = li.querySelector("img")!;
        return [li.getAttribute("data-size")!, Number(li.getAttribute("data-width")), Number(li.getAttribute("data-height")), img.naturalWidth, img.naturalHeight] as [string, number, number, number, number];
      }),
    );
  }

  function assertSizes(shown: [string, number, number, number, number][], expected: Record<string, number[]>): void {
    assert.deepEqual(shown, Object.entries(expected).map(([size, [w, h]]) => [size, w, h, w, h]));
  }

  /** Requests the page sends, by where they go. */
  function recordRequests(page: Page): Request[] {
    const seen: Request[] = [];
    page.on("request", (r) => void seen.push(r));
    return seen;
  }

  const tokenEndpointCalls = (seen: Request[]) => seen.filter((r) => r.url().startsWith(`${issuer.issuer}/token`));
  // A string: the project's types have no DOM library.
  const storage = (page: Page) => page.evaluate<{ session: string[]; local: string[]; cookies: string }>("({ session: Object.keys(sessionStorage), local: Object.keys(localStorage), cookies: document.cookie })");

  async function originals(): Promise<number> {
    const listed = await api.s3.client.send(new ListObjectsV2Command({ Bucket: api.bucket, Prefix: "originals/" }));
    return listed.KeyCount ?? 0;
  }

  /** Clicks Sign in, and at the dev issuer's form types the name (after `tamper`, if given) and signs in. */
  async function signInAtIssuer(page: Page, name: string, tamper?: (page: Page) => Promise<void>): Promise<void> {
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.origin === issuer.issuer && url.pathname === "/authorize");
    await tamper?.(page);
    await page.getByLabel("User name").fill(name);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.href.startsWith(api.demoUrl));
  }

  test("npm start's page signs in at the dev issuer (PKCE), then uploads with the bearer token and shows every size", async () => {
    const page = await openPage(api.demoUrl);
    const seen = recordRequests(page);
    assert.equal(await page.getByLabel("Issuer URL").inputValue(), issuer.issuer, "prefilled by the server");
    assert.equal(await page.getByLabel("Client id").inputValue(), AUDIENCE);
    assert.match(await page.locator("#notice").innerText(), /--auth jwt/);
    assert.equal(await page.getByLabel(/API key/).isVisible(), false, "no key field in jwt mode");

    await signInAtIssuer(page, "alice");
    assert.equal(await settled(page), "ready", await errorShown(page));
    await page.locator('#who[data-sub="alice"]').waitFor();
    assert.match(await page.locator("#who").innerText(), /^Signed in as alice \(signed in at http:\/\/127\.0\.0\.1:\d+, expires /);
    const authorize = new URL(seen.find((r) => r.url().startsWith(`${issuer.issuer}/authorize?`))!.url());
    assert.deepEqual([authorize.searchParams.get("code_challenge_method"), authorize.searchParams.get("code_challenge")?.length], ["S256", 43]);
    assert.equal(tokenEndpointCalls(seen).length, 1, "one code exchange");
    assert.equal(new URL(page.url()).search, "", "code and state are gone from the address bar");
    assert.deepEqual(await storage(page), { session: ["imgapi-demo.token"], local: [], cookies: "" }, "the token in sessionStorage only; the pending sign-in consumed");

    const state = await pick(page, PHOTO);
    await page.screenshot({ path: join(ARTIFACTS, "demo-jwt-signed-in.png"), fullPage: true });
    assert.equal(state, "done", await errorShown(page));
    assertSizes(await shownSizes(page), PHOTO_SIZES);
    const apiCalls = seen.filter((r) => r.url().startsWith(`${api.url}/images`));
    assert.ok(apiCalls.length >= 5, "upload, listing and three sizes");
    for (const r of apiCalls) {
      const headers = await r.allHeaders();
      assert.match(headers["authorization"] ?? "", /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, r.url());
      assert.equal(headers["x-api-key"], undefined, r.url());
    }
    // The image is alice's: the token the page got names her, and nobody else sees it.
    const id = /id ([0-9a-f-]{36})/.exec(await page.locator("#original").innerText())![1]!;
    const as = async (sub: string) => (await fetch(`${api.url}/images/${id}`, { headers: { Authorization: `Bearer ${await issuer.mint({ sub })}` } })).status;
    assert.deepEqual([await as("alice"), await as("bob")], [200, 404]);
    await page.close();
  });

  test("a pasted token works the same from a page on another origin (?auth=jwt), and signing out stops sending it", async () => {
    const page = await openPage(`${elsewhere.pageUrl}?auth=jwt`);
    const seen = recordRequests(page);
    await page.getByLabel("Base URL").fill(api.url);
    await page.getByLabel("Token").fill(`Bearer ${await issuer.mint({ sub: "carol" })}`);
    await page.locator('#who[data-sub="carol"]').waitFor();
    assert.match(await page.locator("#who").innerText(), /^Signed in as carol \(pasted token, expires /);

    const state = await pick(page, CONCERT);
    await page.screenshot({ path: join(ARTIFACTS, "demo-jwt-pasted.png"), fullPage: true });
    assert.equal(state, "done", await errorShown(page));
    assertSizes(await shownSizes(page), CONCERT_SIZES);
    const upload = seen.find((r) => r.method() === "POST" && r.url().startsWith(`${api.url}/images`))!;
    assert.equal((await upload.allHeaders())["origin"], elsewhere.url, "cross-origin: the API's CORS allowed the Authorization header");

    await page.getByRole("button", { name: "Sign out" }).click();
    assert.equal(await page.getByLabel("Token").inputValue(), "");
    assert.deepEqual((await storage(page)).session, [], "the token is forgotten");
    // Another file: picking the same one again fires no change event.
    assert.equal(await pick(page, SMALL), "error");
    assert.equal(await errorShown(page), UNAUTHORIZED);
    const last = seen.filter((r) => r.method() === "POST" && r.url().startsWith(`${api.url}/images`)).at(-1)!;
    assert.equal((await last.allHeaders())["authorization"], undefined, "no token sent after signing out");
    await page.close();
  });

  test("a garbage or an expired token: the API's 401 UNAUTHORIZED shows in the page's error area, nothing is stored", async () => {
    const now = Math.floor(Date.now() / 1000);
    const before = await originals();
    for (const [name, token] of [
      ["garbage", "not-a-token"],
      ["expired", await issuer.mint({ sub: "dave", iat: now - 7200, exp: now - 120 })],
    ] as const) {
      const page = await openPage(api.demoUrl);
      const seen = recordRequests(page);
      await page.getByLabel("Token").fill(token);
      await page.locator("#who").filter({ hasText: name === "expired" ? /^Signed in as dave \(pasted token, expired / : /not a JWT this page can read/ }).waitFor();
      const state = await pick(page, CONCERT);
      await page.screenshot({ path: join(ARTIFACTS, `demo-jwt-${name}.png`), fullPage: true });
      assert.equal(state, "error", name);
      assert.equal(await errorShown(page), UNAUTHORIZED, name);
      const upload = seen.find((r) => r.method() === "POST" && r.url().startsWith(`${api.url}/images`))!;
      assert.equal((await upload.allHeaders())["authorization"], `Bearer ${token}`, `${name}: that token is what the API refused`);
      assert.equal(await page.locator("#error").getAttribute("role"), "alert");
      assert.equal(await page.locator("#sizes li").count(), 0, name);
      await page.close();
    }
    assert.equal(await originals(), before, "nothing stored");
  });

  test("a sign-in answer with a tampered state, or one this tab never asked for, is refused before any token exchange", async () => {
    const page = await openPage(api.demoUrl);
    const seen = recordRequests(page);
    await signInAtIssuer(page, "mallory", (p) => p.locator('input[name="state"]').evaluate((input) => void ((input as unknown as { value: string }).value = "tampered-state")));
    const returned = new URL(seen.find((r) => r.isNavigationRequest() && r.url().startsWith(`${api.demoUrl}?`))!.url());
    assert.equal(returned.searchParams.get("state"), "tampered-state", "the issuer echoed the tampered state");
    assert.ok(returned.searchParams.has("code"));

    assert.equal(await settled(page), "error");
    await page.screenshot({ path: join(ARTIFACTS, "demo-jwt-state-refused.png"), fullPage: true });
    assert.match(await errorShown(page), /^Sign-in refused: the state in the answer does not match the one this tab sent.+Nothing was exchanged/);
    assert.deepEqual(tokenEndpointCalls(seen), [], "no token exchange");
    assert.deepEqual((await storage(page)).session, [], "no token, and the pending sign-in is consumed");
    assert.equal(new URL(page.url()).search, "", "the code is gone from the address bar");
    assert.match(await page.locator("#who").innerText(), /^Not signed in/);
    await page.close();

    // A link carrying a code and a state, opened in a tab that started no sign-in (login CSRF).
    const forged = await openPage(`${api.demoUrl}?code=stolen-code&state=any`);
    assert.match(await errorShown(forged), /^Sign-in refused: this page got a sign-in answer, but this tab started no sign-in/);
    await forged.close();
  });
});
