// The whole deploy and teardown, composed, on moto: idempotent (a second run
// sends no mutating call), convergent (a run interrupted after any mutating
// call is finished by the next), honest in --dry-run, and a teardown that
// leaves nothing yet never deletes data without --delete-data.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { DeleteUsagePlanCommand, DeleteUsagePlanKeyCommand, GetUsagePlanKeysCommand, GetUsagePlansCommand } from "@aws-sdk/client-api-gateway";
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, GetObjectCommand, PutBucketPolicyCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import type { StepReport } from "../deploy/context.ts";
import type { FunctionZip } from "../deploy/function-zip.ts";
import { resourceNames } from "../deploy/names.ts";
import { deploy } from "../deploy/run.ts";
import { ROUTES } from "../function/routes.ts";
import { teardown } from "../teardown/run.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { liveStackKeys, objectCount, stackState } from "./support/stack-state.ts";
import { virtualClock } from "./support/clock.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8"));
const configA = parseConfig(example);
const configB = parseConfig({ ...example, stackName: "imgapi-prod" });
const namesA = resourceNames(configA.stackName, ACCOUNT, MOTO_REGION);
const namesB = resourceNames(configB.stackName, ACCOUNT, MOTO_REGION);

// A small stand-in for the function zip: building the real one is proved in
// function-zip.test.ts, and its size would only slow the many deploys here.
const ZIP = fakeZip();

let moto: Moto;
/** Commands the deploy sent: `service:Command`. */
let sent: string[] = [];
/** When set, the mutating call after this many throws, as if the run were killed there. */
let failAfter: number | undefined;
let clients: AwsClients;
let reader: AwsClients;

const mutating = () => sent.filter((c) => !isReadOnly(c.split(":")[1]!));

class Injected extends Error {}

before(async () => {
  moto = await startMoto();
  const common = { region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 };
  clients = createClients({
    ...common,
    observer: (service, command) => {
      const name = `${service}:${command.replace(/Command$/, "")}`;
      if (failAfter !== undefined && !isReadOnly(command.replace(/Command$/, "")) && mutating().length >= failAfter) {
        throw new Injected(`injected failure before mutating call ${failAfter + 1} (${name})`);
      }
      sent.push(name);
    },
  });
  reader = createClients(common);
});

after(async () => {
  await moto?.stop();
});

async function run(config: Config = configA, options: { dryRun?: boolean; zip?: FunctionZip } = {}) {
  sent = [];
  const steps: StepReport[] = [];
  const result = await deploy({ config, clients, zip: options.zip ?? ZIP, dryRun: options.dryRun ?? false, clock: virtualClock(), onStep: (s) => steps.push(s) });
  return { ...result, steps, mutations: mutating() };
}

async function down(config: Config = configA, deleteData = false, deleteAuditLogs = false) {
  sent = [];
  const result = await teardown({ config, clients, deleteData, deleteAuditLogs });
  return { ...result, mutations: mutating() };
}

const actions = (steps: StepReport[]) => Object.fromEntries(steps.map((s) => [`${s.resource} ${s.name}`, s.action]));

/** A fresh account with the example stack deployed, and that stack's state. */
async function deployedStack(): Promise<Record<string, unknown>> {
  await moto.reset();
  await run();
  return stackState(reader, namesA);
}

describe("deploy", () => {
  test("from an empty account creates every resource, then a second run changes nothing", async () => {
    await moto.reset();
    const first = await run();
    assert.ok(first.steps.length >= 12, `${first.steps.length} steps`);
    for (const s of first.steps) {
      assert.ok(["created", "unchanged"].includes(s.action), `${s.resource} ${s.name}: ${s.action}`);
    }
    assert.ok(first.steps.filter((s) => s.action === "created").length >= 11);
    assert.match(first.outputs.endpointUrl, /^https:\/\/\w+\.execute-api\.us-east-1\.amazonaws\.com\/prod$/);
    assert.equal(first.outputs.imagesBucket, namesA.imagesBucket);

    const reference = await stackState(reader, namesA);
    const state = reference as {
      kms: { liveKeys: number; rotation: boolean[] };
      api: { methods: Array<{ path: string; httpMethod: string; apiKeyRequired: boolean }> };
      function: { Architectures: string[]; Runtime: string };
      trail: { LogFileValidationEnabled: boolean; logging: boolean };
      buckets: unknown[];
    };
    assert.equal(state.kms.liveKeys, 2, "the images key and the audit key");
    assert.deepEqual(state.kms.rotation, [true, true]);
    assert.equal(state.buckets.length, 2);
    assert.deepEqual(state.function.Architectures, ["arm64"]);
    assert.equal(state.function.Runtime, "nodejs22.x");
    assert.equal(state.trail.LogFileValidationEnabled, true);
    assert.equal(state.trail.logging, true);
    const keyed = new Set(ROUTES.filter((r) => r.access === "private").map((r) => `${r.method} ${r.resource}`));
    for (const m of state.api.methods) assert.equal(m.apiKeyRequired, keyed.has(`${m.httpMethod} ${m.path}`), `${JSON.stringify(m)}`);

    const second = await run();
    assert.deepEqual(new Set(second.steps.map((s) => s.action)), new Set(["unchanged"]), JSON.stringify(second.steps));
    assert.deepEqual(second.mutations, [], "a second deploy sends no mutating call");
    assert.deepEqual(await stackState(reader, namesA), reference);
  });

  test("changing the sizes updates only the function's configuration", async () => {
    const reference = await deployedStack();
    const config = parseConfig({ ...example, sizes: { ...example.sizes, square: { width: 300, height: 300, fit: "cover" } } });
    const changed = await run(config);
    const notUnchanged = changed.steps.filter((s) => s.action !== "unchanged");
    assert.deepEqual(notUnchanged.map((s) => [s.resource, s.action]), [["Lambda function", "updated"]]);
    assert.deepEqual(changed.mutations, ["lambda:UpdateFunctionConfiguration"]);
    const state = (await stackState(reader, namesA)) as { function: { Environment: Record<string, string> } };
    assert.ok(JSON.parse(state.function.Environment.IMGAPI_SETTINGS!).sizes.square);
    await run(); // back to the reference configuration
    assert.deepEqual(await stackState(reader, namesA), reference);
  });

  test("a resource deleted out of band is recreated, and only it", async () => {
    const reference = await deployedStack();
    const plan = ((await reader.apigw.send(new GetUsagePlansCommand({}))).items ?? []).find((p) => p.name === namesA.usagePlan)!;
    for (const k of (await reader.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: plan.id }))).items ?? []) {
      await reader.apigw.send(new DeleteUsagePlanKeyCommand({ usagePlanId: plan.id, keyId: k.id }));
    }
    await reader.apigw.send(new DeleteUsagePlanCommand({ usagePlanId: plan.id }));
    const again = await run();
    const notUnchanged = again.steps.filter((s) => s.action !== "unchanged");
    assert.equal(notUnchanged.length, 1, JSON.stringify(notUnchanged));
    assert.match(notUnchanged[0]!.resource, /usage plan/i);
    assert.equal(notUnchanged[0]!.action, "created");
    assert.ok(again.mutations.every((m) => m.startsWith("apigw:")), again.mutations.join(", "));
    assert.deepEqual(await stackState(reader, namesA), reference);
  });

  test("--dry-run lists exactly what the real deploy then does, and sends nothing", async () => {
    await moto.reset();
    const plan = await run(configA, { dryRun: true });
    assert.deepEqual(plan.mutations, []);
    const real = await run();
    assert.deepEqual(actions(plan.steps), actions(real.steps));
    const reference = await stackState(reader, namesA);
    const planAgain = await run(configA, { dryRun: true });
    assert.deepEqual(new Set(planAgain.steps.map((s) => s.action)), new Set(["unchanged"]));
    assert.deepEqual(planAgain.mutations, []);
    assert.deepEqual(await stackState(reader, namesA), reference);
  });

  // Where to interrupt: by default before the first mutating call of every
  // step (every point where one resource is done and the next not begun);
  // inside a step, the resource's own tests interrupt it (deploy-api-resume
  // after each of the API's calls, deploy-strict after each rule's window
  // opens, deploy-faults after lost answers). IMGAPI_RESUME=every-k
  // interrupts the whole stack after every mutating call (about 130 runs;
  // many minutes, not for CI).
  test("a deploy killed at any step boundary (or, with IMGAPI_RESUME=every-k, after any mutating call) is finished by the next plain deploy", async () => {
    await moto.reset();
    sent = [];
    const boundaries: number[] = [0];
    await deploy({ config: configA, clients, zip: ZIP, clock: virtualClock(), onStep: () => void boundaries.push(mutating().length) });
    const uninterrupted = await stackState(reader, namesA);
    const full = mutating().length;
    assert.ok(full >= 30, `a full deploy makes ${full} mutating calls`);
    const points = new Set<number>();
    for (let i = 1; i < boundaries.length; i++) {
      const [start, end] = [boundaries[i - 1]!, boundaries[i]!];
      if (end > start) points.add(start);
    }
    const ks = process.env.IMGAPI_RESUME === "every-k" ? Array.from({ length: full }, (_, k) => k) : [...points].sort((a, b) => a - b);
    assert.ok(ks.length >= 12, `${ks.length} interruption points for ${boundaries.length - 1} steps`);
    for (const k of ks) {
      await moto.reset();
      failAfter = k;
      try {
        await assert.rejects(run(), (e: unknown) => String((e as Error)?.message ?? e).includes("injected failure") || (e as { cause?: unknown }).cause instanceof Injected, `k=${k}`);
      } finally {
        failAfter = undefined;
      }
      await run();
      // The same state as an uninterrupted deploy, whose own rerun sends
      // nothing (the first test): so this one has converged too.
      assert.deepEqual(await stackState(reader, namesA), uninterrupted, `after an interruption at mutating call ${k + 1}`);
    }
    console.log(`# interrupted deploy: resumed correctly after ${ks.length} of its ${full} mutating calls`);
  });
});

describe("teardown", () => {
  test("removes everything, twice safely, and leaves a second stack alone", async () => {
    await moto.reset();
    await run(configA);
    await run(configB);
    const stateB = await stackState(reader, namesB);

    const first = await down(configA);
    // The account-wide API Gateway logs role is shared by every REST API of the
    // account and region, so it is the one thing teardown leaves, saying why.
    const accountWide = (r: StepReport) => r.name === namesA.apiGatewayLogsRole && r.action === "kept" && /account-wide/.test(r.detail ?? "");
    // The boundary: the deploying identity may not delete it (it could make a wider one); an administrator can.
    const boundary = (r: StepReport) => r.name === namesA.boundaryPolicy && r.action === "kept" && /aws iam delete-policy/.test(r.detail ?? "");
    // Without --delete-data the request logs stay: they expire on their own. Without --delete-audit-logs, the audit key.
    const requestLogs = (r: StepReport) => r.resource === "log groups" && r.action === "kept" && /expire on their own after 14 days/.test(r.detail ?? "");
    const auditKey = (r: StepReport) => r.name === namesA.auditKmsAlias && r.action === "kept" && /--delete-audit-logs/.test(r.detail ?? "");
    const keptByDesign = (r: StepReport) => accountWide(r) || boundary(r) || requestLogs(r) || auditKey(r);
    assert.ok(first.resources.every((r) => r.action === "deleted" || keptByDesign(r)), JSON.stringify(first.resources));
    const left = (await stackState(reader, namesA)) as Record<string, unknown>;
    assert.equal((left.kms as { liveKeys: number }).liveKeys, 1, "the audit key stays");
    assert.equal(left.role, undefined);
    assert.deepEqual(left.buckets, []);
    assert.deepEqual((left.logGroups as { name: string }[]).map((g) => g.name).sort(), [namesA.accessLogGroup, namesA.functionLogGroup].sort());
    assert.equal(left.restApis, 0);
    assert.deepEqual(left.usagePlans, []);
    assert.deepEqual(left.apiKeys, []);
    assert.equal(left.function, undefined);
    assert.equal(left.trail, undefined);

    const second = await down(configA);
    assert.deepEqual(second.mutations, [], "a second teardown changes nothing");
    assert.ok(second.resources.every((r) => r.action === "absent" || keptByDesign(r)), JSON.stringify(second.resources));
    assert.deepEqual(await stackState(reader, namesB), stateB, "the other stack is untouched");

    const all = await down(configA, true, true);
    assert.ok(all.resources.every((r) => r.action === "deleted" || r.action === "absent" || accountWide(r) || boundary(r)), JSON.stringify(all.resources));
    const none = (await stackState(reader, namesA)) as Record<string, unknown>;
    assert.deepEqual(none.kms, { liveKeys: 0, alias: [], rotation: [], policy: [] });
    assert.deepEqual(none.logGroups, []);
  });

  test("without --delete-data an image keeps its bucket and the key; with it, both go", async () => {
    await moto.reset();
    await run(configA);
    // moto applies the bucket's TLS-only Deny without its condition, so every
    // object call over its plain-HTTP endpoint is denied: lift the policy for
    // the test's own object calls, and put it back for the teardown under test.
    const policy = (await reader.s3.send(new GetBucketPolicyCommand({ Bucket: namesA.imagesBucket }))).Policy!;
    await reader.s3.send(new DeleteBucketPolicyCommand({ Bucket: namesA.imagesBucket }));
    await reader.s3.send(new PutObjectCommand({ Bucket: namesA.imagesBucket, Key: "originals/keep-me", Body: "image bytes" }));
    await reader.s3.send(new PutBucketPolicyCommand({ Bucket: namesA.imagesBucket, Policy: policy }));

    const kept = await down(configA);
    const byName = Object.fromEntries(kept.resources.map((r) => [r.name, r]));
    assert.equal(byName[namesA.imagesBucket]?.action, "kept");
    assert.match(byName[namesA.imagesBucket]?.detail ?? "", /--delete-data/);
    assert.equal(byName[namesA.kmsAlias]?.action, "kept");
    assert.equal((await liveStackKeys(reader, namesA.stack)).length, 2, "the images key survives (and the audit key, kept without --delete-audit-logs)");
    await reader.s3.send(new DeleteBucketPolicyCommand({ Bucket: namesA.imagesBucket }));
    const got = await reader.s3.send(new GetObjectCommand({ Bucket: namesA.imagesBucket, Key: "originals/keep-me" }));
    assert.equal(await got.Body?.transformToString(), "image bytes");
    assert.equal(await objectCount(reader, namesA.imagesBucket), 1);

    const gone = await down(configA, true);
    const goneByName = Object.fromEntries(gone.resources.map((r) => [r.name, r]));
    assert.equal(goneByName[namesA.imagesBucket]?.action, "deleted");
    assert.equal(goneByName[namesA.kmsAlias]?.action, "deleted");
    assert.match(goneByName[namesA.kmsAlias]?.detail ?? "", /scheduled for deletion in 7 days/);
    assert.equal((await liveStackKeys(reader, namesA.stack)).length, 1, "only the audit key is left");
  });
});
