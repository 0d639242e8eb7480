// The deploy, teardown and reprocess flags (deploy/cli.ts): the mistakes a
// newcomer makes first get a usage error (exit 2 in the CLIs) that says what
// they meant, never a TypeError from deep in the SDK.
import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../config/load.ts";
import { destroyClients } from "../deploy/aws-clients.ts";
import { awsCliOptions, clientsFromFlags, COMMON_FLAGS, formatStep, helpText, parseFlags, UsageError } from "../deploy/cli.ts";
import { credentialsHint } from "../deploy/errors.ts";

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

test("a --profile (or AWS_PROFILE) the shared files do not have is a usage error naming the profiles they have", () => {
  const dir = mkdtempSync(join(tmpdir(), "imgapi-profiles-"));
  try {
    writeFileSync(join(dir, "config"), "[default]\nregion = eu-west-1\n\n[profile work]\nsso_session = x\n");
    writeFileSync(join(dir, "credentials"), "[ci]\naws_access_key_id = A\naws_secret_access_key = B\n");
    const env = { AWS_CONFIG_FILE: join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") };
    const config = parseConfig({ stackName: "imgapi-dev", region: "eu-west-1", sizes: { thumb: { width: 10 } } });
    assert.throws(() => clientsFromFlags({ profile: "nosuch" }, config, env), (e: Error) => e instanceof UsageError && e.message.startsWith(`No AWS profile named "nosuch" in ${env.AWS_CONFIG_FILE} or ${env.AWS_SHARED_CREDENTIALS_FILE}; the profiles there: ci, default, work. Set it up with: aws configure --profile nosuch`));
    assert.throws(() => clientsFromFlags({}, config, { ...env, AWS_PROFILE: "typo" }), /No AWS profile named "typo" \(AWS_PROFILE\)/);
    for (const profile of ["work", "ci", "default"]) destroyClients(clientsFromFlags({ profile }, config, env));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no credentials at all, or credentials AWS refuses, name the commands that fix them", () => {
  assert.match(credentialsHint("CredentialsProviderError", "Could not load credentials from any providers") ?? "", /^No AWS credentials were found\. Run aws configure \(access keys\) or aws sso login .*aws sts get-caller-identity$/);
  assert.match(credentialsHint("ExpiredTokenException", "The security token included in the request is expired") ?? "", /expired\. Refresh them \(aws sso login/);
  assert.match(credentialsHint("InvalidClientTokenId", "The security token included in the request is invalid.") ?? "", /AWS refused the credentials/);
  assert.equal(credentialsHint("AccessDenied", "User is not authorized"), undefined, "a missing permission keeps its own hint");
});

test("the commands deploy prints carry this run's --profile and --endpoint-url, quoted for a shell", () => {
  assert.equal(awsCliOptions({}), "");
  assert.equal(awsCliOptions({ profile: "dev", "endpoint-url": "http://127.0.0.1:5000" }), " --profile dev --endpoint-url http://127.0.0.1:5000");
  assert.equal(awsCliOptions({ profile: "it's mine" }), ` --profile 'it'\\''s mine'`);
});

test("step lines keep their columns whatever the names: the action, then the resource type, then the name", () => {
  const lines = [
    formatStep({ resource: "IAM permissions boundary", name: "imgapi-dev-fn-boundary", action: "created" }, false),
    formatStep({ resource: "S3 bucket (images)", name: "a-twenty-four-char-stack-images-123456789012-ap-southeast-2", action: "unchanged", detail: "hardened" }, false),
    formatStep({ resource: "KMS key", name: "alias/x", action: "updated" }, false),
  ]; // not a terminal: no colour codes
  const starts = (pattern: RegExp) => lines.map((l) => l.search(pattern));
  assert.deepEqual(starts(/(IAM permissions boundary|S3 bucket|KMS key)/), [12, 12, 12], lines.join("\n"));
  assert.deepEqual(starts(/(imgapi-dev-fn-boundary|a-twenty|alias\/x)/), [37, 37, 37], lines.join("\n"));
  const dry = formatStep({ resource: "KMS key", name: "alias/x", action: "created" }, true);
  assert.equal(dry, "+ would be created KMS key                  alias/x");
});
