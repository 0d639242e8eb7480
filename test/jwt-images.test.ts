// auth "jwt" end to end on the local server: the gateway runs the deployed
// authorizer code against a dev issuer on loopback (its own keys, JWKS over
// HTTP), so every hostile token is refused before the image handler runs;
// each image belongs to the token's subject, and another subject gets 404 for
// it on every route that names it; scopes separate uploading from reading.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { parseRuntimeSettings } from "../config/load.ts";
import { createApp } from "../function/app.ts";
import { ImageStore } from "../function/storage/image-store.ts";
import { startDevIssuer, type DevIssuer } from "../local/dev-issuer.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { apiEvent, responseJson } from "./support/events.ts";
import { hostileTokens } from "./support/jwt-tokens.ts";

const settings = parseRuntimeSettings({ sizes: { thumbnail: { width: 64, height: 64 }, small: { width: 200 } } }, "test settings");
const SCOPES = { read: "images:read", write: "images:write" };
const BOTH = `${SCOPES.read} ${SCOPES.write}`;
const photo = () => sharp({ create: { width: 320, height: 240, channels: 3, background: "#2a7" } }).jpeg().toBuffer();

interface Handled {
  route: string;
  status: number;
}

let issuer: DevIssuer;
let server: LocalServer;
let dataDir: string;
/** The handler's own request log lines: a request refused by the gateway leaves none. */
let handled: Handled[] = [];

before(async () => {
  issuer = await startDevIssuer({ audience: "imgapi-test" });
  dataDir = mkdtempSync(join(tmpdir(), "imgapi-jwt-"));
  server = await startLocalServer({
    port: 0,
    dataDir,
    settings,
    auth: "jwt",
    jwt: { issuer: issuer.issuer, audience: issuer.audience, scopes: SCOPES },
    log: (line) => {
      const entry = JSON.parse(line) as { msg?: string; route?: string; status?: number };
      if (entry.msg !== "gateway" && entry.route !== undefined) handled.push({ route: entry.route, status: entry.status! });
    },
  });
});

after(async () => {
  await server?.close();
  await issuer?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string) {
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }), redirect: "manual" });
  const text = await res.text();
  let json: { error?: { code?: string; message?: string } } & Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // image bytes
  }
  return { status: res.status, json };
}

async function upload(token: string): Promise<string> {
  const res = await call("POST", "/images", { ...bearer(token), "Content-Type": "image/jpeg" }, await photo());
  assert.equal(res.status, 201, JSON.stringify(res.json));
  return res.json.id as string;
}

describe("tokens", () => {
  test("a valid token reaches the handler; without one, the gateway answers 401 in the API's error shape", async () => {
    const token = await issuer.mint({ sub: "alice", scope: BOTH });
    const id = await upload(token);
    assert.equal((await call("GET", `/images/${id}`, bearer(token))).status, 200);

    handled = [];
    const none = await call("GET", `/images/${id}`);
    assert.equal(none.status, 401);
    assert.equal(none.json.error?.code, "UNAUTHORIZED");
    const apiKeyOnly = await call("GET", `/images/${id}`, { "x-api-key": server.apiKey });
    assert.equal(apiKeyOnly.status, 401, "an API key is no credential in jwt mode");
    assert.deepEqual(handled, []);
  });

  test("every hostile token is refused with 401 and never reaches the image handler", async () => {
    const tokens = await hostileTokens(issuer);
    assert.ok(tokens.length >= 9, `the hostile set covers the issue's list (${tokens.map((t) => t.name).join(", ")})`);
    for (const { name, token } of tokens) {
      handled = [];
      const res = await call("POST", "/images", { ...bearer(token), "Content-Type": "image/jpeg" }, await photo());
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error?.code, "UNAUTHORIZED", name);
      assert.deepEqual(handled, [], `${name} reached the handler`);
    }
  });
});

describe("scopes", () => {
  test("a read-only token cannot upload (403 from the gateway, handler not run) but reads its owner's images", async () => {
    const writer = await issuer.mint({ sub: "carol", scope: BOTH });
    const id = await upload(writer);
    const reader = await issuer.mint({ sub: "carol", scope: SCOPES.read });
    handled = [];
    const refused = await call("POST", "/images", { ...bearer(reader), "Content-Type": "image/jpeg" }, await photo());
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error?.code, "FORBIDDEN");
    assert.equal((await call("DELETE", `/images/${id}`, bearer(reader))).status, 403);
    assert.equal((await call("POST", "/uploads", { ...bearer(reader), "Content-Type": "application/json" }, JSON.stringify({ contentType: "image/jpeg", contentLength: 100 }))).status, 403);
    assert.deepEqual(handled, []);
    assert.equal((await call("GET", `/images/${id}`, bearer(reader))).status, 200);
    assert.equal((await call("GET", `/images/${id}/thumbnail`, bearer(reader))).status, 200);
  });

  test("a write-only token can upload but not read", async () => {
    const writer = await issuer.mint({ sub: "dave", scope: SCOPES.write });
    const id = await upload(writer);
    assert.equal((await call("GET", `/images/${id}`, bearer(writer))).status, 403);
  });
});

describe("per-user images", () => {
  test("user B cannot see, fetch, sign, refocus or delete user A's image: 404 as for a missing one", async () => {
    const alice = await issuer.mint({ sub: "alice", scope: BOTH });
    const bob = await issuer.mint({ sub: "bob", scope: BOTH });
    const id = await upload(alice);
    const listed = await call("GET", `/images/${id}`, bearer(alice));
    assert.equal(listed.status, 200);

    const attempts: [string, string, string?][] = [
      ["GET", `/images/${id}`],
      ["GET", `/images/${id}/thumbnail`],
      ["GET", `/images/${id}/small`],
      ["PUT", `/images/${id}/focus`, JSON.stringify({ x: 0.2, y: 0.2 })],
      ["DELETE", `/images/${id}/focus`],
      ["DELETE", `/images/${id}`],
    ];
    const missing = "00000000-0000-4000-8000-000000000000";
    for (const [method, path, body] of attempts) {
      const res = await call(method, path, { ...bearer(bob), "Content-Type": "application/json" }, body);
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error?.code, "IMAGE_NOT_FOUND");
      const absent = await call(method, path.replace(id, missing), { ...bearer(bob), "Content-Type": "application/json" }, body);
      assert.deepEqual([absent.status, absent.json.error?.message], [404, res.json.error?.message?.replace(id, missing)], "the answer for another user's image is the answer for no image");
    }
    // Nothing of Alice's was changed or removed, and her listing still signs URLs for her.
    const again = await call("GET", `/images/${id}`, bearer(alice));
    assert.equal(again.status, 200);
    assert.equal((again.json.original as { focus?: unknown }).focus, undefined, "Bob's focus was not stored");
    assert.equal((await call("DELETE", `/images/${id}`, bearer(alice))).status, 204);
  });

  test("a presigned upload belongs to the subject that asked for it, and its owner is bound into the URL", async () => {
    const alice = await issuer.mint({ sub: "alice-uploads", scope: BOTH });
    const bob = await issuer.mint({ sub: "bob-uploads", scope: BOTH });
    const bytes = await photo();
    const made = await call("POST", "/uploads", { ...bearer(alice), "Content-Type": "application/json" }, JSON.stringify({ contentType: "image/jpeg", contentLength: bytes.length }));
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const { id, upload } = made.json as unknown as { id: string; upload: { url: string; headers: Record<string, string> } };
    const url = new URL(upload.url);
    assert.equal(url.searchParams.get("x-amz-meta-owner"), "alice-uploads", "the owner is in the signed query string");

    const forged = new URL(upload.url);
    forged.searchParams.set("x-amz-meta-owner", "bob-uploads");
    const refused = await fetch(forged, { method: "PUT", headers: upload.headers, body: bytes });
    assert.equal(refused.status, 403, "S3 refuses a URL whose owner was changed");

    const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes });
    assert.equal(put.status, 200);
    assert.equal((await call("GET", `/images/${id}`, bearer(bob))).status, 404);
    const listed = await call("GET", `/images/${id}`, bearer(alice));
    assert.equal(listed.status, 200, JSON.stringify(listed.json));
    // Checked and moved into originals/: the owner went with it.
    assert.equal((await call("GET", `/images/${id}`, bearer(bob))).status, 404);
    assert.equal((await call("GET", `/images/${id}/small`, bearer(alice))).status, 200);
  });
});

describe("the handler's own check", () => {
  test("in jwt mode a private route without the authorizer's caller is 401, and a caller without the scope 403", async () => {
    const store = new ImageStore(server.s3.client, server.bucket);
    const app = createApp({ store, settings, log: () => {}, access: { scopes: SCOPES } });
    const bare = await app(apiEvent({ method: "GET", resource: "/images/{id}", pathParameters: { id: "00000000-0000-4000-8000-000000000000" } }));
    assert.deepEqual([bare.statusCode, responseJson<{ error: { code: string } }>(bare).error.code], [401, "UNAUTHORIZED"]);
    const event = apiEvent({ method: "POST", resource: "/images", body: await photo(), headers: { "Content-Type": "image/jpeg" } });
    event.requestContext.authorizer = { principalId: "erin", sub: "erin", scope: SCOPES.read };
    const noScope = await app(event);
    assert.deepEqual([noScope.statusCode, responseJson<{ error: { code: string } }>(noScope).error.code], [403, "FORBIDDEN"]);
  });

  test("behind a Cognito user pool authorizer (which checks the pool, not the app client), the function refuses another client's token", async () => {
    const store = new ImageStore(server.s3.client, server.bucket);
    const app = createApp({ store, settings, log: () => {}, access: { scopes: SCOPES, audience: "our-client-id" } });
    const upload = async (claims: Record<string, string>) => {
      const event = apiEvent({ method: "POST", resource: "/images", body: await photo(), headers: { "Content-Type": "image/jpeg" } });
      event.requestContext.authorizer = { claims: { sub: "frank", scope: BOTH, token_use: "access", ...claims } };
      return app(event);
    };
    const other = await upload({ client_id: "another-apps-client" });
    assert.deepEqual([other.statusCode, responseJson<{ error: { code: string } }>(other).error.code], [401, "UNAUTHORIZED"]);
    assert.equal((await upload({ client_id: "our-client-id" })).statusCode, 201, "an access token of our app client");
    assert.equal((await upload({ aud: "our-client-id", token_use: "id" })).statusCode, 201, "an ID token of our app client");
  });
});
