// keys/index.ts against moto: per-client keys on the stack's plan (and on a
// plan of a client's own), listed with their usage, rotated and revoked; a
// following deploy leaves them as they are; dry runs send nothing; the CLI's
// --json shape and exit codes. The REST API (function, API, stage) is deployed
// once for the file; each test has a stack of its own name whose usage-plan
// step (the deploy step that owns the default key) it runs on that API.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DeleteApiKeyCommand, GetApiKeyCommand, GetApiKeysCommand, GetUsagePlanKeysCommand, GetUsagePlansCommand, UpdateApiKeyCommand } from "@aws-sdk/client-api-gateway";
import { resourceNames } from "../deploy/names.ts";
import { CLIENT_TAG, clientPlanName, ROTATED_TAG } from "../deploy/resources/client-keys.ts";
import { ensureUsagePlan, removeUsagePlan, REVOKED_KEY } from "../deploy/resources/usage-plan.ts";
import { main } from "../keys/index.ts";
import { runKeys, type KeysRequest, type KeysResult } from "../keys/run.ts";
import { ACCOUNT, config, REGION, useApiHarness, withConfig } from "./support/api-harness.ts";
import { USAGE } from "./support/moto-key-tags.ts";

const h = useApiHarness();
let restApiId: string;
const TODAY = new Date("2026-11-27T12:00:00Z");


/** A stack of its own for a test: its plan step (deploy's, which owns the default key) and the keys commands. */
function stackOf(stackName: string) {
  const cfg = withConfig((c) => ({ ...c, stackName }));
  const ctx = (dryRun = false) => h.context({ config: cfg, dryRun });
  return {
    cfg,
    names: resourceNames(stackName, ACCOUNT, REGION),
    deploy: () => ensureUsagePlan(ctx(), { restApiId }),
    keys: (request: KeysRequest, dryRun = false) => runKeys(ctx(dryRun), { today: TODAY, ...request }),
    teardown: () => removeUsagePlan(ctx()),
  };
}
const made = (r: KeysResult) => {
  assert.ok(r.command === "create" || r.command === "rotate");
  return r;
};
const key = (apiKey: string) => h.aws.apigw.send(new GetApiKeyCommand({ apiKey }));
const boundIds = async (usagePlanId: string) => ((await h.aws.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId }))).items ?? []).map((k) => k.id).sort();
const allKeyIds = async (stack: string) => ((await h.aws.apigw.send(new GetApiKeysCommand({}))).items ?? []).filter((k) => k.tags?.["imgapi:stack"] === stack).map((k) => k.id).sort();

/** main() with its console output captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    Object.assign(console, { log, error });
  }
}
const dir = mkdtempSync(join(tmpdir(), "imgapi-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));
function configFile(patch: Record<string, unknown>): string {
  const path = join(dir, `config-${Object.values(patch).join("-")}.json`);
  writeFileSync(path, JSON.stringify({ ...config, ...patch }));
  return path;
}
process.env.AWS_ACCESS_KEY_ID = "testing";
process.env.AWS_SECRET_ACCESS_KEY = "testing";
delete process.env.AWS_PROFILE;

describe("keys", () => {
  before(async () => {
    restApiId = (await h.deployApi(h.context(), await h.prerequisites())).api.restApiId;
  });

  test("create, list with usage, rotate, revoke; the next deploy changes none of it and names the new default key", async () => {
    const { names, deploy, keys } = stackOf("imgapi-k-flow");
    const first = await deploy();
    const stackPlan = first.usagePlanId;
    const alpha = made(await keys({ command: "create", name: "alpha" }));
    const beta = made(await keys({ command: "create", name: "beta", quota: { limit: 100, period: "WEEK" } }));
    assert.deepEqual([alpha.planId, await boundIds(stackPlan)], [stackPlan, [alpha.keyId, first.apiKeyId].sort()]);
    assert.ok(alpha.value && alpha.value.length >= 20, "create hands out the value once");
    const plans = (await h.aws.apigw.send(new GetUsagePlansCommand({}))).items ?? [];
    const own = plans.find((p) => p.id === beta.planId)!;
    const stack = plans.find((p) => p.id === stackPlan)!;
    assert.deepEqual([own.name, own.apiStages, own.throttle, Number(own.quota?.limit), own.quota?.period, own.tags?.[CLIENT_TAG]], [clientPlanName(names, "beta"), stack.apiStages, stack.throttle, 100, "WEEK", "beta"]);
    assert.deepEqual(await boundIds(beta.planId), [beta.keyId]);

    USAGE.set(alpha.keyId, [[3, 9997], [4, 9993]]);
    USAGE.set(beta.keyId, [[1, 99]]);
    h.sent.length = 0;
    const listed = await keys({ command: "list" });
    assert.ok(listed.command === "list");
    const row = (id: string) => listed.keys.find((k) => k.id === id);
    assert.deepEqual(listed.keys.map((k) => [k.name, k.enabled, k.planName]).sort(), [["alpha", true, names.usagePlan], ["beta", true, clientPlanName(names, "beta")], ["default", true, names.usagePlan]]);
    assert.deepEqual([row(alpha.keyId)?.usage, row(beta.keyId)?.usage], [
      { used: 7, limit: config.api.quota.limit, period: "DAY", from: "2026-11-27", to: "2026-11-27" },
      { used: 1, limit: 100, period: "WEEK", from: "2026-11-23", to: "2026-11-27" },
    ]);
    assert.equal(row(first.apiKeyId)?.usage?.used, undefined, "no traffic, no figure made up");
    assert.ok(!JSON.stringify(listed).includes(alpha.value!), "list never shows a value");
    assert.ok(!h.sent.some((c) => c.command === "GetApiKeysCommand" || c.input.includeValue === true), "keys are found by tag, values never read");

    const rotated = made(await keys({ command: "rotate", name: "default" }));
    assert.deepEqual([rotated.rotatedKeyId, rotated.planId], [first.apiKeyId, stackPlan]);
    const old = await key(first.apiKeyId);
    assert.deepEqual([old.enabled, old.tags?.[ROTATED_TAG]], [false, rotated.keyId]);
    await keys({ command: "revoke", name: "alpha" });
    assert.ok(!(await allKeyIds(names.stack)).includes(alpha.keyId));

    h.sent.length = 0;
    const again = await deploy();
    assert.deepEqual(h.mutating(), [], "the rotated key stays disabled, the revoked one gone, the clients' keys and plan untouched");
    assert.equal(again.apiKeyId, rotated.keyId, "deploy names the key the default client should use");
    assert.equal((await key(first.apiKeyId)).enabled, false);
    assert.deepEqual(await allKeyIds(names.stack), [first.apiKeyId, beta.keyId, rotated.keyId].sort());
    assert.deepEqual(await boundIds(beta.planId), [beta.keyId]);

    await keys({ command: "revoke", name: "default", onlyRotated: true });
    assert.deepEqual(await allKeyIds(names.stack), [beta.keyId, rotated.keyId].sort(), "--rotated deletes only the replaced key");
  });

  test("revoke default: deploy does not make a new key; create default hands the key back to deploy", async () => {
    const { names, deploy, keys } = stackOf("imgapi-k-revoke");
    const first = await deploy();
    await keys({ command: "revoke", name: "default" });
    assert.deepEqual(await allKeyIds(names.stack), []);
    h.sent.length = 0;
    const again = await deploy();
    assert.deepEqual([h.mutating(), again.apiKeyId], [[], REVOKED_KEY]);
    const fresh = made(await keys({ command: "create", name: "default" }));
    h.sent.length = 0;
    const third = await deploy();
    assert.deepEqual([h.mutating(), third.apiKeyId, await boundIds(first.usagePlanId)], [[], fresh.keyId, [fresh.keyId]]);
  });

  test("a disabled default key nobody rotated is still re-enabled by deploy (drift)", async () => {
    const { deploy } = stackOf("imgapi-k-drift");
    const first = await deploy();
    await h.aws.apigw.send(new UpdateApiKeyCommand({ apiKey: first.apiKeyId, patchOperations: [{ op: "replace", path: "/enabled", value: "false" }] }));
    h.sent.length = 0;
    await deploy();
    assert.deepEqual([h.mutating(), (await key(first.apiKeyId)).enabled], [["UpdateApiKey"], true]);
  });

  test("a rotated key stays disabled even when its successor is deleted out of band: deploy makes a new default key", async () => {
    const { names, deploy, keys } = stackOf("imgapi-k-lost");
    const first = await deploy();
    const rotated = made(await keys({ command: "rotate", name: "default" }));
    await h.aws.apigw.send(new DeleteApiKeyCommand({ apiKey: rotated.keyId }));
    h.sent.length = 0;
    const again = await deploy();
    assert.deepEqual(h.mutating(), ["CreateApiKey", "CreateUsagePlanKey"]);
    assert.equal((await key(first.apiKeyId)).enabled, false);
    assert.deepEqual(await allKeyIds(names.stack), [first.apiKeyId, again.apiKeyId].sort());
  });

  test("a dry run of each command sends no mutating call and says what it would do", async () => {
    const { names, deploy, keys } = stackOf("imgapi-k-dry");
    const first = await deploy();
    await keys({ command: "create", name: "gamma" });
    const before = await allKeyIds(names.stack);
    for (const request of [{ command: "create", name: "delta", quota: { limit: 5, period: "DAY" } }, { command: "rotate", name: "gamma" }, { command: "revoke", name: "default" }] as KeysRequest[]) {
      h.sent.length = 0;
      const r = await keys(request, true);
      assert.deepEqual(h.mutating(), [], request.command);
      assert.ok(r.command !== "list" && r.changes.length >= 2, `${request.command}: ${JSON.stringify(r)}`);
    }
    assert.deepEqual([await allKeyIds(names.stack), (await key(first.apiKeyId)).enabled], [before, true]);
  });

  test("the CLI: --json shapes, the value printed once with how to read it again, unknown NAME and iam mode exit 2", async () => {
    const { names, deploy } = stackOf("imgapi-k-cli");
    await deploy();
    const base = ["--config", configFile({ stackName: names.stack }), "--endpoint-url", h.moto.endpoint];
    const created = await cli(["create", "web", ...base, "--json"]);
    assert.equal(created.code, 0, created.stderr);
    const doc = JSON.parse(created.stdout);
    assert.deepEqual(Object.keys(doc).sort(), ["changes", "client", "command", "dryRun", "keyId", "ok", "planId", "region", "stack", "value"]);
    const noProfile = await cli(["rotate", "web", ...base, "--profile", "nosuch"]);
    assert.equal(noProfile.code, 2, "an unknown profile is a usage error, as in deploy");
    const rotated = await cli(["rotate", "web", ...base]);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, new RegExp(`aws apigateway get-api-key --api-key \\w+ --include-value --query value --output text --region ${config.region} --endpoint-url ${h.moto.endpoint}`));

    const listed = await cli(["list", ...base, "--json"]);
    const rows = JSON.parse(listed.stdout).keys as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((r) => [r.name, r.enabled, typeof r.id, typeof r.created, r.planName, typeof r.usage]).sort(), [
      ["default", true, "string", "string", names.usagePlan, "object"],
      ["web", false, "string", "string", names.usagePlan, "object"],
      ["web", true, "string", "string", names.usagePlan, "object"],
    ]);
    assert.ok(!listed.stdout.includes(doc.value) && !JSON.stringify(rows).includes('"value"'), "list never prints a value");
    const table = await cli(["list", ...base]);
    assert.match(table.stdout, /^NAME\s+ID\s+STATE\s+CREATED\s+PLAN\s+USED THIS PERIOD$/m);
    assert.match(table.stdout, /web\s+\w+\s+disabled, rotated to \w+/);

    const unknown = await cli(["revoke", "nobody", ...base, "--json"]);
    assert.equal(unknown.code, 2);
    assert.deepEqual(JSON.parse(unknown.stdout).error.code, "UsageError");
    assert.match(unknown.stderr, /No client named "nobody".*the clients are default, web/);

    const iam = await cli(["list", "--config", configFile({ stackName: names.stack, auth: "iam" }), "--endpoint-url", h.moto.endpoint]);
    assert.deepEqual([iam.code, iam.stdout], [2, ""]);
    assert.match(iam.stderr, /API keys are only for auth apiKey; the stack imgapi-k-cli uses auth iam/);
    const bad = await cli(["create", "Bad Name", ...base]);
    assert.deepEqual([bad.code, /Expected a client name/.test(bad.stderr)], [2, true]);
    const noCommand = await cli([...base]);
    assert.deepEqual([noCommand.code, /expected one of list, create, revoke, rotate/.test(noCommand.stderr)], [2, true]);
  });

  test("teardown's usage-plan step removes the clients' keys and plans with the stack's", async () => {
    const { names, deploy, keys, teardown } = stackOf("imgapi-k-down");
    await deploy();
    await keys({ command: "create", name: "one", quota: { limit: 10, period: "MONTH" } });
    await keys({ command: "create", name: "two" });
    await keys({ command: "rotate", name: "two" });
    assert.equal((await teardown()).action, "deleted");
    const plans = ((await h.aws.apigw.send(new GetUsagePlansCommand({}))).items ?? []).filter((p) => p.tags?.["imgapi:stack"] === names.stack);
    assert.deepEqual([plans, await allKeyIds(names.stack)], [[], []]);
  });

  test("a stack with no usage plan yet: a usage error naming deploy", async () => {
    const { keys } = stackOf("imgapi-k-none");
    await assert.rejects(keys({ command: "list" }), { name: "UsageError", message: /has no usage plan \(imgapi-k-none-plan\).*deploy it first/ });
  });
});
