// Issue 17: the errors a newcomer meets first name the next command. A region
// typo stops before any AWS call; a deploy or teardown against moto that trips
// on what moto lacks says how to fix moto; AWS's refusals name the IAM action
// or the quota and where to raise it; `npm start --port 3001` names the `--`.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, mock, test } from "node:test";
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import { checkRegion, sdkPartitions, type Partition } from "../config/regions.ts";
import { createClients, destroyClients, type AwsClients } from "../deploy/aws-clients.ts";
import { configFromFlags, EXIT, reportFailure } from "../deploy/cli.ts";
import { step } from "../deploy/errors.ts";
import { resourceNames } from "../deploy/names.ts";
import { deploy } from "../deploy/run.ts";
import { teardown } from "../teardown/run.ts";
import { fakeZip } from "./support/fake-zip.ts";
import { serviceError, startFaultProxy, type FaultProxy } from "./support/fault-proxy.ts";
import { runCli, runCommand } from "./support/cli-run.ts";
import { freePort, MOTO_CREDENTIALS, MOTO_GAPS, MOTO_REGION, motoServerCommand } from "./support/moto.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// One attempt per call: a check that wrongly lets a run reach the endpoint fails fast, not after retries.
const ENV = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", NO_COLOR: "1", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_MAX_ATTEMPTS: "1" };

/** A CLI run to its end; the timeout makes one that should have exited (npm start would serve on) a failure, not a hang. */
const run = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) => runCommand(command, args, { env: { ...ENV, ...env }, timeout: 60_000 });
const cli = (script: string, args: string[], env?: NodeJS.ProcessEnv) => runCli(script, args, { env: { ...ENV, ...env }, timeout: 60_000 });

/** What a CLI prints on stderr and returns: reportFailure and configFromFlags as deploy and teardown call them. */
function captured<T>(fn: () => T): { value: T; stderr: string } {
  const lines: string[] = [];
  const error = mock.method(console, "error", (...args: unknown[]) => lines.push(args.map(String).join(" ")));
  const log = mock.method(console, "log", () => undefined);
  try {
    return { value: fn(), stderr: lines.join("\n") };
  } finally {
    error.mock.restore();
    log.mock.restore();
  }
}

describe("region", () => {
  let dir: string;
  let requests = 0;
  let listener: Server;
  let endpoint: string;
  const configWith = (region: string) => {
    const path = join(dir, `config-${region}.json`);
    writeFileSync(path, JSON.stringify({ stackName: "imgapi-typo", region, sizes: { thumb: { width: 10 } } }));
    return path;
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "imgapi-region-"));
    // Counts every request: a region typo must be refused before the first one.
    listener = createServer((_req, res) => {
      requests += 1;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  });
  after(() => {
    listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the list is the AWS SDK's own partition data, not ours", () => {
    const aws = sdkPartitions().find((p) => p.id === "aws");
    assert.ok(aws !== undefined && aws.regions.length >= 30, `the SDK's aws partition lists its regions: ${JSON.stringify(aws?.regions)}`);
    for (const region of ["us-east-1", "eu-west-1", "ap-southeast-2"]) assert.ok(aws.regions.includes(region), region);
    assert.ok(!aws.regions.includes("aws-global"), "signing pseudo-regions are not places to deploy to");
    assert.deepEqual(checkRegion("eusc-de-east-1"), { ok: true }, "another partition's region is known too");
  });

  test("a region the installed SDK does not list yet is used with a warning; a typo of a listed one is refused", () => {
    const partitions: Partition[] = [{ id: "aws", regionRegex: /^(us|eu|ap)-\w+-\d+$/, regions: ["us-east-1", "us-west-1", "eu-west-1"] }];
    const newer = checkRegion("eu-west-4", partitions);
    assert.equal(newer.ok, true);
    assert.match(newer.ok ? (newer.warning ?? "") : "", /^region eu-west-4 is not in the AWS SDK's list of regions \(it may be newer than the installed SDK\); using it as given\./);
    const place = checkRegion("ap-northwest-7", partitions);
    assert.ok(place.ok && place.warning !== undefined, "a new place in a partition's shape");
    assert.deepEqual(checkRegion("us-est-1", partitions), { ok: false, problem: 'unknown region "us-est-1"; did you mean us-east-1? (AWS regions: https://docs.aws.amazon.com/general/latest/gr/rande.html)' });
    assert.equal(checkRegion("mars-central-1", partitions).ok, false, "no partition has that shape");
  });

  test("deploy --region us-est-1: exit 2, unknown region, the closest one, no AWS call", async () => {
    const ran = await cli("deploy/index.ts", ["--config", "config.example.json", "--region", "us-est-1", "--endpoint-url", endpoint, "--dry-run"]);
    assert.equal(ran.code, EXIT.usage, ran.stderr);
    assert.equal(ran.stderr.trim(), '--region: unknown region "us-est-1"; did you mean us-east-1? (AWS regions: https://docs.aws.amazon.com/general/latest/gr/rande.html)');
    assert.equal(requests, 0);
  });

  test("a config file's region typo: deploy, teardown and npm start all exit 2 naming it", async () => {
    const path = configWith("us-est-1");
    const expected = `${path} is not valid:\n  - region: unknown region "us-est-1"; did you mean us-east-1?`;
    for (const [name, ran] of [
      ["deploy", await cli("deploy/index.ts", ["--config", path, "--endpoint-url", endpoint])],
      ["teardown", await cli("teardown/index.ts", ["--config", path, "--endpoint-url", endpoint, "--yes"])],
      ["npm start", await cli("local/index.ts", ["--config", path, "--port", "0", "--data-dir", dir])],
    ] as const) {
      assert.equal(ran.code, 2, `${name}: ${ran.stderr}`);
      assert.ok(ran.stderr.includes(expected), `${name}:\n${ran.stderr}`);
    }
    assert.equal(requests, 0);
  });

  test("a region newer than the SDK's list passes the config check with a warning on stderr", () => {
    const { value, stderr } = captured(() => configFromFlags({ config: configWith("eu-west-9") }));
    assert.equal(typeof value === "object" && value.region, "eu-west-9");
    assert.match(stderr, /^Warning: region eu-west-9 is not in the AWS SDK's list of regions/);
    assert.equal(captured(() => configFromFlags({ config: configWith("eu-west-1") })).stderr, "", "a listed region: no warning");
  });
});

describe("credentials on a dry run", () => {
  let home: string;
  before(() => {
    home = mkdtempSync(join(tmpdir(), "imgapi-home-"));
  });
  after(() => rmSync(home, { recursive: true, force: true }));
  // No keys, no profiles, no instance metadata: what a fresh machine has.
  const bare = () => ({ HOME: home, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_PROFILE: "", AWS_CONFIG_FILE: join(home, "config"), AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"), AWS_EC2_METADATA_DISABLED: "true" });

  test("deploy --dry-run without credentials exits 1 naming aws configure, aws sso login and AWS_PROFILE", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...ENV, ...bare() };
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"]) delete env[name];
    const ran = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "deploy/index.ts", "--config", "config.example.json", "--dry-run"], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
    });
    assert.equal(ran.code, EXIT.failed, ran.stderr);
    assert.match(ran.stderr, /^Deploy failed: reading caller identity \(sts\): CredentialsProviderError\. No AWS credentials were found\. Run aws configure \(access keys\) or aws sso login \(IAM Identity Center\), or pass --profile NAME or set AWS_PROFILE\. Check with: aws sts get-caller-identity$/m);
  });

  test("deploy --dry-run --profile nosuch exits 2: no such profile, and how to make it", async () => {
    const ran = await cli("deploy/index.ts", ["--config", "config.example.json", "--dry-run", "--profile", "nosuch"], bare());
    assert.equal(ran.code, EXIT.usage, ran.stderr);
    assert.equal(ran.stderr.trim(), `No AWS profile named "nosuch" in ${join(home, "config")} or ${join(home, "credentials")} (no profiles there). Set it up with: aws configure --profile nosuch (or aws configure sso), or pick one of those.`);
  });
});

describe("npm start with the flags before --", () => {
  test("npm start --port 3001 (and --port=3001) exit 2 naming npm start -- --port 3001", async () => {
    for (const args of [["--port", "3001"], ["--port=3001"]]) {
      const ran = await run("npm", ["start", "--silent", ...args]);
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, /^npm kept --port for itself: npm passes a script only the flags after "--"\. Run: npm start -- --port 3001\nRun npm start -- --help for the options\.$/m);
    }
  });
});

describe("deploy and teardown errors against moto", () => {
  const ACCOUNT = "123456789012";
  const config = parseConfig({ stackName: "imgapi-newcomer", region: MOTO_REGION, sizes: { thumb: { width: 10 } } });
  const names = resourceNames(config.stackName, ACCOUNT, MOTO_REGION);
  let moto: ChildProcess;
  let motoUrl: string;
  let gaps: FaultProxy;
  let proxy: FaultProxy;
  let clients: AwsClients;
  let direct: AwsClients;

  before(async () => {
    // A plain moto_server, as the README's reader starts it: without MOTO_IAM_LOAD_MANAGED_POLICIES.
    const port = await freePort();
    motoUrl = `http://127.0.0.1:${port}`;
    const env = { ...process.env };
    delete env.MOTO_IAM_LOAD_MANAGED_POLICIES;
    moto = spawn(motoServerCommand(), ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore", env });
    for (;;) {
      if (moto.exitCode !== null) throw new Error(`moto_server exited with ${moto.exitCode}`);
      if (await fetch(`${motoUrl}/moto-api/data.json`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    gaps = await startFaultProxy(motoUrl);
    for (const rule of MOTO_GAPS) gaps.inject(rule);
    proxy = await startFaultProxy(gaps.url);
    clients = createClients({ region: MOTO_REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, maxAttempts: 3 });
    direct = createClients({ region: MOTO_REGION, endpoint: gaps.url, credentials: MOTO_CREDENTIALS });
  });
  after(async () => {
    if (clients) destroyClients(clients);
    if (direct) destroyClients(direct);
    await proxy?.close();
    await gaps?.close();
    moto?.kill("SIGTERM");
  });

  async function failure(run: Promise<unknown>): Promise<unknown> {
    try {
      await run;
    } catch (e) {
      return e;
    }
    return assert.fail("the run succeeded");
  }
  const reset = async () => {
    proxy.clear();
    const res = await fetch(`${motoUrl}/moto-api/reset`, { method: "POST" });
    assert.ok(res.ok);
  };

  test("AWS names the missing action: the message grants that one and points at deploy/deployer-policy.json", async () => {
    await reset();
    // CreateKey with Tags also needs kms:TagResource, which AWS names in its refusal:
    // https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html
    const message = `User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: kms:TagResource on resource: * because no identity-based policy allows the kms:TagResource action`;
    proxy.inject({ name: "denied", match: { service: "kms", operation: "CreateKey" }, fault: serviceError("kms", 400, "AccessDeniedException", message), times: Infinity });
    const e = await failure(deploy({ config, clients, zip: fakeZip() }));
    const { value, stderr } = captured(() => reportFailure("Deploy", e, false, { "endpoint-url": proxy.url }));
    assert.equal(value, EXIT.failed);
    assert.match(stderr, /^Deploy failed: creating KMS key \([^)]+\): AccessDeniedException\. Grant kms:TagResource to your deploy identity \(the whole list is deploy\/deployer-policy\.json\), or run with a profile that has it\.$/);
  });

  test("an explicit deny (an SCP) is said to be one: a grant would not help", async () => {
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    const refusal = Object.assign(new Error(`User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::${ACCOUNT}:role/x with an explicit deny in a service control policy`), { name: "AccessDenied" });
    const e = await failure(step("creating", "IAM role", "x", "iam:CreateRole", () => Promise.reject(refusal)));
    assert.equal((e as Error).message, "creating IAM role (x): AccessDenied. AWS names iam:CreateRole, refused by an explicit deny (service control policy): granting it to your identity will not help; ask whoever manages that policy, or run with a profile it does not cover.");
  });

  test("a quota reached names it and the Service Quotas console; throttling past the retries says so", async () => {
    await reset();
    proxy.inject({ name: "quota", match: { service: "iam", operation: "CreateRole" }, fault: serviceError("iam", 409, "LimitExceeded", "Cannot exceed quota for RolesPerAccount: 1000"), times: Infinity });
    const e = await failure(deploy({ config, clients, zip: fakeZip() }));
    const said = captured(() => reportFailure("Deploy", e, false));
    assert.equal(said.value, EXIT.failed);
    assert.match(said.stderr, /: LimitExceededException\. The iam quota RolesPerAccount is reached \(AWS: Cannot exceed quota for RolesPerAccount: 1000\)\. Free some .* request an increase in the Service Quotas console \(in the stack's region\): https:\/\/console\.aws\.amazon\.com\/servicequotas\/home\/services\/iam\/quotas$/);

    await reset();
    proxy.inject({ name: "throttled", match: { service: "kms", operation: "CreateKey" }, fault: serviceError("kms", 400, "ThrottlingException", "Rate exceeded"), times: Infinity });
    const t = await failure(deploy({ config, clients, zip: fakeZip() }));
    const throttled = captured(() => reportFailure("Deploy", t, false));
    assert.equal(throttled.value, EXIT.failed);
    assert.match(throttled.stderr, /: ThrottlingException\. AWS kept refusing kms:CreateKey for its request rate after 3 attempts \(AWS: Rate exceeded\)\. Wait a minute and run the same command again \(AWS_MAX_ATTEMPTS allows more retries\); .* https:\/\/console\.aws\.amazon\.com\/servicequotas\/home\/services\/kms\/quotas$/);
    assert.equal(proxy.faulted("throttled"), 3, "the SDK's retries came first");
  });

  test("a plain moto_server: the managed-policy NoSuchEntity names MOTO_IAM_LOAD_MANAGED_POLICIES; against AWS it stays about the policy", async () => {
    await reset();
    const e = await failure(deploy({ config, clients, zip: fakeZip() }));
    const onMoto = captured(() => reportFailure("Deploy", e, false, { "endpoint-url": "http://127.0.0.1:5000" }));
    assert.equal(onMoto.value, EXIT.failed);
    assert.match(onMoto.stderr, /^Deploy failed: attaching AmazonAPIGatewayPushToCloudWatchLogs to .*: NoSuchEntityException\. Policy arn:aws:iam::aws:policy\/service-role\/AmazonAPIGatewayPushToCloudWatchLogs does not exist or is not attachable\./);
    assert.match(onMoto.stderr, /If it is moto, restart it with them loaded: MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -p PORT, then run the same command again\.$/);
    const onAws = captured(() => reportFailure("Deploy", e, false));
    assert.ok(!/moto|MOTO_/.test(onAws.stderr), onAws.stderr);
    assert.match(onAws.stderr, /AmazonAPIGatewayPushToCloudWatchLogs does not exist or is not attachable/);
  });

  test("a plain moto_server without the gap layer: deploy goes past Lambda's account settings it lacks (no ceiling, said so) to the managed-policy refusal, and teardown past CloudFront's missing APIs", async () => {
    await reset();
    const plain = createClients({ region: MOTO_REGION, endpoint: motoUrl, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
    try {
      const progress: string[] = [];
      const e = await failure(deploy({ config, clients: plain, zip: fakeZip(), progress: (m) => progress.push(m) }));
      assert.match(String((e as Error).message), /NoSuchEntity/, "stopped at the managed policy, as a plain moto_server does, not before");
      // Its CDN rows list cache policies and functions first, which this moto answers with a 404 page.
      const down = await teardown({ config, clients: plain });
      assert.ok(down.resources.some((r) => r.action === "deleted"), JSON.stringify(down.resources));
    } finally {
      destroyClients(plain);
    }
  });

  test("teardown --delete-data refused by moto's TLS-only deny names the command that lifts it, which then works", async () => {
    await reset();
    // The deploy stops at the logs role (as above), after the images bucket and its policy.
    await failure(deploy({ config, clients, zip: fakeZip() }));
    const bucket = names.imagesBucket;
    const policy = (await direct.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy!;
    await direct.s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    await direct.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "originals/a", Body: "image" }));
    await direct.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));

    const e = await failure(teardown({ config, clients, deleteData: true }));
    const said = captured(() => reportFailure("Teardown", e, false, { "endpoint-url": proxy.url }));
    assert.equal(said.value, EXIT.failed);
    assert.match(said.stderr, new RegExp(`^Teardown failed: deleting the objects of S3 bucket \\(images\\) \\(${bucket}\\): AccessDenied\\. `));
    const command = `aws s3api delete-bucket-policy --bucket ${bucket} --endpoint-url ${proxy.url}`;
    assert.ok(said.stderr.endsWith(`moto enforces that deny without its condition, so it refuses these deletes even over https. For a local test endpoint, lift the policy and run the same command again: ${command}`), said.stderr);
    assert.ok(!/moto/.test(captured(() => reportFailure("Teardown", e, false)).stderr), "against AWS: no moto advice");

    await direct.s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    const down = await teardown({ config, clients, deleteData: true });
    assert.equal(down.resources.find((r) => r.name === bucket)?.action, "deleted");
  });
});
