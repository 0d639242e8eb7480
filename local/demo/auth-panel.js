// The demo page's "Auth" fieldset, for an API in jwt mode: sign in with the
// issuer (oidc.js) or paste a token, see who the token names, sign out. The
// page then sends Authorization: Bearer instead of x-api-key. It shows in jwt
// mode only: when the server says so (DemoConfig.jwt), when the address asks
// for it (?auth=jwt, for a deployed API), or when this tab is signed in.
/* global document, window, URLSearchParams */
import { beginSignIn, completeSignIn, currentToken, isCallback, pendingSignIn, redirectUri, saveToken, signOut, SignInProblem, unverifiedClaims } from "./oidc.js";

const $ = (id) => document.getElementById(id);
const time = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "medium" });

export function wantsJwt(config) {
  return typeof config.jwt === "object" || new URLSearchParams(window.location.search).get("auth") === "jwt" || currentToken() !== undefined || isCallback();
}

/** What the person sees of the token: whom it names and until when, from its unverified payload. */
function describe(held) {
  if (held === undefined) return { text: "Not signed in: sign in, or paste a token.", sub: "" };
  const claims = unverifiedClaims(held.token);
  const how = held.source === "sign-in" ? `signed in at ${held.issuer}` : "pasted token";
  if (claims === undefined) return { text: `A token is set (${how}), but it is not a JWT this page can read; it is sent as it is.`, sub: "" };
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  const expires = typeof claims.exp === "number" ? new Date(claims.exp * 1000) : undefined;
  const expiry = expires === undefined ? "" : `, ${expires.getTime() <= Date.now() ? "expired" : "expires"} ${time.format(expires)}`;
  return { text: `Signed in as ${sub === "" ? "(no sub)" : sub} (${how}${expiry}).`, sub };
}

/**
 * Shows the fieldset in jwt mode and returns the headers each API call carries.
 * `ui` gives the page's error area and state, so sign-in problems show where API errors do.
 */
export async function setUpAuth(config, ui) {
  const key = $("api-key");
  if (!wantsJwt(config)) return () => ({ "x-api-key": key.value });

  const fields = { issuer: $("issuer"), clientId: $("client-id"), scope: $("scope"), token: $("token"), who: $("who"), signIn: $("sign-in"), signOut: $("sign-out") };
  $("auth").hidden = false;
  key.closest("p").hidden = true;
  $("redirect-uri").textContent = redirectUri();
  if (typeof config.jwt === "object") {
    fields.issuer.value = String(config.jwt.issuer ?? "");
    fields.clientId.value = String(config.jwt.clientId ?? "");
    fields.scope.value = String(config.jwt.scope ?? "");
  }

  function show() {
    const shown = describe(currentToken());
    fields.who.textContent = shown.text;
    fields.who.dataset.sub = shown.sub;
    fields.signOut.hidden = currentToken() === undefined;
  }

  fields.signIn.addEventListener("click", async () => {
    ui.clearError();
    try {
      ui.setState("busy", `Reading ${fields.issuer.value.trim()}'s OpenID configuration…`);
      const target = await beginSignIn({ issuer: fields.issuer.value.trim(), clientId: fields.clientId.value.trim(), scope: fields.scope.value.trim(), apiUrl: $("api-url").value });
      window.location.assign(target);
    } catch (e) {
      ui.showError(e instanceof SignInProblem ? e.message : `Unexpected error: ${e.message}`);
    }
  });
  fields.token.addEventListener("input", () => {
    // People paste the whole header as often as the token alone.
    const token = fields.token.value.trim().replace(/^Bearer\s+/i, "");
    if (token === "") signOut();
    else saveToken(token, { source: "pasted" });
    show();
  });
  fields.signOut.addEventListener("click", () => {
    signOut();
    fields.token.value = "";
    show();
    ui.clearError();
    ui.setState("ready", "Signed out: this tab no longer holds a token.");
  });

  if (isCallback()) {
    const started = pendingSignIn();
    if (started !== undefined) restore(started);
    ui.setState("busy", "Completing the sign-in…");
    try {
      await completeSignIn();
    } catch (e) {
      ui.showError(e instanceof SignInProblem ? e.message : `Unexpected error: ${e.message}`);
    }
  }
  show();
  return () => {
    const held = currentToken();
    return held === undefined ? {} : { Authorization: `Bearer ${held.token}` };
  };

  /** The fields as they were when the sign-in left this page. */
  function restore(started) {
    fields.issuer.value = started.issuer;
    fields.clientId.value = started.clientId;
    fields.scope.value = started.scope ?? "";
    if (typeof started.apiUrl === "string") $("api-url").value = started.apiUrl;
  }
}
