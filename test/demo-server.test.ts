// The demo page's server (local/demo-server.ts) over plain HTTP: what it
// serves, to whom, with which headers; the page itself runs in browser.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startLocalServer, type LocalServer } from "../local/server.ts";

interface Api {
  server: LocalServer;
  dataDir: string;
}

async function startApi(): Promise<Api> {
  const dataDir = mkdtempSync(join(tmpdir(), "imgapi-demo-"));
  return { server: await startLocalServer({ port: 0, dataDir, log: () => {} }), dataDir };
}

async function stopApi(api: Api | undefined): Promise<void> {
  if (api === undefined) return;
  await api.server.close();
  rmSync(api.dataDir, { recursive: true, force: true });
}

/** A GET sent as is: fetch would resolve "..", and it refuses to set Host. */
function rawStatus(base: string, path: string, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = request({ hostname, port, path, headers: host === undefined ? {} : { Host: host } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the demo page's server", () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => stopApi(api));

  test("npm start's server answers /demo/ with its key filled in, never cached; / stays API Gateway's 403", async () => {
    const res = await fetch(api.server.demoUrl);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
    assert.equal(res.headers.get("access-control-allow-origin"), null, "no other origin may read the page");
    assert.ok(html.includes(JSON.stringify({ apiUrl: "", apiKey: api.server.apiKey })));
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), "no external resources");

    const redirect = await fetch(`${api.server.url}/demo`, { redirect: "manual" });
    assert.deepEqual([redirect.status, redirect.headers.get("location")], [301, "/demo/"]);
    assert.equal((await fetch(`${api.server.url}/demo/demo.js`)).headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(await rawStatus(api.server.url, "/demo/../package.json"), 404, "a fixed list of files, no path walked");
    assert.equal((await fetch(`${api.server.url}/demo/`, { method: "POST" })).status, 405);
    const root = await fetch(`${api.server.url}/`);
    assert.deepEqual([root.status, ((await root.json()) as { error: { code: string } }).error.code], [403, "MISSING_AUTHENTICATION_TOKEN"], "an API client gets API Gateway's answer for /");
    const browser = await fetch(`${api.server.url}/`, { redirect: "manual", headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    assert.deepEqual([browser.status, browser.headers.get("location")], [302, "/demo/"], "a browser opening the address is sent to the demo page");
  });

  test("only the page's own files are served: names found on Object.prototype are 404, and no answer shows a path", async () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      const res = await fetch(`${api.server.url}/demo/${name}`);
      const text = await res.text();
      assert.deepEqual([res.status, text], [404, `No such file in the demo page: /demo/${name}\n`], name);
    }
  });

  test("the page and its key go to loopback Host names only (no DNS rebinding)", async () => {
    assert.equal(await rawStatus(api.server.url, "/demo/", "evil.example"), 403);
    assert.equal(await rawStatus(api.server.url, "/demo/", "localhost:3000"), 200);
  });
});
