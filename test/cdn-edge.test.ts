// Plays the edge: the CloudFront Function deploy uploads (EDGE_FUNCTION_CODE)
// runs in a bare VM context on CloudFront's viewer-request event shape, then
// the cache key is computed as the cache policy built from CDN_CACHE_KEY
// computes it. Shows that the Accept class decides the entry (and agrees with
// the function's own negotiation), and that nothing outside the key splits it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createContext, runInContext } from "node:vm";
import { CDN_CACHE_KEY } from "../function/cdn/cache-key.ts";
import { ACCEPT_CLASSES, EDGE_FUNCTION_CODE, EDGE_FUNCTION_RUNTIME } from "../function/cdn/edge-function.ts";
import { negotiateFormat } from "../function/variants.ts";

type Field = { value: string; multiValue?: Array<{ value: string }> };
interface EdgeRequest {
  method: string;
  uri: string;
  querystring: Record<string, Field>;
  headers: Record<string, Field>;
  cookies: Record<string, Field>;
}

/** Accept headers real clients send for an <img> (and for a plain fetch). */
const SAMPLES: Record<string, string | undefined> = {
  "Chrome 120": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
  "Firefox 120": "image/avif,image/webp,*/*",
  "Firefox 90": "image/webp,*/*",
  "Safari 17": "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
  "Safari 14": "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5",
  curl: "*/*",
  "wildcard image": "image/*",
  empty: "",
  absent: undefined,
  "avif refused": "image/avif;q=0,image/webp,*/*",
  "both refused": "image/avif; q=0, image/webp;q=0.0, */*",
  "upper case": "IMAGE/AVIF;Q=0.9",
  "garbage q": "image/avif;q=x,image/webp;q=1",
};

const EXPECTED: Record<string, string> = {
  "Chrome 120": "image/avif", "Firefox 120": "image/avif", "Firefox 90": "image/webp", "Safari 17": "image/avif", "Safari 14": "image/webp",
  curl: "*/*", "wildcard image": "*/*", empty: "*/*", absent: "*/*", "avif refused": "image/webp", "both refused": "*/*", "upper case": "image/avif", "garbage q": "image/webp",
};

/** Runs the uploaded code as CloudFront does: a fresh context with no Node globals (no require, no process). */
function runEdge(request: EdgeRequest): EdgeRequest {
  const context = createContext({});
  runInContext(EDGE_FUNCTION_CODE, context);
  const event = { version: "1.0", context: { eventType: "viewer-request" }, viewer: { ip: "203.0.113.7" }, request };
  return (context.handler as (e: unknown) => EdgeRequest)(JSON.parse(JSON.stringify(event)) as unknown);
}

function viewerRequest(accept: string | undefined, extra: { query?: Record<string, string>; headers?: Record<string, string>; cookies?: Record<string, string> } = {}): EdgeRequest {
  const fields = (o: Record<string, string> = {}) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { value: v }]));
  return {
    method: "GET",
    uri: "/public/images/0b7e1a4c-3f52-4c1e-9d0a-5b6c7d8e9f01/small",
    querystring: fields({ expires: "1767290400", sig: "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde", ...extra.query }),
    headers: { host: { value: "d111111abcdef8.cloudfront.net" }, "user-agent": { value: "test" }, ...fields(extra.headers), ...(accept === undefined ? {} : { accept: { value: accept } }) },
    cookies: fields(extra.cookies),
  };
}

/** The cache key as the cache policy makes it: the path, the listed query strings and headers, nothing else. */
function cacheKey(request: EdgeRequest): string {
  const pick = (from: Record<string, Field>, names: readonly string[]) => names.map((n) => `${n}=${from[n]?.value ?? ""}`).join("&");
  return `${request.uri}?${pick(request.querystring, CDN_CACHE_KEY.queryStrings)}|${pick(request.headers, CDN_CACHE_KEY.headers)}`;
}

const keyFor = (accept: string | undefined, extra?: Parameters<typeof viewerRequest>[1]) => cacheKey(runEdge(viewerRequest(accept, extra)));

test("edge: each sample's Accept becomes exactly one class, the one negotiateFormat picks for the original header", () => {
  const byFormat = { avif: "image/avif", webp: "image/webp", none: "*/*" } as const;
  for (const [client, accept] of Object.entries(SAMPLES)) {
    const out = runEdge(viewerRequest(accept));
    const cls = out.headers.accept?.value;
    assert.ok(ACCEPT_CLASSES.includes(cls as (typeof ACCEPT_CLASSES)[number]), `${client}: ${cls}`);
    assert.equal(cls, EXPECTED[client], client);
    assert.equal(cls, byFormat[negotiateFormat(accept) ?? "none"], `${client}: edge and function disagree`);
    // The class itself negotiates to the same format at the origin.
    assert.equal(negotiateFormat(cls), negotiateFormat(accept), `${client}: the origin sees another format`);
    assert.equal(out.headers.host?.value, "d111111abcdef8.cloudfront.net", "other headers pass through");
  }
});

test("edge: repeated Accept headers (multiValue) are read as one list", () => {
  const request = viewerRequest("*/*");
  request.headers.accept = { value: "text/html", multiValue: [{ value: "text/html" }, { value: "image/webp;q=0.9" }] };
  assert.equal(runEdge(request).headers.accept?.value, "image/webp");
});

test("edge: the same URL and class share a cache entry; avif, webp and other classes do not", () => {
  assert.equal(keyFor(SAMPLES["Chrome 120"]), keyFor(SAMPLES["Firefox 120"]), "two avif browsers share");
  assert.equal(keyFor(SAMPLES["Firefox 90"]), keyFor(SAMPLES["Safari 14"]), "two webp browsers share");
  assert.equal(keyFor(SAMPLES.curl), keyFor(undefined), "curl and no header share");
  const classes = new Set(Object.values(SAMPLES).map((a) => keyFor(a)));
  assert.equal(classes.size, 3, "at most three entries per URL, whatever the clients send");
  assert.notEqual(keyFor("image/avif"), keyFor("image/webp"));
  assert.notEqual(keyFor("image/webp"), keyFor("*/*"));
  assert.notEqual(keyFor("image/avif"), keyFor("*/*"));
});

test("edge: an extra query string, a cookie or another header does not split the cache; another signed URL does", () => {
  const plain = keyFor(SAMPLES["Chrome 120"]);
  assert.equal(keyFor(SAMPLES["Chrome 120"], { query: { utm_source: "newsletter", v: "2" } }), plain);
  assert.equal(keyFor(SAMPLES["Chrome 120"], { cookies: { session: "abc123" } }), plain);
  assert.equal(keyFor(SAMPLES["Chrome 120"], { headers: { "user-agent": "Mozilla/5.0 other", referer: "https://example.com/" } }), plain);
  assert.notEqual(keyFor(SAMPLES["Chrome 120"], { query: { expires: "1767294000" } }), plain, "the next signing window is its own entry");
});

test("edge: the code fits CloudFront Functions' 10 KB quota and needs no module", () => {
  assert.equal(EDGE_FUNCTION_RUNTIME, "cloudfront-js-2.0");
  assert.ok(Buffer.byteLength(EDGE_FUNCTION_CODE, "utf8") <= 10_240, `${Buffer.byteLength(EDGE_FUNCTION_CODE)} bytes`);
  // Runtime 2.0 offers only its own modules (crypto, querystring, buffer, cloudfront); this code needs none.
  const required = [...EDGE_FUNCTION_CODE.matchAll(/require\s*\(\s*["'`]([^"'`]+)/g)].map((m) => m[1]);
  assert.deepEqual(required.filter((m) => !["crypto", "querystring", "buffer", "cloudfront"].includes(m!)), []);
  assert.doesNotMatch(EDGE_FUNCTION_CODE, /\b(const|let|import|export|setTimeout|fetch)\b/, "ES 5.1 statements, no timers, no network");
});
