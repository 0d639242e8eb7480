// Every curl example of README.md and docs/, run as written against the local
// server: the ```sh blocks that hold a curl run in one bash script, README.md
// first, then each docs/ page in the order README.md links them (so `ID=$(...)`
// carries over), with the pages' `API=` and `KEY=` lines pointed at the server
// and photo.jpg a real photo. Each curl must answer 2xx, and the files it
// saves must be images of the configured sizes. The newman command runs from
// the repository's root with its baseUrl and apiKey pointed at the server.
// test/docs-commands.test.ts checks the blocks' other commands.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import sharp from "sharp";
import { ROUTES } from "../function/routes.ts";
import { settingsFromEnv } from "../config/runtime-env.ts";
import { shellQuote } from "../local/banner.ts";
import { startLocalServer, type LocalServer } from "../local/server.ts";
import { commandsOf, curlCount, fencedBlocks, isNewman, isShell, readmeThenLinkedDocs, ROOT, runnable, type Block } from "./support/doc-pages.ts";
import { FIXTURES_DIR } from "./support/fixtures.ts";

// 2725x2225: thumbnail is cropped to its box, medium and large keep the aspect
// ratio (800x653.2, 1600x1306.4).
const PHOTO = join(FIXTURES_DIR, "valid/sharp_2569067123_aca715a2ee_o.jpg");
const PHOTO_SIZES: Record<string, [number, number]> = { thumbnail: [150, 150], medium: [800, 653], large: [1600, 1306] };
/** The files the examples may read, made in their working folder. */
const PREPARED = ["photo.jpg"];
/** What the wrapper around curl writes to stderr after each call. */
const STATUS_LINE = /^readme-curl: (\d{3}) (\S+) (\S+)$/;

function scriptFor(blocks: Block[], values: { API: string; KEY: string }): string {
  const lines = [
    "set -euo pipefail",
    // Every curl of the docs goes through here: an HTTP error (>= 400) fails
    // the command, and each call's final status goes to stderr.
    `curl() { command curl --fail-with-body -w '%{stderr}readme-curl: %{http_code} %{method} %{url_effective}\\n' "$@"; }`,
  ];
  for (const block of blocks) {
    lines.push(`echo 'readme-curl: block ${block.page}:${block.line}' >&2`);
    // The pages' placeholders give way to the running server's URL and key.
    const text = block.text.replace(/^(\s*)(API|KEY)=.*$/gm, (_, indent: string, name: "API" | "KEY") => `${indent}${name}=${shellQuote(values[name])}`);
    if (!commandsOf(text).some(isNewman)) lines.push(text);
    else lines.push(`(cd ${shellQuote(ROOT)} && ${text.replace(/baseUrl=\S+/g, `baseUrl=${shellQuote(values.API)}`).replace(/apiKey=\S+/g, `apiKey=${shellQuote(values.KEY)}`)})`);
  }
  return `${lines.join("\n")}\n`;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  statuses: { status: number; method: string; url: string }[];
  ms: number;
}

async function runScript(script: string, cwd: string): Promise<Run> {
  const started = performance.now();
  let code = 0;
  let stdout = "";
  let stderr = "";
  try {
    ({ stdout, stderr } = await promisify(execFile)("bash", ["-c", script], { cwd, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }));
  } catch (e) {
    const failed = e as { code?: number; stdout?: string; stderr?: string };
    code = typeof failed.code === "number" ? failed.code : 1;
    stdout = failed.stdout ?? "";
    stderr = failed.stderr ?? String(e);
  }
  const statuses = stderr
    .split("\n")
    .map((line) => STATUS_LINE.exec(line))
    .filter((m) => m !== null)
    .map((m) => ({ status: Number(m[1]), method: m[2]!, url: m[3]! }));
  return { code, stdout, stderr, statuses, ms: Math.round(performance.now() - started) };
}

describe("the curl examples of README.md and docs/", () => {
  const settings = settingsFromEnv({});
  const blocks = runnable(readmeThenLinkedDocs().flatMap(fencedBlocks).filter(isShell));
  const curls = blocks.flatMap((b) => commandsOf(b.text).filter((c) => curlCount(c) > 0).map((command) => ({ at: `${b.page}:${b.line}`, command })));
  let server: LocalServer;
  let dataDir: string;
  let workDir: string;
  let run: Run;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-readme-s3-"));
    workDir = mkdtempSync(join(tmpdir(), "imgapi-readme-cwd-"));
    copyFileSync(PHOTO, join(workDir, "photo.jpg"));
    server = await startLocalServer({ port: 0, dataDir, settings, log: () => {} });
    run = await runScript(scriptFor(blocks, { API: server.url, KEY: server.apiKey }), workDir);
  });
  after(async () => {
    await server?.close();
    for (const dir of [dataDir, workDir]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("read only the files this test prepares", () => {
    const inputs = curls.flatMap(({ command }) => [...command.matchAll(/(?:@|<\s*)([\w./-]+)/g)].map((m) => m[1]!)).filter((f) => f !== "-");
    for (const input of inputs) assert.ok(PREPARED.includes(input), `the docs read ${input}: prepare it in the before() hook of test/readme-curl.test.ts`);
  });

  test("cover every route: both kinds of upload, the list, each configured size, public URLs, large uploads, delete", () => {
    assert.deepEqual(Object.keys(settings.sizes), Object.keys(PHOTO_SIZES), "the sizes this test expects are the configured ones");
    const all = curls.map((c) => c.command);
    assert.ok(all.some((c) => /-X POST "\$API\/images[?"]/.test(c) && c.includes("--data-binary @photo.jpg")), "a raw upload");
    assert.ok(all.some((c) => /-X POST "\$API\/images"/.test(c) && c.includes("application/json") && c.includes("base64")), "a base64 JSON upload");
    assert.ok(all.some((c) => c.includes('"$API/images/$ID"')), "the list of sizes");
    for (const size of Object.keys(settings.sizes)) assert.ok(all.some((c) => c.includes(`"$API/images/$ID/${size}"`)), `fetching ${size}`);
    assert.ok(all.some((c) => /curl -sS "\$PUBLIC"/.test(c)), "a signed public URL");
    assert.ok(all.some((c) => /-X POST "\$API\/uploads"/.test(c)) && all.some((c) => /-X PUT "\$PUT_URL"/.test(c)), "a presigned large upload");
    assert.ok(all.some((c) => /-X DELETE "\$API\/images\/\$ID"/.test(c)), "a delete");
    // Every route of the table appears; only the public URL and the presigned PUT go without the key.
    for (const route of ROUTES) {
      const path = route.resource.replace("{id}", "$ID").replace("/{size}", "");
      assert.ok(all.some((c) => (route.access === "public" ? c.includes("$PUBLIC") : c.includes(`"$API${path}`) && (route.method === "GET" || c.includes(`-X ${route.method}`)))), `${route.method} ${route.resource} has an example`);
    }
    for (const c of all.filter((c) => c.includes("$API"))) assert.match(c, /-H "x-api-key: \$KEY"/, `every call to the API sends the key: ${c}`);
  });

  test("run in order against the local server, each answering 2xx", (t) => {
    const where = (i: number) => (curls[i] === undefined ? "" : ` (block at ${curls[i]!.at}: ${curls[i]!.command})`);
    // The command that failed: the first that did not answer 2xx, else the one after the last answer.
    const failed = run.statuses.findIndex((s) => s.status < 200 || s.status > 299);
    assert.equal(run.code, 0, `the script failed${where(failed === -1 ? run.statuses.length : failed)}:\n${run.stderr}`);
    assert.equal(run.statuses.length, curls.length, `one answer per curl command:\n${run.stderr}`);
    run.statuses.forEach((s, i) => assert.ok(s.status >= 200 && s.status < 300, `${s.status} from ${s.method} ${s.url}${where(i)}`));
    assert.ok(
      run.statuses.every((s) => s.url.startsWith(`${server.url}/`) || s.url.startsWith(`${server.s3.endpoint}/`)),
      "every call went to the local server (or, for the presigned upload, its S3)",
    );
    t.diagnostic(`${curls.length} curl commands in ${run.ms} ms: ${run.statuses.map((s) => `${s.method} ${s.status}`).join(", ")}`);
  });

  test("the newman command runs the Postman collection with no failure", () => {
    const newmanCommands = blocks.flatMap((b) => commandsOf(b.text)).filter(isNewman);
    assert.equal(newmanCommands.length, 1, "the docs' Postman section has one newman command");
    const table = /assertions\s*│\s*(\d+)\s*│\s*(\d+)/.exec(run.stdout);
    assert.ok(table !== null, `newman printed no summary:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
    assert.ok(Number(table[1]) > 0 && Number(table[2]) === 0, `newman: ${table[1]} assertions, ${table[2]} failed`);
  });

  test("the uploads answer 201 Created", () => {
    const uploads = run.statuses.filter((s) => s.method === "POST");
    assert.ok(uploads.length >= 3, `${uploads.length} uploads`);
    for (const s of uploads) assert.equal(s.status, 201, s.url);
  });

  test("the files they save are images with the configured dimensions", async () => {
    const saved = curls.flatMap(({ command }) => {
      const file = /\s-o\s+(\S+)/.exec(command)?.[1];
      const size = /\/images\/\$ID\/([A-Za-z0-9_-]+)"/.exec(command)?.[1];
      return file === undefined || size === undefined ? [] : [{ file, size }];
    });
    assert.deepEqual([...new Set(saved.map((s) => s.size))].sort(), Object.keys(settings.sizes).sort(), "every configured size saved");
    for (const { file, size } of saved) {
      const meta = await sharp(join(workDir, file)).metadata();
      const format = file.split(".").pop() === "jpg" ? "jpeg" : file.split(".").pop();
      assert.deepEqual([meta.format, meta.width, meta.height], [format, ...PHOTO_SIZES[size]!], `${file} (${size})`);
    }
  });
});
