// `npm run test:unit` (npm test's second stage): every test/*.test.ts, three
// files at a time, the longest first. node:test starts the files in the order
// given, so with the alphabetical order a long deploy suite could start last
// and run alone while the other slots sat idle; longest first keeps both cores
// busy to the end. Three at a time rather than two: the moto suites spend part
// of each call waiting on the other process (Node for moto, moto for Node), and
// a third file fills those gaps (a quiet run: 12 min 23 s at two, 11 min 43 s
// at three). A file missing from LONGEST runs after them, alphabetically; the
// list only orders, it never selects.
//
// Arguments are passed to the runner, so `npm run test:unit -- test/keys.test.ts`
// runs just that file (any argument ending in .test.ts replaces the list).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";

/** Measured wall time alone, longest first (a quiet full run, per file). */
const LONGEST = [
  "deploy-features",
  "deploy-stack",
  "deploy-cdn",
  "deploy-strict",
  "docs-moto",
  "deploy-resources",
  "deploy-api-drift",
  "deploy-jwt",
  "deploy-api-resume",
  "browser-demo",
  "hostile-input",
  "newcomer-errors",
  "image-answers-moto",
  "deploy-faults",
  "reprocess",
  "browser-jwt",
  "s3-faults",
  "load",
  "node22",
  "policy-moto",
  "image-core",
  "openapi",
  "lambda-zip-run",
  "browser",
  "function-zip",
].map((name) => `test/${name}.test.ts`);

const all = readdirSync("test")
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => `test/${f}`)
  .sort();
for (const f of LONGEST.filter((f) => !all.includes(f))) console.warn(`scripts/test.mjs: ${f} is in LONGEST but not in test/ (renamed?)`);

const args = process.argv.slice(2);
const chosen = args.filter((a) => a.endsWith(".test.ts"));
const files = chosen.length > 0 ? chosen : [...LONGEST.filter((f) => all.includes(f)), ...all.filter((f) => !LONGEST.includes(f))];

const child = spawn(
  process.execPath,
  ["node_modules/tsx/dist/cli.mjs", "--test", "--test-concurrency=3", "--test-timeout=600000", ...args.filter((a) => !a.endsWith(".test.ts")), ...files],
  { stdio: "inherit", env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
