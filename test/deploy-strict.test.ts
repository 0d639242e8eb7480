// The deploy held to AWS's documented rules rather than moto's leniency: every
// rule of support/aws-rules.ts is on (propagation answers after each create,
// Lambda's Pending/InProgress states, limits and quotas). A deploy from an
// empty account, and from each interrupted state, must reach exactly the stack
// an undisturbed deploy makes on plain moto, and a second deploy must send no
// mutating call. Every k of the ~80 mutating calls, two deploys each, takes
// far longer than the suite's budget, so interruptions are sampled: right after
// each call that opens a rule's window (see INTERRUPTIONS).
//   IMGAPI_STRICT_INTERRUPTIONS=all      14 points, one after each resource's key call
//   IMGAPI_STRICT_INTERRUPTIONS=every-k  after every mutating call
//   IMGAPI_STRICT_EXCEPT=rule,...        rules off, to see what fails behind the first
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { GetTrailCommand } from "@aws-sdk/client-cloudtrail";
import { DeleteBucketPolicyCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import type { Config, ConfigInput } from "../config/schema.ts";
import { createClients, destroyClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import { DeployError } from "../deploy/errors.ts";
import type { FunctionZip } from "../deploy/function-zip.ts";
import { resourceNames } from "../deploy/names.ts";
import { deploy } from "../deploy/run.ts";
import { teardown } from "../teardown/run.ts";
import { applyStrictRules, formBody, jsonBody, lambdaCall, seedAccountTrails, type StrictHarness } from "./support/aws-rules.ts";
import { matches, startFaultProxy, type FaultProxy, type MatchSpec } from "./support/fault-proxy.ts";
import { virtualClock } from "./support/clock.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { stackState } from "./support/stack-state.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")) as ConfigInput;
// The S3 trigger on, so S3's destination validation is met too.
const configOf = (patch: Partial<ConfigInput> = {}): Config => parseConfig({ ...example, resizeOnUpload: true, ...patch });
const config = configOf();
const names = resourceNames(config.stackName, ACCOUNT, MOTO_REGION);
/**
 * Each propagation rule refuses one call after its create: enough to need the
 * retry (aws-rules.test.ts proves the counts), and each further refusal adds
 * the deploy's own backoff to every run here.
 */
const REFUSALS = 1;

const ZIP = fakeZip();

class Interrupted extends Error {}

let moto: Moto;
let proxy: FaultProxy;
/** Through the proxy with every rule, the CLI's default attempts. */
let strict: AwsClients;
/** Straight to moto. */
let direct: AwsClients;
let harness: StrictHarness | undefined;
/** Mutating commands the deploy sent through `strict`. */
let mutations: string[] = [];
/** Interrupt before the next mutating call once this many were sent / once a matching call succeeded. */
let interrupt: { afterSends?: number; after?: MatchSpec; armed: boolean } | undefined;
let reference: Record<string, unknown>;

before(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  strict = createClients({
    region: MOTO_REGION,
    endpoint: proxy.url,
    credentials: MOTO_CREDENTIALS,
    observer: (service, command) => {
      const name = `${service}:${command.replace(/Command$/, "")}`;
      if (isReadOnly(command.replace(/Command$/, ""))) return;
      if (interrupt?.armed || (interrupt?.afterSends !== undefined && mutations.length >= interrupt.afterSends)) throw new Interrupted(`interrupted before ${name}`);
      mutations.push(name);
    },
  });
  direct = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
  // The stack an undisturbed deploy makes on plain moto.
  await moto.reset();
  await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() });
  reference = await stackState(direct, names);
});

after(async () => {
  harness?.close();
  if (strict) destroyClients(strict);
  if (direct) destroyClients(direct);
  await proxy?.close();
  await moto?.stop();
});

/** An empty account (or one prepared by `setup`), with every rule watching from now on. */
async function freshAccount(setup?: () => Promise<void>): Promise<void> {
  harness?.close();
  proxy.clear();
  await moto.reset();
  await setup?.();
  harness = applyStrictRules(proxy, { refusals: REFUSALS, except: process.env.IMGAPI_STRICT_EXCEPT?.split(",").filter(Boolean) ?? [] });
  proxy.observe({
    name: "interrupt",
    match: {},
    seen: (req, answer) => {
      if (interrupt?.after !== undefined && answer.status < 300 && matches(interrupt.after, req)) interrupt.armed = true;
    },
  });
}

async function run(cfg: Config = config, zip: FunctionZip = ZIP) {
  mutations = [];
  // Virtual time: the deploy's propagation backoffs (seconds on AWS) cost nothing here; the rules count calls, not seconds.
  return deploy({ config: cfg, clients: strict, zip, clock: virtualClock() });
}

const isInterrupted = (e: unknown): boolean => e instanceof Interrupted || (e instanceof Error && e.cause !== undefined && isInterrupted(e.cause));
const fired = () => JSON.stringify(Object.fromEntries(Object.entries(harness?.fired() ?? {}).filter(([, n]) => n > 0)));

describe("deploy with every AWS rule on", () => {
  test("from an empty account: completes, reaches the undisturbed stack, and a second run sends no mutating call", async () => {
    await freshAccount();
    const first = await run();
    assert.ok(first.resources.every((r) => ["created", "unchanged"].includes(r.action)), JSON.stringify(first.resources));
    assert.deepEqual(await stackState(direct, names), reference, "the same stack as an undisturbed deploy on plain moto");
    // The run met every rule a deploy from empty can meet (of those on).
    const counts = harness!.fired();
    for (const rule of ["iam-role-propagation-lambda", "iam-role-propagation-kms", "kms-key-propagation", "apigateway-account-role-propagation", "s3-notification-permission-propagation", "lambda-function-states"]) {
      if (rule in counts) assert.ok((counts[rule] ?? 0) > 0, `${rule} fired (${fired()})`);
    }
    const second = await run();
    assert.deepEqual(mutations, [], "a second deploy sends no mutating call");
    assert.ok(second.resources.every((r) => r.action === "unchanged"), JSON.stringify(second.resources));
  });

  test("a second deploy of an existing stack, rules on, sends no mutating call", async () => {
    // Made in the same account: with the rules' new-account concurrency quota (10), it could reserve none.
    await freshAccount(async () => void (await deploy({ config: configOf({ lambda: { ...example.lambda, reservedConcurrency: false } }), clients: direct, zip: ZIP, clock: virtualClock() })));
    const again = await run();
    assert.deepEqual(mutations, []);
    assert.ok(again.resources.every((r) => r.action === "unchanged"), JSON.stringify(again.resources.filter((r) => r.action !== "unchanged")));
  });

  test("an update (new code and memory) waits out InProgress between code and configuration", async () => {
    await freshAccount(async () => void (await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() })));
    const zip = fakeZip("export const handler = async () => ({ statusCode: 204, body: '' });");
    const changed = configOf({ lambda: { ...example.lambda, memoryMb: 2048 } });
    await run(changed, zip);
    assert.ok((harness!.fired()["lambda-function-states"] ?? 0) > 0, fired());
    const expected = structuredClone(reference) as { function: Record<string, unknown> };
    Object.assign(expected.function, { MemorySize: 2048, CodeSha256: zip.sha256Base64 });
    assert.deepEqual(await stackState(direct, names), expected);
  });
});

/**
 * Where a run is cut short, before the next mutating call is sent. The sample
 * (the default) cuts right after each call that leaves a rule's window open
 * for the rerun: a role, key, function or permission made moments ago, a
 * logs role without its policy yet, a trail not yet logging.
 */
const role = (name: () => string): MatchSpec => ({ service: "iam", operation: "CreateRole", where: (r) => formBody(r).get("RoleName") === name() });
const permission = (principal: string): MatchSpec => ({ service: "lambda", where: (r) => lambdaCall(r)?.op === "AddPermission" && jsonBody(r).Principal === principal });
const INTERRUPTIONS: Array<[string, MatchSpec, "sample" | "all"]> = [
  ["the function's role is created", role(() => names.roleName), "sample"],
  ["the key is created", { service: "kms", operation: "CreateKey" }, "sample"],
  ["the key's alias is created", { service: "kms", operation: "CreateAlias" }, "all"],
  ["the role's policy is written", { service: "iam", operation: "PutRolePolicy" }, "all"],
  ["the signing secret is encrypted", { service: "kms", operation: "Encrypt" }, "all"],
  ["the function is created", { service: "lambda", where: (r) => lambdaCall(r)?.op === "CreateFunction" }, "sample"],
  ["S3 may invoke the function", permission("s3.amazonaws.com"), "sample"],
  ["the images bucket notifies the function", { service: "s3", method: "PUT", where: (r) => r.query.has("notification") }, "all"],
  ["the API Gateway logs role is created", role(() => names.apiGatewayLogsRole), "sample"],
  ["the logs role gets its policy", { service: "iam", operation: "AttachRolePolicy" }, "sample"],
  ["the account's CloudWatch Logs role is set", { service: "apigateway", method: "PATCH", path: /^\/account\/?$/ }, "all"],
  ["the stage is created", { service: "apigateway", method: "POST", path: /\/stages\/?$/ }, "all"],
  ["API Gateway may invoke the function", permission("apigateway.amazonaws.com"), "all"],
  ["the trail is created", { service: "cloudtrail", operation: "CreateTrail" }, "sample"],
];
const INTERRUPTION_MODE = process.env.IMGAPI_STRICT_INTERRUPTIONS ?? "sample";

/** Cuts a run short, runs again, compares; false when the first run ended before the cut. */
async function interruptedThenRerun(cut: NonNullable<typeof interrupt>, where: string): Promise<boolean> {
  await freshAccount();
  interrupt = cut;
  let stopped: unknown;
  try {
    await run();
  } catch (e) {
    stopped = e;
  } finally {
    interrupt = undefined;
  }
  if (stopped === undefined) return false;
  assert.ok(isInterrupted(stopped), `the run stopped before ${where}: ${(stopped as Error).message} (rules fired: ${fired()})`);
  await run();
  assert.deepEqual(await stackState(direct, names), reference, `after an interruption ${where}, the same stack as an undisturbed deploy`);
  return true;
}

describe("deploy with every AWS rule on, resumed after an interruption", () => {
  if (INTERRUPTION_MODE === "every-k") {
    test("interrupted after every k-th mutating call, then run again", async (t) => {
      for (let k = 1, reached = true; reached; k++) {
        await t.test(`after mutating call ${k}`, async () => void (reached = await interruptedThenRerun({ afterSends: k, armed: false }, `after mutating call ${k}`)));
      }
    });
    return;
  }
  for (const [label, after] of INTERRUPTIONS.filter(([, , set]) => INTERRUPTION_MODE === "all" || set === "sample")) {
    test(`interrupted once ${label}, then run again`, async () => {
      assert.ok(await interruptedThenRerun({ after, armed: false }, `once ${label}`), `the deploy never got to where ${label}`);
    });
  }
});

describe("deploy in an account with AWS's quotas", () => {
  test("a reserved concurrency a new account (quota 10) cannot give stops the deploy before its first mutating call", async () => {
    await freshAccount();
    await assert.rejects(run(configOf({ lambda: { ...example.lambda, reservedConcurrency: 5 } })), (e: unknown) => {
      assert.ok(e instanceof DeployError, String(e));
      assert.match(e.message, /concurrency/i);
      return true;
    });
    assert.deepEqual(mutations, [], "nothing was made that the user must now clean up");
  });

  test("five trails already in the region stop the deploy before its first mutating call", async () => {
    await freshAccount(() => seedAccountTrails(direct, ["org-trail-1", "org-trail-2", "org-trail-3", "org-trail-4", "org-trail-5"]));
    await assert.rejects(run(), (e: unknown) => {
      assert.ok(e instanceof DeployError, String(e));
      assert.match(e.message, /5 trails|MaximumNumberOfTrails/);
      return true;
    });
    assert.deepEqual(mutations, [], "nothing was made that the user must now clean up");
  });

  test("an account trail already recording management events: the deploy completes, leaves it as it was, and says a second copy is paid", async () => {
    await freshAccount(() => seedAccountTrails(direct, ["org-trail"]));
    const before = (await direct.cloudtrail.send(new GetTrailCommand({ Name: "org-trail" }))).Trail;
    const result = await run();
    // The same stack, but for our trail's selectors: management events are left to the account's trail.
    const state = (await stackState(direct, names)) as { trail?: { selectors?: { EventSelectors?: Array<{ IncludeManagementEvents?: boolean }> } } };
    const expected = structuredClone(reference) as typeof state;
    for (const selector of expected.trail?.selectors?.EventSelectors ?? []) selector.IncludeManagementEvents = false;
    assert.deepEqual(state, expected);
    assert.deepEqual((await direct.cloudtrail.send(new GetTrailCommand({ Name: "org-trail" }))).Trail, before);
    const trailStep = result.resources.find((r) => r.resource === "CloudTrail trail");
    assert.match(trailStep?.detail ?? "", /org-trail/, `the trail step names the account's existing trail: ${JSON.stringify(trailStep)}`);
  });
});

describe("teardown with every AWS rule on", () => {
  test("--delete-data empties a bucket of more than 1000 objects in DeleteObjects batches S3 accepts", async () => {
    await freshAccount(async () => void (await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() })));
    // moto enforces the TLS-only Deny without its condition on its plain-HTTP
    // endpoint, for every object call: the policy stays lifted for the writes
    // here and the deletes under test (AWS would apply it over TLS).
    const Bucket = names.imagesBucket;
    await direct.s3.send(new DeleteBucketPolicyCommand({ Bucket }));
    const keys = Array.from({ length: 1005 }, (_, i) => `resized/many/${String(i).padStart(4, "0")}.webp`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((Key) => direct.s3.send(new PutObjectCommand({ Bucket, Key, Body: "x" }))));

    const down = await teardown({ config, clients: strict, deleteData: true, clock: virtualClock() });
    const images = down.resources.find((r) => r.name === Bucket);
    assert.deepEqual([images?.action, images?.detail], ["deleted", "deleted 1005 objects"]);
    assert.equal(harness!.fired()["s3-delete-objects-1000-keys"] ?? 0, 0, "no DeleteObjects request was refused");
  });
});
