// `npm run test:unit` (npm test's second stage): every test/*.test.ts, three
// files at a time, the longest first.
// - Three, not two: the moto suites spend part of each call waiting between
//   Node and moto, and a third file fills those gaps (quiet runs of the same
//   commit: 12 min 23 s at two, 11 min 43 s at three).
// - Longest first, so that a long deploy suite never runs alone at the end.
//   `node --test a b` sorts its arguments; node:test's run() keeps this order.
//   A file missing from LONGEST runs after them, alphabetically: the list
//   orders, it never selects.
//
// `npm run test:unit -- test/keys.test.ts test/config.test.ts` runs just those.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { run } from "node:test";
import { tap } from "node:test/reporters";

/** The longest files, longest first: wall time per file in a quiet full run. */
const LONGEST = [
  "deploy-features",
  "deploy-stack",
  "deploy-cdn",
  "deploy-strict",
  "deploy-cli",
  "deploy-resources",
  "deploy-jwt",
  "docs-moto",
  "lambda-zip-run",
  "hostile-input",
  "image-answers-moto",
  "browser-demo",
  "deploy-api-drift",
  "newcomer-errors",
  "deploy-faults",
  "deploy-api-resume",
  "function-zip",
  "browser-jwt",
  "s3-faults",
  "image-core",
  "policy-moto",
  "load",
  "reprocess",
  "openapi",
  "node22",
  "browser",
  "browser-uploads",
  "deploy-drift",
  "local-cli",
].map((name) => `test/${name}.test.ts`);

const all = readdirSync("test")
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => `test/${f}`)
  .sort();
for (const f of LONGEST.filter((f) => !all.includes(f))) console.warn(`scripts/test.mjs: ${f} is in LONGEST but not in test/ (renamed?)`);

const chosen = process.argv.slice(2).filter((a) => a.endsWith(".test.ts"));
const files = chosen.length > 0 ? chosen : [...LONGEST.filter((f) => all.includes(f)), ...all.filter((f) => !LONGEST.includes(f))];

// Each file runs in its own process, with this one's execArgv (--import tsx).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
// The interpreter behind `python3`, for test/support/moto.ts to start moto
// with directly rather than through a version manager's shim each time.
if (process.env.IMGAPI_PYTHON === undefined) {
  const python = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
  if (python.status === 0 && python.stdout.trim() !== "") process.env.IMGAPI_PYTHON = python.stdout.trim();
}
const stream = run({ files, concurrency: 3, timeout: 600_000 });
stream.on("test:fail", (data) => {
  if (!data.todo) process.exitCode = 1; // as `node --test`: a failing todo test is not a failure
});
stream.compose(tap).pipe(process.stdout);
