// The demo page's script: upload the picked or dropped image, make every size,
// fetch each one with the API key (or, for an API in jwt mode, a bearer token:
// auth-panel.js) and show each at its own size with its placeholder painted
// until the bytes arrive (size-card.js). An error can be retried with the same
// file. Plain browser JavaScript, no build step, no dependency. It uses only
// the API's documented routes (POST /images, GET /images/{id},
// GET /images/{id}/{size}), so it works against `npm start` and a deployed API
// alike (whose cors.origins must then allow this page's origin).
/* global document, window, fetch, URL, performance */
import { setUpAuth, wantsJwt } from "./auth-panel.js";
import { formatBytes, originalCard, sizeCard } from "./size-card.js";

const $ = (id) => document.getElementById(id);
const main = $("demo");
const form = { url: $("api-url"), key: $("api-key"), file: $("file"), drop: $("drop") };
const out = { status: $("status"), errorBox: $("error-box"), error: $("error"), retry: $("retry"), original: $("original-card"), originalSection: $("original-section"), sizes: $("sizes"), sizesSection: $("sizes-section") };

/** An answer of the API that is not 2xx, or a request that never got one. */
class ApiProblem extends Error {}

function readConfig() {
  try {
    const config = JSON.parse($("imgapi-config").textContent ?? "");
    return typeof config === "object" && config !== null ? config : {};
  } catch {
    // The page opened without a server filling the placeholder in.
    return {};
  }
}

function apiBase() {
  const typed = form.url.value.trim().replace(/\/+$/, "");
  return typed === "" ? window.location.origin : typed;
}

/** What API Gateway's own answers (no error code) usually mean. */
const GATEWAY_HINTS = {
  Forbidden: "The x-api-key is missing or wrong: check the API key above.",
  "Missing Authentication Token": "No such route: check the base URL (a deployed one ends with its stage, such as /prod).",
  "Too Many Requests": "Over the usage plan's rate: wait a moment, or raise api.throttle.",
  "Limit Exceeded": "Over the usage plan's quota: wait for the next period, or raise api.quota.",
};

/** What the API's error codes for credentials usually mean. */
const CODE_HINTS = {
  INVALID_API_KEY: "Check the API key above.",
  MISSING_AUTHENTICATION_TOKEN: "Check the base URL (a deployed one ends with its stage, such as /prod).",
  UNAUTHORIZED: "The bearer token is missing, expired or not for this API: sign in again, or paste another token.",
};

/** The API's own words: {"error": {code, message}} from the function, {"message"} from API Gateway. */
async function problemOf(res) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body?.error?.code !== undefined) {
    const hint = CODE_HINTS[body.error.code];
    const message = String(body.error.message);
    return new ApiProblem(`${res.status} ${body.error.code}: ${message}${hint === undefined ? "" : `${/[.!?]$/.test(message) ? "" : "."} ${hint}`}`);
  }
  if (typeof body?.message === "string") {
    const hint = GATEWAY_HINTS[body.message];
    return new ApiProblem(`${res.status} ${body.message}${hint === undefined ? "" : `. ${hint}`}`);
  }
  return new ApiProblem(`${res.status} ${res.statusText || "error"}${text === "" ? "" : `: ${text.slice(0, 200)}`}`);
}

/** The credentials every call carries: the x-api-key, or in jwt mode the bearer token (set by start). */
let credentials = () => ({ "x-api-key": form.key.value });
/** "key" or "jwt": which credentials the curl commands shown name. */
let authMode = "key";

async function call(base, path, init) {
  let res;
  try {
    res = await fetch(`${base}${path}`, { ...init, headers: { ...credentials(), ...init?.headers } });
  } catch (e) {
    // The browser tells scripts nothing more: a wrong URL, the API down, or CORS refused.
    throw new ApiProblem(
      `Could not reach ${base} (${e.message}). Check the base URL; a deployed API must list this page's origin (${window.location.origin}) in cors.origins.`,
    );
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

let shown = [];
function clearResults() {
  for (const url of shown) URL.revokeObjectURL(url);
  shown = [];
  out.sizes.replaceChildren();
  out.original.replaceChildren();
  out.sizesSection.hidden = true;
  out.originalSection.hidden = true;
  clearError();
}

function clearError() {
  out.errorBox.hidden = true;
  out.error.textContent = "";
}

function showError(message) {
  out.error.textContent = message;
  out.errorBox.hidden = false;
  // Only an upload can be tried again; a refused sign-in has no file to resend.
  out.retry.hidden = lastFile === undefined;
  setState("error", "Failed: see the message below.");
}

function setState(state, message) {
  main.dataset.state = state;
  out.status.textContent = message;
}

async function fetchSize(base, id, variant, card) {
  const res = await call(base, `/images/${encodeURIComponent(id)}/${encodeURIComponent(variant.size)}`);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  shown.push(url);
  await card.fill(url, blob.size);
}

let run = 0;
/** The last file picked or dropped, for "Try again". */
let lastFile;
async function upload(file) {
  const mine = ++run;
  lastFile = file;
  const started = performance.now();
  const base = apiBase();
  clearResults();
  try {
    setState("busy", `Uploading ${file.name} (${formatBytes(file.size)}) to ${base}…`);
    const type = file.type === "" ? "application/octet-stream" : file.type;
    const uploaded = await (await call(base, `/images?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file, headers: { "Content-Type": type } })).json();
    if (mine !== run) return;
    out.original.replaceChildren(originalCard(uploaded, file.name));
    out.originalSection.hidden = false;

    setState("busy", "Making every size…");
    const listed = await (await call(base, `/images/${encodeURIComponent(uploaded.id)}`)).json();
    if (mine !== run) return;
    // Every card at once, at its size, its placeholder painted until its bytes arrive.
    const cards = listed.variants.map((v) => sizeCard(v, listed.placeholder, authMode));
    out.sizes.replaceChildren(...cards.map((c) => c.item));
    out.sizesSection.hidden = false;
    setState("busy", `Fetching ${listed.variants.length} sizes…`);
    await Promise.all(listed.variants.map((v, i) => fetchSize(base, uploaded.id, v, cards[i])));
    if (mine !== run) return;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setState("done", `Done: ${cards.length} sizes of ${file.name} in ${seconds} s.`);
  } catch (e) {
    if (mine !== run) return;
    showError(e instanceof ApiProblem ? e.message : `Unexpected error: ${e.message}`);
  }
}

async function start() {
  const config = readConfig();
  if (typeof config.apiUrl === "string") form.url.value = config.apiUrl;
  if (typeof config.apiKey === "string") form.key.value = config.apiKey;
  if (typeof config.notice === "string") {
    $("notice").textContent = config.notice;
    $("notice").hidden = false;
  }

  $("form").addEventListener("submit", (e) => e.preventDefault());
  // Before any upload can start: in jwt mode this may first complete a sign-in.
  credentials = await setUpAuth(config, { setState, showError, clearError });
  authMode = wantsJwt(config) ? "jwt" : "key";
  form.file.addEventListener("change", () => {
    const file = form.file.files?.[0];
    // Emptied, so that picking the same file again (after an error) fires change again.
    form.file.value = "";
    if (file !== undefined) void upload(file);
  });
  out.retry.addEventListener("click", () => {
    if (lastFile !== undefined) void upload(lastFile);
  });
  form.drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    form.drop.classList.add("over");
  });
  form.drop.addEventListener("dragleave", () => form.drop.classList.remove("over"));
  form.drop.addEventListener("drop", (e) => {
    e.preventDefault();
    form.drop.classList.remove("over");
    const file = e.dataTransfer?.files?.[0];
    if (file !== undefined) void upload(file);
  });
  // A sign-in that was refused leaves its message and the "error" state.
  if (main.dataset.state !== "error") setState("ready", "");
}

void start();
