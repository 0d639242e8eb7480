// What `npm start` prints once it listens: where, with which key, and one
// ready-to-paste curl command per route. Colours only on a terminal.
import type { RuntimeSettings } from "../config/schema.ts";
import { describeLimit } from "../function/image/inspect.ts";
import { ROUTES, type RouteKey } from "../function/routes.ts";
import { API_KEY_ENV } from "./api-key.ts";
import { ACCESS_KEY_ID_ENV, LOCAL_REGION, SECRET_ACCESS_KEY_ENV, type LocalCredentials } from "./sigv4.ts";

export interface BannerFacts {
  url: string;
  /** The demo page, served by the same server. */
  demoUrl: string;
  /** How private routes are called: the x-api-key, or SigV4 with this key pair. */
  auth: CallerAuth;
  bucket: string;
  s3Endpoint: string;
  dataDir: string;
  settingsSource: string;
  settings: RuntimeSettings;
}

export type CallerAuth =
  | { mode: "apiKey"; apiKey: string }
  | { mode: "iam"; credentials: LocalCredentials }
  /** The token is shown only when the dev issuer minted it; curl examples then read it from $TOKEN. */
  | { mode: "jwt"; issuer: string; audience: string; token?: string };

/** Single-quoted for POSIX shells, whatever the text holds. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const EXTENSIONS: Record<string, string> = { jpeg: "jpg", png: "png", webp: "webp", avif: "avif", original: "jpg" };

function describeSizes(settings: RuntimeSettings): string {
  return Object.entries(settings.sizes)
    .map(([name, s]) => `${name} ${s.height === undefined ? `${s.width}w` : `${s.width}x${s.height}`}`)
    .join(", ");
}

const JSON_FIELD = (path: string) => `node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).${path}'`;

/** The curl options that authenticate a private call. */
export function curlAuth(auth: CallerAuth): string {
  if (auth.mode === "apiKey") return `-H ${shellQuote(`x-api-key: ${auth.apiKey}`)}`;
  if (auth.mode === "jwt") return `-H "Authorization: Bearer $TOKEN"`;
  // curl signs SigV4 itself (7.75+), as the execute-api service in the local region.
  return `--aws-sigv4 ${shellQuote(`aws:amz:${LOCAL_REGION}:execute-api`)} --user ${shellQuote(`${auth.credentials.accessKeyId}:${auth.credentials.secretAccessKey}`)}`;
}

/** One example per route of the table, in its order, with a line saying what it does. */
export function curlExamples(url: string, auth: CallerAuth, settings: RuntimeSettings): string[] {
  const key = curlAuth(auth);
  const [size = "thumbnail", spec] = Object.entries(settings.sizes)[0] ?? [];
  const extension = EXTENSIONS[spec?.format ?? settings.output.format] ?? "img";
  const short = size === "thumbnail" ? "thumb" : size;
  const commands: Record<RouteKey, string[]> = {
    "POST /images": [
      `# photo.jpg is any JPEG; the answer is shown and its id kept in $ID for the next commands`,
      `ID=$(curl -s ${url}/images ${key} -H 'Content-Type: image/jpeg' --data-binary @photo.jpg | tee /dev/stderr | ${JSON_FIELD("id")})`,
      `# ... or as base64 JSON`,
      // Through stdin: as an argument, the base64 of a photo would pass Linux's 128 KiB limit for one.
      `{ printf '{"image": "'; base64 < photo.jpg | tr -d '\\n'; printf '", "name": "photo.jpg"}'; } | curl -s ${url}/images ${key} -H 'Content-Type: application/json' --data-binary @-`,
    ],
    "GET /images/{id}": [`curl -s ${url}/images/$ID ${key}`],
    "GET /images/{id}/{size}": [`curl -s ${url}/images/$ID/${size} ${key} -o ${short}.${extension}`],
    "DELETE /images/{id}": [`curl -s -X DELETE ${url}/images/$ID ${key} -o /dev/null -w '%{http_code}\\n'`],
    "PUT /images/{id}/focus": [`curl -s -X PUT ${url}/images/$ID/focus ${key} -H 'Content-Type: application/json' -d '{"x": 0.3, "y": 0.4}'`],
    "DELETE /images/{id}/focus": [`curl -s -X DELETE ${url}/images/$ID/focus ${key}`],
    "POST /uploads": [
      `# big.jpg over POST /images' limit (input.maxBytes, ${describeLimit(settings.input.maxBytes)}): ask for a presigned S3 URL bound to its type and length, then PUT it there`,
      `UP=$(curl -s ${url}/uploads ${key} -H 'Content-Type: application/json' -d "{\\"contentType\\": \\"image/jpeg\\", \\"contentLength\\": $(wc -c < big.jpg)}")`,
      `curl -s -X PUT "$(echo "$UP" | ${JSON_FIELD("upload.url")})" -H 'Content-Type: image/jpeg' --data-binary @big.jpg && ID=$(echo "$UP" | ${JSON_FIELD("id")})`,
    ],
    "GET /public/images/{id}/{size}": [
      `# no credentials: the signed publicUrl from GET /images/{id} (an <img src>)`,
      `curl -s "$(curl -s ${url}/images/$ID ${key} | ${JSON_FIELD("variants[0].publicUrl")})" -o ${short}-public.${extension}`,
    ],
  };
  return ROUTES.flatMap((route) => [`# ${route.method} ${route.resource}: ${route.summary}`, ...commands[`${route.method} ${route.resource}` as RouteKey]]);
}

function authLines(auth: CallerAuth, bold: (t: string) => string, dim: (t: string) => string): string[] {
  if (auth.mode === "apiKey") return [`  API key   ${bold(auth.apiKey)}`];
  if (auth.mode === "iam") {
    return [
      `  auth      SigV4 (execute-api, ${LOCAL_REGION}) on private routes ${dim("(the public route needs none)")}`,
      `  key id    ${bold(auth.credentials.accessKeyId)}`,
      `  secret    ${bold(auth.credentials.secretAccessKey)}`,
    ];
  }
  return [
    `  auth      bearer JWT from ${auth.issuer} for audience ${auth.audience} ${dim("(each image is its uploader's alone)")}`,
    ...(auth.token === undefined ? [] : [`  token     ${dim("(dev issuer, 1 hour):")} export TOKEN=${bold(auth.token)}`]),
  ];
}

export function banner(facts: BannerFacts, colour: boolean): string {
  const paint = (code: number) => (text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const bold = paint(1);
  const dim = paint(2);
  const green = paint(32);
  const lines = [
    `${bold("imgapi local")}  ${green(facts.url)}`,
    ...authLines(facts.auth, bold, dim),
    `  demo      ${green(facts.demoUrl)} ${dim("(open it in a browser: pick an image, see every size)")}`,
    ...(facts.auth.mode === "jwt" ? [] : [`  ${dim(`note      unless ${facts.auth.mode === "apiKey" ? `${API_KEY_ENV} is` : `${ACCESS_KEY_ID_ENV} and ${SECRET_ACCESS_KEY_ENV} are`} set, the ${facts.auth.mode === "apiKey" ? "API key is" : "key pair is"} new at each start; the URL-signing secret always is (signed URLs stop working on restart)`)}`]),
    `  bucket    ${facts.bucket} ${dim(`(local S3 on ${facts.s3Endpoint}, signed requests of this server only; data in ${facts.dataDir})`)}`,
    `  settings  ${facts.settingsSource} ${dim(`(sizes: ${describeSizes(facts.settings)})`)}`,
    "",
    "Try it:",
    ...curlExamples(facts.url, facts.auth, facts.settings).map((line) => `  ${line.startsWith("#") ? dim(line) : line}`),
    "",
    dim("Request logs follow. Ctrl-C stops."),
  ];
  return `${lines.join("\n")}\n`;
}
