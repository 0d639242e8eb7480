// The demo page (local/demo/): served under /demo/ by `npm start`'s server, or
// on an origin of its own by startDemoServer, as the browser test does to go
// through CORS. API Gateway serves no such page: in AWS a person opens this
// page from `npm start` (or any static host) and types the endpoint and key.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const DEMO_PATH = "/demo/";

const DEMO_DIR = new URL("./demo/", import.meta.url);
const PLACEHOLDER = "__IMGAPI_DEMO_CONFIG__";

/** What the page is prefilled with. An empty apiUrl means the page's own origin. */
export interface DemoConfig {
  apiUrl: string;
  apiKey: string;
  /** Shown above the form, e.g. why the key alone will not do on this server. */
  notice?: string;
  /**
   * An API in jwt mode: the page shows its Auth fieldset, prefilled with the
   * OIDC issuer to sign in with, this page's client id there, and the scopes
   * to ask for; it then sends a bearer token instead of the key.
   */
  jwt?: { issuer: string; clientId: string; scope?: string };
}

// A Map, not an object: a name such as "constructor" or "__proto__" must not
// find something on Object.prototype.
const FILES = new Map<string, { file: string; type: string }>([
  ["", { file: "index.html", type: "text/html; charset=utf-8" }],
  ["index.html", { file: "index.html", type: "text/html; charset=utf-8" }],
  ["demo.js", { file: "demo.js", type: "text/javascript; charset=utf-8" }],
  ["demo.css", { file: "demo.css", type: "text/css; charset=utf-8" }],
  ["auth-panel.js", { file: "auth-panel.js", type: "text/javascript; charset=utf-8" }],
  ["size-card.js", { file: "size-card.js", type: "text/javascript; charset=utf-8" }],
  ["oidc.js", { file: "oidc.js", type: "text/javascript; charset=utf-8" }],
  // The placeholder decoder the page imports: the thumbhash package's own module (MIT), served as it is.
  ["thumbhash.js", { file: "../../node_modules/thumbhash/thumbhash.js", type: "text/javascript; charset=utf-8" }],
]);

const HEADERS = {
  // The page holds an API key: never cached, never framed, no Referer sent
  // (nor, back from a sign-in, the code in its address). connect-src stays
  // open: the page calls the API and the OIDC issuer a person types in. The
  // sign-in leaves by navigation, which CSP does not govern, so form-action
  // stays 'none'.
  "Cache-Control": "no-store",
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src *; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

/** Loopback names only: a DNS-rebinding page (evil.example resolved to 127.0.0.1) gets no key. */
function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return name === "127.0.0.1" || name === "localhost" || name === "[::1]";
}

function answer(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer, head: boolean): void {
  res.writeHead(status, { ...headers, "Content-Length": Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

/**
 * Answers the demo's paths (/demo, /demo/ and its files) and returns true, or
 * returns false for any other path, which is then the API's.
 */
export function serveDemo(req: IncomingMessage, res: ServerResponse, config: DemoConfig): boolean {
  const path = (req.url ?? "/").split("?")[0]!;
  // A person opening the server's address in a browser is sent to the page; an
  // API client asking for / (no HTML in Accept) gets API Gateway's answer, as deployed.
  if (path === "/" && (req.method === "GET" || req.method === "HEAD") && /\btext\/html\b/.test(req.headers.accept ?? "") && isLoopbackHost(req.headers.host)) {
    answer(res, 302, { "Content-Type": "text/plain; charset=utf-8", Location: DEMO_PATH, "Cache-Control": "no-store" }, `The API has no page at /: the demo is at ${DEMO_PATH}\n`, req.method === "HEAD");
    return true;
  }
  if (path !== "/demo" && !path.startsWith(DEMO_PATH)) return false;
  const head = req.method === "HEAD";
  const text = { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" };
  if (req.method !== "GET" && !head) {
    answer(res, 405, { ...text, Allow: "GET, HEAD" }, "The demo page answers GET only.\n", head);
    return true;
  }
  if (!isLoopbackHost(req.headers.host)) {
    answer(res, 403, text, "The demo page is served to 127.0.0.1 and localhost only.\n", head);
    return true;
  }
  if (path === "/demo") {
    answer(res, 301, { ...text, Location: DEMO_PATH }, `Moved to ${DEMO_PATH}\n`, head);
    return true;
  }
  const entry = FILES.get(path.slice(DEMO_PATH.length));
  if (entry === undefined) {
    answer(res, 404, text, `No such file in the demo page: ${path}\n`, head);
    return true;
  }
  readFile(new URL(entry.file, DEMO_DIR)).then(
    (bytes) => {
      let body: string | Buffer = bytes;
      if (entry.file === "index.html") {
        // The local API key goes into the page so that it works at once. That
        // is fine here: the server listens on 127.0.0.1 only, it answers
        // loopback Host names only (see above), no other origin can read the
        // page (no CORS headers on it), and whoever can open it could read the
        // key off the terminal that printed it. In AWS no page is ever given a
        // key: a person pastes theirs into the form, and it stays in that tab.
        // "<" is escaped so that nothing in the JSON can close the script tag.
        body = bytes.toString("utf8").replace(PLACEHOLDER, () => JSON.stringify(config).replace(/</g, "\\u003c"));
      }
      answer(res, 200, { ...HEADERS, "Content-Type": entry.type }, body, head);
    },
    // The error's message would name the file's absolute path: the answer does not.
    () => answer(res, 500, text, `The demo page's ${entry.file} could not be read.\n`, head),
  );
  return true;
}

export interface DemoServer {
  url: string;
  /** The page's address: url + /demo/. */
  pageUrl: string;
  close(): Promise<void>;
}

/** The page alone, on 127.0.0.1:port (0 picks a free one), pointed at an API elsewhere. */
export async function startDemoServer(options: DemoConfig & { port?: number }): Promise<DemoServer> {
  const config: DemoConfig = {
    apiUrl: options.apiUrl,
    apiKey: options.apiKey,
    ...(options.notice === undefined ? {} : { notice: options.notice }),
    ...(options.jwt === undefined ? {} : { jwt: options.jwt }),
  };
  const server = createServer((req, res) => {
    if (!serveDemo(req, res, config)) answer(res, 404, { "Content-Type": "text/plain; charset=utf-8" }, `Only the demo page is here: ${DEMO_PATH}\n`, false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    pageUrl: `${url}${DEMO_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
