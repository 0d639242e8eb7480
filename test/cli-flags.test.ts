// The deploy, teardown and reprocess flags (deploy/cli.ts): the mistakes a
// newcomer makes first get a usage error (exit 2 in the CLIs) that says what
// they meant, never a TypeError from deep in the SDK.
import assert from "node:assert/strict";
import { test } from "node:test";
import { COMMON_FLAGS, helpText, parseFlags, UsageError } from "../deploy/cli.ts";

const usage = (argv: string[]) => {
  try {
    parseFlags(argv, COMMON_FLAGS);
  } catch (e) {
    assert.ok(e instanceof UsageError, `${(e as Error).name}: ${(e as Error).message}`);
    return e.message;
  }
  return assert.fail(`${argv.join(" ")} was accepted`);
};

test("a misspelt flag is named with the flag meant", () => {
  assert.equal(usage(["--dryrun"]), "Unknown flag --dryrun. Did you mean --dry-run? Run with --help to see every flag.");
  assert.equal(usage(["--jsn"]), "Unknown flag --jsn. Did you mean --json? Run with --help to see every flag.");
  assert.equal(usage(["--endpoint", "http://x"]), "Unknown flag --endpoint. Did you mean --endpoint-url? Run with --help to see every flag.");
  assert.equal(usage(["--xyz"]), "Unknown flag --xyz. Run with --help to see every flag.", "no guess when nothing is close");
});

test("an argument without a flag says that settings live in config.json", () => {
  assert.match(usage(["stackname"]), /^Unexpected argument "stackname": this command takes only flags \(settings such as stackName live in config\.json\)\./);
  assert.match(usage(["profile"]), /Did you mean --profile\?/);
});

test("--endpoint-url without a scheme is a usage error, not a TypeError later", () => {
  assert.match(usage(["--endpoint-url", "127.0.0.1:5000"]), /^Expected a URL with its scheme for --endpoint-url, such as http:\/\/127\.0\.0\.1:5000, but received "127\.0\.0\.1:5000"\./);
  assert.deepEqual({ ...parseFlags(["--endpoint-url", "http://127.0.0.1:5000"], COMMON_FLAGS) }, { "endpoint-url": "http://127.0.0.1:5000" });
});

test("-h is --help, and the help says so", () => {
  assert.deepEqual({ ...parseFlags(["-h"], COMMON_FLAGS) }, { help: true });
  assert.match(helpText("deploy", "Deploys.", COMMON_FLAGS), /^ {2}-h, --help +show this help$/m);
});
