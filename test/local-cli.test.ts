// `npm start` as a user runs it: the flags, the banner or the JSON line, Ctrl-C,
// and what one hostile request to the printed storage port can (not) do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

const ROOT = new URL("..", import.meta.url).pathname;

describe("the CLI (npm start)", () => {
  const tsx = join(ROOT, "node_modules", ".bin", "tsx");
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), "imgapi-cli-"));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  function run(args: string[], env: NodeJS.ProcessEnv = {}) {
    return spawn(tsx, ["local/index.ts", ...args], { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  }

  async function finished(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = run(args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stdout, stderr };
  }

  test("--json prints one line {url, apiKey, bucket}, serves it, and Ctrl-C stops it cleanly", async () => {
    const child = run(["--port", "0", "--json", "--data-dir", dataDir], { API_KEY: "cli-test-key" });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code} before printing`)));
      });
      const printed = JSON.parse(line) as { url: string; apiKey: string; bucket: string };
      assert.deepEqual(Object.keys(printed).sort(), ["apiKey", "bucket", "url"]);
      assert.match(printed.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(printed.apiKey, "cli-test-key");
      assert.equal(printed.bucket, "imgapi-local");
      const res = await fetch(`${printed.url}/images/${randomUUID()}`, { headers: { "x-api-key": "cli-test-key" } });
      assert.equal(res.status, 404);
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("the storage whose port the banner prints refuses anonymous requests and outlives s3rver's crash request", async () => {
    const child = run(["--port", "0", "--data-dir", dataDir]);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let stdout = "";
    try {
      const [api, storage] = await new Promise<[string, string]>((resolve, reject) => {
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          const url = /^imgapi local {2}(\S+)/m.exec(stdout)?.[1];
          const endpoint = /\(local S3 on (http:\/\/127\.0\.0\.1:\d+),/.exec(stdout)?.[1];
          if (url !== undefined && endpoint !== undefined) resolve([url, endpoint]);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code} before printing the storage:\n${stdout}`)));
      });
      const listing = await fetch(`${storage}/imgapi-local?list-type=2`);
      assert.deepEqual([listing.status, /<Code>(\w+)<\/Code>/.exec(await listing.text())?.[1]], [403, "AccessDenied"]);
      // GHSA-wm7h-9275-46v2: dicer, under s3rver, threw on a header line starting with a space and took the process down.
      const boundary = "----WebKitFormBoundaryoo6vortfDzBsDiro";
      const crash = await fetch(`${storage}/imgapi-local`, {
        method: "POST",
        headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
        body: `--${boundary}\r\n Content-Disposition: form-data; name="x"\r\n\r\n\r\n--${boundary}--`,
      });
      assert.equal(crash.status, 403);
      const afterwards = await fetch(`${api}/images/${randomUUID()}`, { headers: { "x-api-key": "wrong" } });
      assert.equal(afterwards.status, 403, "the API still answers");
      assert.equal(child.exitCode, null, "the process is still running");
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("--help lists every flag and exits 0", async () => {
    const { code, stdout } = await finished(["--help"]);
    assert.equal(code, 0);
    for (const flag of ["--port", "--config", "--data-dir", "--json", "--help", "--auth", "API_KEY", "PORT", "NO_COLOR", "/demo/"]) assert.ok(stdout.includes(flag), `${flag} in:\n${stdout}`);
  });

  test("without a terminal: no colour or progress escapes, and the banner names the demo page, which it serves, and says what a restart changes", async () => {
    const child = run(["--port", "0", "--data-dir", dataDir]);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      const demoUrl = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
          const found = /^ {2}demo\s+(\S+)/m.exec(stdout);
          if (found && /^Try it:/m.test(stdout)) resolve(found[1]!);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code} before printing the demo page:\n${stdout}${stderr}`)));
      });
      assert.match(demoUrl, /^http:\/\/127\.0\.0\.1:\d+\/demo\/$/);
      assert.match(stdout, /unless API_KEY is set, the API key is new at each start; the URL-signing secret always is/, "the banner says what a restart changes");
      assert.equal((await fetch(demoUrl)).status, 200);
      assert.ok(!stdout.includes("\x1b") && !stderr.includes("\x1b"), `no escape codes:\n${JSON.stringify(stdout + stderr)}`);
      child.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("an unknown flag or a bad port exits 2 and says why", async () => {
    const unknown = await finished(["--bogus"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^Unknown option '--bogus'\n/);
    assert.match(unknown.stderr, /--help/);
    const badPort = await finished(["--port", "abc"]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /Expected an integer from 0 to 65535 for --port but received "abc"/);
  });

  test("a config file that is not there exits 2, as deploy does, and says how to make one", async () => {
    const { code, stderr } = await finished(["--config", join(dataDir, "nope.json"), "--port", "0", "--data-dir", dataDir]);
    assert.equal(code, 2);
    assert.match(stderr, /nope\.json is not valid:\n {2}- file not found: copy config\.example\.json/);
  });
});
