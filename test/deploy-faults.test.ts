// Deploy and teardown under AWS faults: the deploy's clients talk to moto
// through a fault-injecting proxy that answers chosen calls in each service's
// own error protocol. Transient faults (throttling, 5xx, dropped connections)
// on the first call of every kind are retried by the SDK and the run ends in
// exactly the state of an undisturbed one; an access-denied stops the run at
// once with a DeployError naming the IAM permission to grant.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../config/load.ts";
import { ConfiguredRetryStrategy } from "@smithy/core/retry";
import { createClients, destroyClients, type AwsClients } from "../deploy/aws-clients.ts";
import { DeployError } from "../deploy/errors.ts";
import { resourceNames } from "../deploy/names.ts";
import { deploy } from "../deploy/run.ts";
import { teardown } from "../teardown/run.ts";
import { serviceError, startFaultProxy, type Fault, type FaultProxy, type MatchSpec, type ProxiedRequest } from "./support/fault-proxy.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { apiCounts, ONE_OF_EACH } from "./support/api-counts.ts";
import { conflictRules } from "./support/aws-conflicts.ts";
import { ruleContext } from "./support/aws-rules.ts";
import { stackState } from "./support/stack-state.ts";
import { virtualClock } from "./support/clock.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8"));
const config = parseConfig(example);
const names = resourceNames(config.stackName, ACCOUNT, MOTO_REGION);
const deployerPolicy = ["deployer-policy.json", "deployer-policy-services.json", "deployer-policy-cdn.json"].map((f) => readFileSync(new URL(`../deploy/${f}`, import.meta.url), "utf8")).join("\n");

const ZIP = fakeZip();

let moto: Moto;
let proxy: FaultProxy;
/** Through the proxy, with the CLI's default attempts. */
let faulty: AwsClients;
/** Straight to moto. */
let direct: AwsClients;
const summary = { runs: 0, transientFaults: 0, operations: 0, deniedCases: 0, lostAnswers: 0, failures: 0 };

before(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  // The SDK's own retries, with a 5 ms backoff instead of up to seconds: dozens
  // of injected throttles would otherwise spend half a minute asleep.
  faulty = createClients({ region: MOTO_REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, retryStrategy: () => new ConfiguredRetryStrategy(8, 5) });
  direct = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
});

after(async () => {
  if (faulty) destroyClients(faulty);
  if (direct) destroyClients(direct);
  await proxy?.close();
  await moto?.stop();
  console.log(
    `deploy-faults: ${summary.runs} deploy/teardown runs: ${summary.transientFaults} transient faults (each of the ${summary.operations} kinds of call a deploy and teardown make, once), ${summary.lostAnswers} lost answers, ${summary.deniedCases} access-denied cases; ${summary.failures} failures`,
  );
});

function counted(name: string, fn: () => Promise<void>) {
  test(name, async () => {
    try {
      await fn();
    } catch (e) {
      summary.failures += 1;
      throw e;
    } finally {
      proxy.clear();
      await proxy.idle();
    }
  });
}

// ---- transient faults ------------------------------------------------------------------

/** What kind of call a request is: the operation where the protocol names it, else method + path shape + subresources. */
function kindOf(r: ProxiedRequest): string {
  if (r.operation !== "" && r.service !== "s3") return `${r.service} ${r.operation}`;
  const shape = r.path
    .replace(/\/[0-9a-f]{8}-[0-9a-f-]{27,}/g, "/:uuid")
    .replace(/\/[a-z0-9]{10}(?=\/|$)/g, "/:id")
    .replace(/^\/[^/]+-(images|trail)-\d+-[a-z0-9-]+/, "/:$1-bucket")
    .replace(/\/(originals|resized)\/.*$/, "/:object");
  const subresources = [...r.query.keys()].filter((k) => k !== "x-id").sort().join("&");
  return `${r.service} ${r.method} ${shape}${subresources ? `?${subresources}` : ""}`;
}

/** Throttling in each service's own words, then 5xx, then a dropped connection, in turn. */
function transientFault(r: ProxiedRequest, n: number): Fault {
  const throttle: Record<string, [number, string]> = {
    s3: [503, "SlowDown"],
    iam: [400, "Throttling"],
    sts: [400, "Throttling"],
    cloudfront: [400, "Throttling"],
    route53: [400, "Throttling"],
    kms: [400, "ThrottlingException"],
    logs: [400, "ThrottlingException"],
    cloudtrail: [400, "ThrottlingException"],
    lambda: [429, "TooManyRequestsException"],
    apigateway: [429, "TooManyRequestsException"],
  };
  switch (n % 4) {
    case 0:
    case 1: {
      const [status, code] = throttle[r.service] ?? [400, "ThrottlingException"];
      return serviceError(r.service, status, code, "Rate exceeded");
    }
    case 2:
      return serviceError(r.service, 503, r.service === "s3" ? "ServiceUnavailable" : "ServiceUnavailableException", "Service unavailable");
    default:
      return { kind: "reset" };
  }
}

/** Kinds of call already faulted: each kind is faulted once in the whole file. */
const faultedKinds = new Set<string>();

/** Faults the first request of every kind of call not faulted yet (before it reaches moto), once. */
function faultFirstOfEveryKind(): { kinds: Set<string> } {
  const kinds = faultedKinds;
  let n = 0;
  proxy.inject({
    name: "first-of-kind",
    match: { where: (r) => r.service !== "" && !kinds.has(kindOf(r)) },
    fault: (r) => {
      kinds.add(kindOf(r));
      n += 1;
      return transientFault(r, n);
    },
    times: Infinity,
  });
  return { kinds };
}

let reference: Record<string, unknown>;

describe("transient faults", () => {
  counted("an undisturbed deploy, for reference", async () => {
    await moto.reset();
    await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() });
    reference = await stackState(direct, names);
  });

  counted("throttling, 5xx and dropped connections on the first call of every kind: deploy retries each and ends in the same state", async () => {
    await moto.reset();
    const { kinds } = faultFirstOfEveryKind();
    const started = performance.now();
    const result = await deploy({ config, clients: faulty, zip: ZIP, clock: virtualClock() });
    summary.runs += 1;
    const faults = proxy.faulted("first-of-kind");
    summary.transientFaults += faults;
    summary.operations = kinds.size;
    assert.ok(faults >= 30, `${faults} faults injected over ${kinds.size} kinds of call`);
    assert.ok(result.resources.every((r) => ["created", "unchanged"].includes(r.action)), JSON.stringify(result.resources));
    proxy.clear();
    assert.deepEqual(await stackState(direct, names), reference, "the same final state as an undisturbed deploy");
    // Every faulted call was made again and went through.
    const lastStatus = new Map<string, number | undefined>();
    for (const entry of proxy.log) lastStatus.set(`${entry.method} ${entry.path} ${entry.operation}`, entry.status);
    assert.ok([...lastStatus.values()].every((s) => s === undefined || s < 500 || s === 503), "no call left failed");
    console.log(`deploy-faults: deploy with ${faults} faults over ${kinds.size} kinds of call took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

  counted("the same faults during a second deploy and a teardown --delete-data: both complete, nothing is left", async () => {
    const { kinds } = faultFirstOfEveryKind();
    const again = await deploy({ config, clients: faulty, zip: ZIP, clock: virtualClock() });
    assert.ok(again.resources.every((r) => r.action === "unchanged"), JSON.stringify(again.resources.filter((r) => r.action !== "unchanged")));
    const down = await teardown({ config, clients: faulty, deleteData: true, deleteAuditLogs: true });
    summary.runs += 2;
    summary.transientFaults += proxy.faulted("first-of-kind");
    summary.operations = kinds.size;
    assert.ok(down.resources.every((r) => r.action === "deleted" || r.action === "kept"), JSON.stringify(down.resources));
    proxy.clear();
    const left = (await stackState(direct, names)) as Record<string, unknown>;
    assert.deepEqual(left.kms, { liveKeys: 0, alias: [], rotation: [], policy: [] });
    assert.equal(left.role, undefined);
    assert.deepEqual(left.buckets, []);
    assert.equal(left.restApis, 0);
    assert.equal(left.function, undefined);
    assert.equal(left.trail, undefined);
  });
});

// ---- lost answers ---------------------------------------------------------------------

/** A mutating call: anything but reads (GET/HEAD, Get*, List*, Describe*). */
function isMutating(r: ProxiedRequest): boolean {
  if (r.operation !== "" && r.service !== "s3") return !/^(Get|List|Describe|Head|Lookup)/.test(r.operation);
  return !["GET", "HEAD"].includes(r.method);
}

describe("lost answers", () => {
  counted("every mutating call takes effect but its answer is lost (500) once: the SDK's retry meets what the first attempt made, and every create leaves exactly one resource", async () => {
    await moto.reset();
    // AWS refuses a retried create of what exists (moto often makes a second one): the retry must meet that.
    const conflicts = ruleContext(proxy);
    for (const rule of conflictRules()) rule.install(conflicts);
    const kinds = new Set<string>();
    proxy.inject({
      name: "lost",
      match: { where: (r) => r.service !== "" && r.service !== "sts" && isMutating(r) && !kinds.has(kindOf(r)) },
      fault: (r) => {
        kinds.add(kindOf(r));
        return { kind: "lose", answer: serviceError(r.service, 500, r.service === "s3" ? "InternalError" : "InternalFailure", "We encountered an internal error") };
      },
      times: Infinity,
    });
    // As a user would: run the same command again until it completes.
    const stops: string[] = [];
    for (let run = 0; run < 12; run++) {
      summary.runs += 1;
      try {
        await deploy({ config, clients: faulty, zip: ZIP, clock: virtualClock() });
        break;
      } catch (e) {
        stops.push((e as Error).message.split(". ")[0]!);
      }
    }
    summary.lostAnswers += proxy.faulted("lost");
    const adopted = conflictRules().map((r) => `${r.name} ${proxy.faulted(r.name)}`).join(", ");
    proxy.clear();
    conflicts.close();
    const byMessage = new Map<string, number>();
    for (const stop of stops) byMessage.set(stop, (byMessage.get(stop) ?? 0) + 1);
    const listed = [...byMessage].map(([m, n]) => (n > 1 ? `${m} (x${n})` : m)).join(" | ");
    console.log(`deploy-faults: ${kinds.size} kinds of mutating call lost their answer once (conflicts answered: ${adopted}); ${stops.length} runs stopped before one completed${stops.length > 0 ? `: ${listed}` : ""}`);
    assert.deepEqual(stops.filter((s) => /REST API|usage plan|API key|Lambda permission/i.test(s)), [], "the API's creates adopt what a lost answer made within the same run");
    assert.deepEqual(await apiCounts(direct, names), ONE_OF_EACH, "exactly one of everything the API's creates make");
    // kms-key.ts schedules a key a lost CreateKey answer left for deletion on the run after (it finds it by tag); nothing else may change.
    const next = await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() });
    const changed = next.resources.filter((r) => r.action !== "unchanged");
    assert.ok(changed.every((r) => r.resource === "KMS key" && /^orphan \S+ \(left by a lost CreateKey answer\) scheduled for deletion$/.test(r.detail ?? "")), `not converged: ${JSON.stringify(changed)}`);
    const again = await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() });
    assert.ok(again.resources.every((r) => r.action === "unchanged"), `not converged: ${JSON.stringify(again.resources.filter((r) => r.action !== "unchanged"))}`);
    assert.deepEqual(await stackState(direct, names), reference, "the same state as an undisturbed deploy: no duplicate API, key, plan or trail");
  });
});

// ---- access denied -----------------------------------------------------------------------

interface DeniedCase {
  call: string;
  match: MatchSpec;
  service: string;
  status: number;
  code: string;
  permission: string;
  phase: "deploy" | "teardown";
}

const DENIED: DeniedCase[] = [
  { call: "iam CreateRole", match: { service: "iam", operation: "CreateRole" }, service: "iam", status: 403, code: "AccessDenied", permission: "iam:CreateRole", phase: "deploy" },
  { call: "kms CreateKey", match: { service: "kms", operation: "CreateKey" }, service: "kms", status: 400, code: "AccessDeniedException", permission: "kms:CreateKey", phase: "deploy" },
  { call: "s3 PutBucketEncryption", match: { service: "s3", method: "PUT", where: (r) => r.query.has("encryption") }, service: "s3", status: 403, code: "AccessDenied", permission: "s3:PutEncryptionConfiguration", phase: "deploy" },
  { call: "logs CreateLogGroup", match: { service: "logs", operation: "CreateLogGroup" }, service: "logs", status: 400, code: "AccessDeniedException", permission: "logs:CreateLogGroup", phase: "deploy" },
  { call: "lambda CreateFunction", match: { service: "lambda", method: "POST", path: /^\/2015-03-31\/functions\/?$/ }, service: "lambda", status: 403, code: "AccessDeniedException", permission: "lambda:CreateFunction", phase: "deploy" },
  { call: "apigateway CreateRestApi", match: { service: "apigateway", method: "POST", path: /^\/restapis\/?$/ }, service: "apigateway", status: 403, code: "AccessDeniedException", permission: "apigateway:POST", phase: "deploy" },
  { call: "cloudtrail CreateTrail", match: { service: "cloudtrail", operation: "CreateTrail" }, service: "cloudtrail", status: 400, code: "AccessDeniedException", permission: "cloudtrail:CreateTrail", phase: "deploy" },
  { call: "iam DeleteRole", match: { service: "iam", operation: "DeleteRole" }, service: "iam", status: 403, code: "AccessDenied", permission: "iam:DeleteRole", phase: "teardown" },
  { call: "s3 DeleteBucket", match: { service: "s3", method: "DELETE", where: (r) => /^\/[^/]+\/?$/.test(r.path) && [...r.query.keys()].filter((k) => k !== "x-id").length === 0 }, service: "s3", status: 403, code: "AccessDenied", permission: "s3:DeleteBucket", phase: "teardown" },
];

describe("access denied", () => {
  for (const c of DENIED) {
    counted(`${c.phase}: ${c.call} refused (${c.status} ${c.code}): stops at once with a DeployError naming ${c.permission}`, async () => {
      await moto.reset();
      if (c.phase === "teardown") await deploy({ config, clients: direct, zip: ZIP, clock: virtualClock() });
      summary.deniedCases += 1;
      const message = `User: arn:aws:iam::${ACCOUNT}:user/deployer is not authorized to perform: ${c.permission}`;
      proxy.inject({ name: "denied", match: c.match, fault: serviceError(c.service, c.status, c.code, message), times: Infinity });
      const run = c.phase === "deploy" ? deploy({ config, clients: faulty, zip: ZIP, clock: virtualClock() }) : teardown({ config, clients: faulty, deleteData: true });
      let error: unknown;
      try {
        await run;
      } catch (e) {
        error = e;
      }
      summary.runs += 1;
      assert.ok(error instanceof DeployError, `expected a DeployError, got ${String(error)}`);
      assert.equal(error.code, c.code);
      assert.match(error.message, new RegExp(`Grant ${c.permission.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`), error.message);
      assert.match(error.message, /deployer-policy\.json/);
      assert.ok(deployerPolicy.includes(`"${c.permission}"`), `${c.permission} is not in deploy/deployer-policy.json, so the hint cannot be followed`);
      assert.equal(proxy.faulted("denied"), 1, "an access denied is not retried");
    });
  }
});
