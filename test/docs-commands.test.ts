// Every command README.md and docs/ show in a ```sh block is run or checked:
// the curl blocks run against the local server (test/readme-curl.test.ts);
// each deploy, teardown and reprocess command line is parsed by that command's
// own flag parser (a renamed or removed flag fails here); npm commands name
// scripts package.json has; the deployer-policy loop runs with a stand-in for
// the AWS CLI. The deploy, keys and teardown lines then run as written against
// moto in test/docs-moto.test.ts (the reprocess lines need the function run,
// which moto does only in Docker). A command none of these covers fails, and
// so does a command line hidden in a ```text block.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { parseFlags, type FlagSpec } from "../deploy/cli.ts";
import { commandsOf, docsPages, fencedBlocks, isRunByCurlTest, isShell, readmeThenLinkedDocs, ROOT, wordsOf, type Block, type Page } from "./support/doc-pages.ts";

const pages: Page[] = [...readmeThenLinkedDocs()];
for (const path of docsPages()) if (!pages.some((p) => p.path === path)) pages.push({ path, text: readFileSync(join(ROOT, path), "utf8") });
const blocks = pages.flatMap(fencedBlocks);
const shell = blocks.filter(isShell);
/** The deployer-policy loop: run below with a stand-in for the AWS CLI. */
const isPolicyLoop = (b: Block) => b.text.includes("aws iam create-policy");
const checked = shell.filter((b) => !isRunByCurlTest(b) && !isPolicyLoop(b)).flatMap((b) => commandsOf(b.text).map((command) => ({ at: `${b.page}:${b.line}`, command, words: wordsOf(command) })));
const CLI = /^([a-z]+)\/index\.ts$/;
const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;

/** What a command is, for the checks below; undefined for a command no check covers. */
function kindOf(words: string[]): "cli" | "npm" | "cp" | undefined {
  if (words[0] === "npx" && words[1] === "tsx" && CLI.test(words[2] ?? "")) return "cli";
  if (words[0] === "npm") return "npm";
  if (words[0] === "cp") return "cp";
  return undefined;
}

describe("the commands of README.md and docs/", () => {
  test("every command of a ```sh block is run or checked by a test", () => {
    assert.ok(checked.length > 0 && shell.some(isPolicyLoop) && shell.some(isRunByCurlTest), "the blocks this test expects are there");
    for (const { at, command, words } of checked) {
      assert.ok(kindOf(words) !== undefined, `${at}: \`${command}\` is neither run nor checked: run it in test/readme-curl.test.ts, or check it in test/docs-commands.test.ts`);
    }
  });

  test("no command line hides in a block that is not ```sh", () => {
    for (const b of blocks.filter((b) => !isShell(b) && ["", "text", "console"].includes(b.lang))) {
      for (const line of b.text.split("\n")) {
        assert.doesNotMatch(line, /^\s*(\$\s+)?(npx|npm|curl|aws|node|cp|sed)\s/, `${b.page}:${b.line} shows a command in a \`\`\`${b.lang} block: make it \`\`\`sh so the docs tests run or check it`);
      }
    }
  });

  test("each deploy, teardown and reprocess command line parses with the command's own flags", async () => {
    const lines = checked.filter((c) => kindOf(c.words) === "cli");
    const seen = new Set<string>();
    for (const { at, command, words } of lines) {
      const dir = CLI.exec(words[2]!)![1]!;
      // keys takes a command and a NAME before its flags: it parses its own lines.
      const cli = (await import(`../${dir}/index.ts`)) as { FLAGS?: Record<string, FlagSpec>; parseCommandLine?: (argv: string[]) => unknown };
      assert.ok(cli.FLAGS !== undefined, `${dir}/index.ts exports its FLAGS, so ${at} can be checked`);
      const parse = cli.parseCommandLine ?? ((argv: string[]) => parseFlags(argv, cli.FLAGS!));
      assert.doesNotThrow(() => parse(words.slice(3)), `${at}: ${command}`);
      seen.add(dir);
    }
    assert.deepEqual([...seen].sort(), ["deploy", "keys", "reprocess", "teardown"], "the docs show each command");
  });

  test("npm commands name what npm and package.json have; cp copies a file that exists", () => {
    for (const { at, command, words } of checked) {
      if (kindOf(words) === "npm") {
        const [, verb, script, ...rest] = words;
        if (verb === "run") assert.ok(script !== undefined && script in scripts, `${at}: no script ${script} in package.json (${command})`);
        else {
          assert.ok(["install", "ci", "start", "test"].includes(verb!), `${at}: ${command}`);
          if (verb === "start" || verb === "test") assert.ok(verb in scripts, `${at}: no ${verb} script`);
          assert.equal([script, ...rest].filter((w) => w !== undefined).length, 0, `${at}: arguments are not checked here; show them inline: ${command}`);
        }
      }
      if (kindOf(words) === "cp") assert.ok(existsSync(join(ROOT, words[1]!)), `${at}: ${words[1]} does not exist`);
    }
  });

  test("the deployer-policy loop writes both policies with every placeholder filled", async () => {
    const loop = shell.find(isPolicyLoop)!;
    const dir = mkdtempSync(join(tmpdir(), "imgapi-docs-policy-"));
    try {
      symlinkSync(join(ROOT, "deploy"), join(dir, "deploy"));
      // Stands in for the AWS CLI: records each call, and reads the policy document it is given.
      const aws = `aws() { printf '%s\\n' "$*" >> aws-calls.txt; local doc=\${@: -1}; node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "\${doc#file://}"; }`;
      await promisify(execFile)("bash", ["-c", `set -euo pipefail\n${aws}\n${loop.text}`], { cwd: dir });
      const calls = readFileSync(join(dir, "aws-calls.txt"), "utf8").trim().split("\n");
      assert.deepEqual(calls, ["deployer-policy", "deployer-policy-services", "deployer-policy-cdn"].map((f) => `iam create-policy --policy-name imgapi-dev-${f} --policy-document file://${f}.json`));
      for (const f of ["deployer-policy", "deployer-policy-services", "deployer-policy-cdn"]) {
        const text = readFileSync(join(dir, `${f}.json`), "utf8");
        assert.doesNotMatch(text, /STACK|ACCOUNT_ID|PARTITION/, `${f}.json has no placeholder left`);
        assert.match(text, /"arn:aws:[^"]*123456789012:[^"]*imgapi-dev/, `${f}.json names the partition, the account and the stack`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
