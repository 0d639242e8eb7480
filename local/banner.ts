// What `npm start` prints once it listens: where, with which key, and one
// ready-to-paste curl command per route. Colours only on a terminal.
import type { RuntimeSettings } from "../config/schema.ts";
import { ROUTES } from "../function/routes.ts";

export interface BannerFacts {
  url: string;
  apiKey: string;
  bucket: string;
  s3Endpoint: string;
  dataDir: string;
  settingsSource: string;
  settings: RuntimeSettings;
}

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

/** One example per route of the table, in its order, with a line saying what it does. */
export function curlExamples(url: string, apiKey: string, settings: RuntimeSettings): string[] {
  const key = `-H ${shellQuote(`x-api-key: ${apiKey}`)}`;
  const [size = "thumbnail", spec] = Object.entries(settings.sizes)[0] ?? [];
  const extension = EXTENSIONS[spec?.format ?? settings.output.format] ?? "img";
  const short = size === "thumbnail" ? "thumb" : size;
  const commands: Record<(typeof ROUTES)[number]["resource"], string[]> = {
    "/images": [
      `# photo.jpg is any JPEG; the answer is shown and its id kept in $ID for the next commands`,
      `ID=$(curl -s ${url}/images ${key} -H 'Content-Type: image/jpeg' --data-binary @photo.jpg | tee /dev/stderr | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')`,
      `# ... or as base64 JSON`,
      // Through stdin: as an argument, the base64 of a photo would pass Linux's 128 KiB limit for one.
      `{ printf '{"image": "'; base64 < photo.jpg | tr -d '\\n'; printf '", "name": "photo.jpg"}'; } | curl -s ${url}/images ${key} -H 'Content-Type: application/json' --data-binary @-`,
    ],
    "/images/{id}": [`curl -s ${url}/images/$ID ${key}`],
    "/images/{id}/{size}": [`curl -s ${url}/images/$ID/${size} ${key} -o ${short}.${extension}`],
  };
  return ROUTES.flatMap((route) => [`# ${route.method} ${route.resource}: ${route.summary}`, ...commands[route.resource]]);
}

export function banner(facts: BannerFacts, colour: boolean): string {
  const paint = (code: number) => (text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const bold = paint(1);
  const dim = paint(2);
  const green = paint(32);
  const lines = [
    `${bold("imgapi local")}  ${green(facts.url)}`,
    `  API key   ${bold(facts.apiKey)}`,
    `  bucket    ${facts.bucket} ${dim(`(s3rver on ${facts.s3Endpoint}, data in ${facts.dataDir})`)}`,
    `  settings  ${facts.settingsSource} ${dim(`(sizes: ${describeSizes(facts.settings)})`)}`,
    "",
    "Try it:",
    ...curlExamples(facts.url, facts.apiKey, facts.settings).map((line) => `  ${line.startsWith("#") ? dim(line) : line}`),
    "",
    dim("Request logs follow. Ctrl-C stops."),
  ];
  return `${lines.join("\n")}\n`;
}
