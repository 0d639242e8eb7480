// The deploy, keys and teardown command lines of README.md and docs/, run as
// written against moto: each distinct line once, deploys first, then the keys
// commands, then teardowns (the order a reader follows across pages), each
// with --config pointing at a copy of config.example.json (the README's `cp`)
// and --endpoint-url at moto. Each must exit 0. The reprocess lines are only
// parsed (test/docs-commands.test.ts): they invoke the deployed function,
// which moto runs in Docker only.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DeleteBucketPolicyCommand, S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../config/load.ts";
import { resourceNames } from "../deploy/names.ts";
import { commandsOf, fencedBlocks, isShell, readmeThenLinkedDocs, ROOT, wordsOf } from "./support/doc-pages.ts";
import { runCli } from "./support/cli-run.ts";
import { clientConfig, startMoto, type Moto } from "./support/moto.ts";

const ORDER = ["deploy", "keys", "teardown"] as const;
const CLI = /^(deploy|keys|teardown)\/index\.ts$/;

/** The distinct deploy, keys and teardown lines of the docs, in reading order within each command. */
function docLines(): Array<{ at: string; words: string[] }> {
  const seen = new Set<string>();
  const lines: Array<{ at: string; words: string[]; cli: string }> = [];
  for (const block of readmeThenLinkedDocs().flatMap(fencedBlocks).filter(isShell)) {
    for (const command of commandsOf(block.text)) {
      const words = wordsOf(command);
      const cli = words[0] === "npx" && words[1] === "tsx" ? CLI.exec(words[2] ?? "")?.[1] : undefined;
      if (cli === undefined || seen.has(words.join(" "))) continue;
      seen.add(words.join(" "));
      lines.push({ at: `${block.page}:${block.line}`, words, cli });
    }
  }
  return ORDER.flatMap((cli) => lines.filter((l) => l.cli === cli));
}

let moto: Moto;
let dir: string;
before(async () => {
  moto = await startMoto();
  dir = mkdtempSync(join(tmpdir(), "imgapi-docs-"));
});
after(async () => {
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("every deploy, keys and teardown line of README.md and docs/ runs against moto and exits 0", async (t) => {
  const lines = docLines();
  assert.deepEqual([...new Set(lines.map((l) => CLI.exec(l.words[2]!)![1]))], [...ORDER], "the docs show each command");
  const config = join(dir, "config.json");
  copyFileSync(join(ROOT, "config.example.json"), config);
  const { stackName, region } = loadConfig(config);
  const names = resourceNames(stackName, "123456789012", region);
  const s3 = new S3Client({ ...clientConfig(moto), forcePathStyle: true });
  try {
    for (const { at, words } of lines) {
      const extra = ["--config", config, "--endpoint-url", moto.endpoint];
      // Not a terminal: teardown asks for --yes instead of the stack name (the docs say so).
      if (words[2] === "teardown/index.ts" && !words.includes("--yes")) extra.push("--yes");
      // moto applies the buckets' TLS-only Deny without its condition, so every object delete is
      // refused; the fix the error message names (docs/troubleshooting.md) is applied first.
      if (words.some((w) => w.startsWith("--delete-"))) {
        for (const Bucket of [names.imagesBucket, names.trailBucket]) await s3.send(new DeleteBucketPolicyCommand({ Bucket })).catch(() => undefined);
      }
      const { code, stdout, stderr } = await runCli(words[2]!, [...words.slice(3), ...extra]);
      const output = stdout + stderr;
      t.diagnostic(`${at}: ${words.slice(2).join(" ")} -> exit ${code}`);
      assert.equal(code, 0, `${at}: ${words.join(" ")}\n${output.slice(-3000)}`);
    }
  } finally {
    s3.destroy();
  }
});
