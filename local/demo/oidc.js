// The demo page's OpenID Connect client: authorization code with PKCE (S256,
// RFC 7636) for a public client, as RFC 9700 (OAuth 2.0 security best current
// practice) asks of a browser app: a fresh code_verifier and state per sign-in,
// the state checked before anything is exchanged, the code used once, and the
// token held in this tab's sessionStorage only (never localStorage, never a
// cookie), so closing the tab or signing out forgets it.
/* global window, fetch, crypto, btoa, atob, TextEncoder, TextDecoder, URL, URLSearchParams */

const TOKEN_KEY = "imgapi-demo.token";
const PENDING_KEY = "imgapi-demo.sign-in";
// The issuer's code lives a minute or so (RFC 6749 section 4.1.2 says at most 10).
const PENDING_LIFETIME_MS = 10 * 60 * 1000;

/** A sign-in that cannot go on, with a message for the person at the page. */
export class SignInProblem extends Error {}

const store = () => window.sessionStorage;

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(byteCount) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

/** RFC 7636 section 4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
async function challengeOf(verifier) {
  if (crypto.subtle === undefined) throw new SignInProblem("Signing in needs a secure page (https, or http on 127.0.0.1 or localhost): this browser offers no crypto.subtle here.");
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

const trimSlash = (url) => url.replace(/\/+$/, "");

/** The code and the verifier travel to these endpoints: https, or http on loopback only. */
function checkEndpoint(value, what) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new SignInProblem(`Expected a URL for the issuer's ${what} but received ${JSON.stringify(value)}.`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new SignInProblem(`The issuer's ${what} must be https (http only on 127.0.0.1 or localhost) but is ${value}.`);
  return url.href;
}

/** OpenID Connect Discovery 1.0, section 4: the document names the issuer it was asked about. */
export async function discover(issuer) {
  const wellKnown = `${trimSlash(checkEndpoint(issuer, "URL"))}/.well-known/openid-configuration`;
  let res;
  try {
    res = await fetch(wellKnown, { headers: { Accept: "application/json" } });
  } catch (e) {
    throw new SignInProblem(`Could not read ${wellKnown} (${e.message}). Check the issuer URL; the issuer must allow this page's origin (${window.location.origin}) by CORS.`);
  }
  const doc = res.ok ? await res.json().catch(() => undefined) : undefined;
  if (doc === undefined) throw new SignInProblem(`${wellKnown} answered ${res.status}, not an OpenID configuration. Check the issuer URL.`);
  if (typeof doc.issuer !== "string" || trimSlash(doc.issuer) !== trimSlash(issuer)) {
    throw new SignInProblem(`${wellKnown} names the issuer ${JSON.stringify(doc.issuer)}, not ${issuer}: refusing to sign in with it.`);
  }
  if (Array.isArray(doc.code_challenge_methods_supported) && !doc.code_challenge_methods_supported.includes("S256")) {
    throw new SignInProblem(`The issuer ${issuer} does not offer PKCE with S256, which this page requires.`);
  }
  return { issuer: doc.issuer, authorizationEndpoint: checkEndpoint(doc.authorization_endpoint, "authorization_endpoint"), tokenEndpoint: checkEndpoint(doc.token_endpoint, "token_endpoint") };
}

/** Where the issuer sends the browser back: this page, without query or fragment (register it as a callback URL). */
export const redirectUri = () => `${window.location.origin}${window.location.pathname}`;

/** Remembers the sign-in in this tab and returns the issuer's authorization URL to navigate to. */
export async function beginSignIn({ issuer, clientId, scope, apiUrl }) {
  if (clientId === "") throw new SignInProblem("Type the client id of this page's app client at the issuer.");
  const endpoints = await discover(issuer);
  const verifier = randomString(32);
  const state = randomString(16);
  const pending = { ...endpoints, clientId, scope, apiUrl, verifier, state, redirectUri: redirectUri(), startedAt: Date.now() };
  store().setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(endpoints.authorizationEndpoint);
  const params = { response_type: "code", client_id: clientId, redirect_uri: pending.redirectUri, state, code_challenge: await challengeOf(verifier), code_challenge_method: "S256" };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  if (scope !== "") url.searchParams.set("scope", scope);
  return url.href;
}

/** The sign-in this tab started, if any, without consuming it. */
export function pendingSignIn() {
  try {
    return JSON.parse(store().getItem(PENDING_KEY) ?? "null") ?? undefined;
  } catch {
    return undefined;
  }
}

const CALLBACK_PARAMS = ["code", "state", "error", "error_description", "error_uri", "iss", "session_state"];

/** Whether this page was opened as the issuer's redirect back. */
export const isCallback = () => ["code", "error"].some((name) => new URLSearchParams(window.location.search).has(name));

/** Removes the code and state from the address bar and history, whatever happens to them. */
function stripCallback() {
  const url = new URL(window.location.href);
  for (const name of CALLBACK_PARAMS) url.searchParams.delete(name);
  window.history.replaceState(window.history.state, "", url.href);
}

/** What the token endpoint said, in its words (RFC 6749 section 5.2). */
async function tokenError(res) {
  const body = await res.json().catch(() => ({}));
  return body.error === undefined ? `${res.status} ${res.statusText}` : `${res.status} ${body.error}${body.error_description === undefined ? "" : `: ${body.error_description}`}`;
}

/**
 * On the issuer's redirect back: checks the state against the sign-in this tab
 * started (RFC 6749 section 10.12), then exchanges the code with the verifier.
 * The pending sign-in is consumed first, so a second redirect cannot reuse it.
 */
export async function completeSignIn() {
  const params = new URLSearchParams(window.location.search);
  const pending = pendingSignIn();
  store().removeItem(PENDING_KEY);
  stripCallback();
  if (pending === undefined) throw new SignInProblem("Sign-in refused: this page got a sign-in answer, but this tab started no sign-in. Nothing was exchanged; click Sign in to start one.");
  if (params.get("state") !== pending.state) throw new SignInProblem("Sign-in refused: the state in the answer does not match the one this tab sent, so the answer may not be for this sign-in. Nothing was exchanged; click Sign in again.");
  // RFC 9207: an issuer that names itself must be the one this tab asked.
  if (params.has("iss") && trimSlash(params.get("iss")) !== trimSlash(pending.issuer)) throw new SignInProblem(`Sign-in refused: the answer comes from ${params.get("iss")}, not ${pending.issuer}.`);
  if (params.has("error")) throw new SignInProblem(`The issuer did not sign you in: ${params.get("error")}${params.has("error_description") ? `: ${params.get("error_description")}` : ""}.`);
  if (Date.now() - pending.startedAt > PENDING_LIFETIME_MS) throw new SignInProblem("Sign-in refused: it was started over 10 minutes ago. Click Sign in again.");

  const body = new URLSearchParams({ grant_type: "authorization_code", code: params.get("code") ?? "", redirect_uri: pending.redirectUri, client_id: pending.clientId, code_verifier: pending.verifier });
  let res;
  try {
    res = await fetch(pending.tokenEndpoint, { method: "POST", body, headers: { Accept: "application/json" } });
  } catch (e) {
    throw new SignInProblem(`Could not reach the token endpoint ${pending.tokenEndpoint} (${e.message}): it must allow this page's origin by CORS.`);
  }
  if (!res.ok) throw new SignInProblem(`The issuer refused the sign-in code: ${await tokenError(res)}. Click Sign in again.`);
  const answer = await res.json().catch(() => ({}));
  if (typeof answer.access_token !== "string" || String(answer.token_type).toLowerCase() !== "bearer") throw new SignInProblem("The issuer's token endpoint answered without a bearer access_token.");
  saveToken(answer.access_token, { source: "sign-in", issuer: pending.issuer });
  return { ...pending, token: answer.access_token };
}

/** A token pasted or signed in with, in this tab only. */
export function saveToken(token, origin) {
  store().setItem(TOKEN_KEY, JSON.stringify({ token, ...origin }));
}

export function currentToken() {
  try {
    return JSON.parse(store().getItem(TOKEN_KEY) ?? "null") ?? undefined;
  } catch {
    return undefined;
  }
}

/** Forgets the token and any sign-in under way; the issuer's own session is left as it is. */
export function signOut() {
  store().removeItem(TOKEN_KEY);
  store().removeItem(PENDING_KEY);
}

/** The token's claims, for display only: nothing here checks its signature (the API does). */
export function unverifiedClaims(token) {
  const part = token.split(".")[1];
  if (part === undefined || !/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return typeof claims === "object" && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
}
