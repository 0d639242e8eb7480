// `npm test`'s first stage: the type check and the lint at once. Each is
// single-threaded, so side by side they take the time of the longer one on a
// 2-core machine. Their outputs are printed whole, one after the other, and the
// exit code is non-zero when either failed.
import { spawn } from "node:child_process";

const run = (script) =>
  new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", script], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("close", (code) => resolve({ script, code, output }));
  });

const results = await Promise.all(["typecheck", "lint"].map(run));
for (const { script, code, output } of results) {
  process.stdout.write(`> ${script}: ${code === 0 ? "ok" : `failed (exit ${code})`}\n${output}`);
}
process.exitCode = results.some((r) => r.code !== 0) ? 1 : 0;
