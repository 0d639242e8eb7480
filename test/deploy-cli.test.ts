// deploy/index.ts and teardown/index.ts as a user runs them: flags, help, exit
// codes, --json for scripts, and config.example.json deploying as it is, with
// the real function zip, against moto.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, type Ran } from "./support/cli-run.ts";
import { startMoto, type Moto } from "./support/moto.ts";

function runScript(script: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return runCli(script, args, { env });
}

const deployCli = (args: string[], env?: Record<string, string>) => runScript("deploy/index.ts", args, env);
const teardownCli = (args: string[], env?: Record<string, string>) => runScript("teardown/index.ts", args, env);

describe("CLI manners", () => {
  test("--help lists every flag and exits 0", async () => {
    const d = await deployCli(["--help"]);
    assert.equal(d.code, 0);
    for (const flag of ["--config", "--profile", "--region", "--endpoint-url", "--dry-run", "--json", "--help"]) assert.ok(d.stdout.includes(flag), flag);
    const t = await teardownCli(["--help"]);
    assert.equal(t.code, 0);
    for (const flag of ["--yes", "--delete-data", "--dry-run", "--json", "--endpoint-url"]) assert.ok(t.stdout.includes(flag), flag);
  });

  test("bad usage and bad configuration exit 2 with a message saying what to do", async () => {
    const unknown = await deployCli(["--frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--help/);
    const missing = await deployCli(["--config", "/nonexistent/config.json"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /copy config\.example\.json/);
    const dir = mkdtempSync(join(tmpdir(), "imgapi-cli-"));
    const bad = join(dir, "config.json");
    writeFileSync(bad, JSON.stringify({ stackName: "x", region: "us-east-1", sizes: { thumb: { width: "big" } } }));
    const invalid = await deployCli(["--config", bad]);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /Expected number for sizes\.thumb\.width but received "big"/);
    assert.match(invalid.stderr, /stackName/);
  });
});

describe("config.example.json against moto", () => {
  let moto: Moto;
  before(async () => {
    moto = await startMoto();
  });
  after(async () => {
    await moto?.stop();
  });

  test("deploys as it is (flags overriding the file), redeploys unchanged, tears down", async () => {
    const flags = ["--config", "config.example.json", "--endpoint-url", moto.endpoint, "--region", "eu-west-1"];

    const plan = await deployCli([...flags, "--dry-run", "--json"]);
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout);
    assert.equal(planned.dryRun, true);
    assert.ok(planned.resources.every((r: { action: string }) => r.action === "created"), plan.stdout);

    const first = await deployCli([...flags, "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const doc = JSON.parse(first.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.region, "eu-west-1", "--region overrides the file");
    assert.deepEqual(
      doc.resources.map((r: { resource: string; action: string }) => [r.resource, r.action]),
      planned.resources.map((r: { resource: string; action: string }) => [r.resource, r.action]),
      "the dry run listed exactly what the deploy did",
    );
    assert.match(doc.outputs.endpointUrl, /^https:\/\/\w+\.execute-api\.eu-west-1\.amazonaws\.com\/prod$/);
    assert.equal(doc.outputs.imagesBucket, "imgapi-dev-images-123456789012-eu-west-1");
    assert.match(doc.outputs.readApiKeyValue, /aws apigateway get-api-key --api-key \w+ --include-value/);
    assert.ok(doc.outputs.readApiKeyValue.endsWith(` --region eu-west-1 --endpoint-url ${moto.endpoint}`), `the printed command reaches the same endpoint: ${doc.outputs.readApiKeyValue}`);
    assert.ok(!/"value"/.test(first.stdout), "the key's value is never printed");

    const human = await deployCli(flags);
    assert.equal(human.code, 0, human.stderr);
    // Nothing changed: the zip is not built again (it is the slow part of a redeploy).
    assert.match(human.stderr, /unchanged inputs, reused/);
    assert.doesNotMatch(human.stderr, /zipping \d+ files/);
    assert.match(human.stdout, /already up to date \(in \d+\.\d s\)/);
    assert.match(human.stdout, /curl -sS/);
    assert.match(human.stdout, /x-api-key/);

    const refused = await teardownCli(flags);
    assert.equal(refused.code, 2, "no --yes and no terminal: refuse");
    assert.match(refused.stderr, /--yes/);

    const down = await teardownCli([...flags, "--yes", "--json"]);
    assert.equal(down.code, 0, down.stderr);
    const removed = JSON.parse(down.stdout);
    assert.ok(removed.resources.some((r: { action: string }) => r.action === "deleted"));
    const again = await teardownCli([...flags, "--yes", "--json"]);
    assert.equal(again.code, 0);
    assert.ok(JSON.parse(again.stdout).resources.every((r: { action: string }) => r.action === "absent" || r.action === "kept"));
    // For a person: one line per kept resource, the flags that would remove some of it, the time taken.
    const said = await teardownCli([...flags, "--yes"]);
    assert.equal(said.code, 0, said.stderr);
    assert.match(said.stdout, /^Kept \d+ resources \(in \d+\.\d s\):$/m);
    assert.match(said.stdout, /^ {2}API Gateway logs role: imgapi-apigateway-cloudwatch-logs: account-wide/m);
    assert.match(said.stdout, /^To remove what can be removed, run again with --delete-data .* and --delete-audit-logs /m);
  });

  test("an AWS failure exits 1 with the action, the resource and what to do", async () => {
    // Nothing listens on this port: every call fails after the SDK's retries.
    const failed = await deployCli(["--config", "config.example.json", "--endpoint-url", "http://127.0.0.1:9", "--json"], { AWS_MAX_ATTEMPTS: "1" });
    assert.equal(failed.code, 1);
    const doc = JSON.parse(failed.stdout);
    assert.equal(doc.ok, false);
    assert.match(failed.stderr, /Deploy failed: reading caller identity/);
  });
});
