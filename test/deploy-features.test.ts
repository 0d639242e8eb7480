// The deploy side of signed public URLs, IAM authorization and the S3 trigger,
// on moto: the URL-signing secret exists only as a KMS ciphertext in the
// function's configuration (never in any output), is kept by a redeploy and
// replaced by --rotate-signing-secret; the key and role policies scope its use
// to its encryption context; "iam" mode guards the private routes with SigV4
// and prints the policy callers need; the public route has its own throttle;
// resizeOnUpload manages notifications on uploads/ and originals/ only, the asynchronous retries, and its permission.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { GetApiKeysCommand, GetDeploymentsCommand, GetResourcesCommand, GetRestApisCommand, GetStageCommand, GetUsagePlansCommand, UpdateStageCommand } from "@aws-sdk/client-api-gateway";
import { GetRolePolicyCommand } from "@aws-sdk/client-iam";
import { DecryptCommand, GetKeyPolicyCommand } from "@aws-sdk/client-kms";
import { GetFunctionCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, type LambdaFunctionConfiguration } from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import { SIGNING_SECRET_CONTEXT, SIGNING_SECRET_ENV } from "../config/runtime-env.ts";
import type { Config, ConfigInput } from "../config/schema.ts";
import { createClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import type { StepReport } from "../deploy/context.ts";
import { DeployError } from "../deploy/errors.ts";
import { resourceNames } from "../deploy/names.ts";
import { MAX_RETRY_ATTEMPTS, notificationId, S3_STATEMENT_ID } from "../deploy/resources/bucket-notification.ts";
import { GetFunctionEventInvokeConfigCommand } from "@aws-sdk/client-lambda";
import type { PolicyDocument, PolicyStatement } from "../deploy/policies/document.ts";
import { lambdaRolePolicyName } from "../deploy/resources/lambda-role.ts";
import { definitionHash, DEFINITION_PREFIX, methodSettingKey } from "../deploy/resources/rest-api.ts";
import { ensureSigningSecret } from "../deploy/resources/signing-secret.ts";
import { deploy, type DeployOptions } from "../deploy/run.ts";
import { ROUTES } from "../function/routes.ts";
import { teardown } from "../teardown/run.ts";
import { runCli } from "./support/cli-run.ts";
import { virtualClock } from "./support/clock.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { stackState } from "./support/stack-state.ts";
import { interruptionPoints } from "./support/interruptions.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")) as ConfigInput;
const configOf = (patch: Partial<ConfigInput> = {}): Config => parseConfig({ ...example, ...patch });
const base = configOf();
const names = resourceNames(base.stackName, ACCOUNT, MOTO_REGION);
const PUBLIC = ROUTES.filter((r) => r.access === "public");
const PRIVATE = ROUTES.filter((r) => r.access === "private");

const ZIP = fakeZip();

let moto: Moto;
let clients: AwsClients;
let reader: AwsClients;
/** Every command a deploy sent, with its input. */
let sent: { name: string; input: unknown }[] = [];
/** When set, the mutating call after this many throws, as if the run were killed there. */
let failAfter: number | undefined;
class Injected extends Error {}

const mutating = () => sent.map((c) => c.name).filter((n) => !isReadOnly(n.split(":")[1]!));
const inputsOf = (name: string) => sent.filter((c) => c.name === name).map((c) => c.input as Record<string, unknown>);

before(async () => {
  moto = await startMoto();
  const common = { region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 };
  clients = createClients({
    ...common,
    observer: (service, command, input) => {
      const name = `${service}:${command.replace(/Command$/, "")}`;
      if (failAfter !== undefined && !isReadOnly(command.replace(/Command$/, "")) && mutating().length >= failAfter) {
        throw new Injected(`injected failure before mutating call ${failAfter + 1} (${name})`);
      }
      sent.push({ name, input });
    },
  });
  reader = createClients(common);
});

after(async () => {
  await moto?.stop();
});

async function run(config: Config = base, options: Partial<Pick<DeployOptions, "dryRun" | "rotateSigningSecret">> = {}) {
  sent = [];
  const steps: StepReport[] = [];
  const progress: string[] = [];
  const result = await deploy({ config, clients, zip: ZIP, clock: virtualClock(), ...options, onStep: (s) => steps.push(s), progress: (m) => progress.push(m) });
  return { ...result, steps, progress, mutations: mutating() };
}

const stepOf = (steps: StepReport[], resource: RegExp) => {
  const found = steps.find((s) => resource.test(s.resource));
  assert.ok(found, `a step for ${resource} in ${JSON.stringify(steps)}`);
  return found;
};

async function functionEnv(): Promise<Record<string, string>> {
  return (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration?.Environment?.Variables ?? {};
}

/** What the handler does at cold start: KMS Decrypt with the secret's encryption context. */
async function decryptSecret(ciphertext: string): Promise<Buffer> {
  const out = await reader.kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(ciphertext, "base64"), EncryptionContext: { ...SIGNING_SECRET_CONTEXT } }));
  return Buffer.from(out.Plaintext!);
}

/** The forms a leaked secret would take in text. */
const spellings = (secret: Buffer) => [secret.toString("base64"), secret.toString("base64url"), secret.toString("hex"), secret.toString("hex").toUpperCase()];
function assertNowhere(secret: Buffer, where: string, text: string) {
  for (const s of spellings(secret)) assert.ok(!text.includes(s), `the plaintext secret (${s.slice(0, 6)}...) appears in ${where}`);
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const statement = (doc: PolicyDocument, sid: string): PolicyStatement => {
  const found = doc.Statement.find((s) => s.Sid === sid);
  assert.ok(found, `statement ${sid} in ${JSON.stringify(doc)}`);
  return found;
};
const CONTEXT_CONDITION = { StringEquals: { "kms:EncryptionContext:purpose": "imgapi-url-signing" } };

describe("URL-signing secret", () => {
  beforeEach(() => moto.reset());

  test("is made at first deploy as a KMS ciphertext in the function's environment, bound to its context, and kept by a redeploy", async () => {
    const first = await run();
    const made = stepOf(first.steps, /signing secret/i);
    assert.equal(made.action, "created");
    assert.deepEqual(
      first.mutations.filter((m) => m.startsWith("kms:Encrypt") || m === "lambda:CreateFunction"),
      ["kms:Encrypt", "lambda:CreateFunction"],
      "encrypted once, then carried by CreateFunction",
    );
    const [encrypt] = inputsOf("kms:Encrypt");
    assert.deepEqual(encrypt?.EncryptionContext, SIGNING_SECRET_CONTEXT);
    assert.equal(encrypt?.KeyId, first.outputs.keyArn, "the project's key");

    const [create] = inputsOf("lambda:CreateFunction");
    const ciphertext = (create?.Environment as { Variables: Record<string, string> }).Variables[SIGNING_SECRET_ENV]!;
    assert.match(ciphertext, /^[A-Za-z0-9+/]+=*$/, "base64");
    assert.equal((await functionEnv())[SIGNING_SECRET_ENV], ciphertext, "GetFunction shows the same ciphertext");

    const secret = await decryptSecret(ciphertext);
    assert.equal(secret.length, 32);
    await assert.rejects(
      reader.kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(ciphertext, "base64") })),
      { name: "InvalidCiphertextException" },
      "without its encryption context the ciphertext does not decrypt",
    );

    // Nothing the deploy sent, reported or printed holds the plaintext, but the Encrypt request itself.
    const others = sent.filter((c) => c.name !== "kms:Encrypt").map((c) => JSON.stringify(c.input, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)));
    assertNowhere(secret, "a request other than Encrypt", others.join("\n"));
    assertNowhere(secret, "the deploy's result", JSON.stringify({ resources: first.resources, outputs: first.outputs }));
    assertNowhere(secret, "the progress messages", first.progress.join("\n"));
    assertNowhere(secret, "the function's environment", JSON.stringify(await functionEnv()));

    const again = await run();
    assert.deepEqual(again.mutations, [], "a redeploy sends no mutating call");
    assert.equal(stepOf(again.steps, /signing secret/i).action, "unchanged");
    assert.equal((await functionEnv())[SIGNING_SECRET_ENV], ciphertext, "and keeps the secret");
  });

  test("--rotate-signing-secret replaces it with one UpdateFunctionConfiguration; its dry run only reports it", async () => {
    await run();
    const before = (await functionEnv())[SIGNING_SECRET_ENV]!;
    const oldSecret = await decryptSecret(before);

    const plan = await run(base, { dryRun: true, rotateSigningSecret: true });
    assert.deepEqual(plan.mutations, []);
    assert.deepEqual(
      plan.steps.filter((s) => s.action !== "unchanged").map((s) => [s.resource, s.action]),
      [
        ["URL-signing secret", "updated"],
        ["Lambda function", "updated"],
      ],
    );
    assert.equal((await functionEnv())[SIGNING_SECRET_ENV], before);

    const rotated = await run(base, { rotateSigningSecret: true });
    assert.deepEqual(rotated.mutations, ["kms:Encrypt", "lambda:UpdateFunctionConfiguration"], "a new ciphertext, written by the one configuration update");
    assert.match(stepOf(rotated.steps, /signing secret/i).detail ?? "", /rotated/);
    assert.equal(stepOf(rotated.steps, /Lambda function/).detail, "Environment");
    const after = (await functionEnv())[SIGNING_SECRET_ENV]!;
    assert.notEqual(after, before);
    const newSecret = await decryptSecret(after);
    assert.equal(newSecret.length, 32);
    assert.ok(!newSecret.equals(oldSecret), "a different secret: URLs signed with the old one stop verifying");
    const [update] = inputsOf("lambda:UpdateFunctionConfiguration");
    assert.equal(update?.KMSKeyArn, rotated.outputs.keyArn, "the environment is sent with its key");
    assertNowhere(newSecret, "the rotation's result", JSON.stringify({ resources: rotated.resources, outputs: rotated.outputs }) + rotated.progress.join("\n"));

    assert.deepEqual((await run()).mutations, [], "the next plain deploy keeps the new secret");
    assert.equal((await functionEnv())[SIGNING_SECRET_ENV], after);
  });

  test("an environment Lambda cannot decrypt for the deployer stops the deploy rather than replacing the secret", async () => {
    const kmsCalls: string[] = [];
    const stub = {
      lambda: { send: async () => ({ Configuration: { Environment: { Error: { ErrorCode: "KMSAccessDeniedException", Message: "Lambda was unable to decrypt the environment variables." } } } }) },
      kms: { send: async (command: { constructor: { name: string } }) => kmsCalls.push(command.constructor.name) },
    } as unknown as AwsClients;
    const ctx = { config: base, clients: stub, names, account: ACCOUNT, region: MOTO_REGION, partition: "aws", tags: {}, dryRun: false, progress: () => {}, clock: virtualClock() };
    await assert.rejects(ensureSigningSecret(ctx, { keyArn: "arn:aws:kms:us-east-1:123456789012:key/k" }), (e: unknown) => {
      assert.ok(e instanceof DeployError);
      assert.equal(e.code, "KMSAccessDeniedException");
      assert.match(e.message, /reading URL-signing secret \(imgapi-dev-fn\/IMGAPI_SIGNING_SECRET_CIPHERTEXT\).*grant it kms:Decrypt/);
      return true;
    });
    assert.deepEqual(kmsCalls, [], "no new secret was encrypted");
  });

  test("the key policy and the role's policy allow its use only with its encryption context", async () => {
    const { outputs } = await run();
    const keyPolicy = JSON.parse((await reader.kms.send(new GetKeyPolicyCommand({ KeyId: outputs.keyArn, PolicyName: "default" }))).Policy!) as PolicyDocument;
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/${names.roleName}`;

    const decrypt = statement(keyPolicy, "FunctionDecryptsSigningSecret");
    assert.deepEqual(decrypt.Principal, { AWS: roleArn });
    assert.deepEqual(list(decrypt.Action), ["kms:Decrypt"]);
    assert.deepEqual(decrypt.Condition, CONTEXT_CONDITION, "directly, not through a service, and only with the context");
    const encrypt = statement(keyPolicy, "DeployerEncryptsSigningSecret");
    assert.deepEqual(encrypt.Principal, { AWS: `arn:aws:iam::${ACCOUNT}:root` });
    assert.deepEqual(list(encrypt.Action), ["kms:Encrypt"], "the deploying identity encrypts; it cannot decrypt the secret back");
    assert.deepEqual(encrypt.Condition, { StringEquals: { ...CONTEXT_CONDITION.StringEquals, "kms:CallerAccount": ACCOUNT } });
    // Every other use of the key by the role goes through S3 or Lambda.
    for (const s of keyPolicy.Statement.filter((s) => JSON.stringify(s.Principal).includes(roleArn) && s !== decrypt)) {
      assert.ok(s.Condition?.StringEquals?.["kms:ViaService"], `${s.Sid} is limited to a service`);
    }

    const got = await reader.iam.send(new GetRolePolicyCommand({ RoleName: names.roleName, PolicyName: lambdaRolePolicyName({ names }) }));
    const rolePolicy = JSON.parse(decodeURIComponent(got.PolicyDocument!)) as PolicyDocument;
    // The role's own policy has no KMS statement: the key policy above names the role (its boundary caps it).
    assert.ok(!rolePolicy.Statement.some((s) => list(s.Action).some((a) => a.startsWith("kms:"))), "no KMS statement in the role policy");
    const bucket = `arn:aws:s3:::${names.imagesBucket}`;
    const deletes = rolePolicy.Statement.filter((s) => list(s.Action).includes("s3:DeleteObject")).flatMap((s) => list(s.Resource));
    assert.deepEqual(deletes.sort(), [`${bucket}/originals/*`, `${bucket}/resized/*`, `${bucket}/uploads/*`]);
    for (const s of rolePolicy.Statement) {
      assert.ok(list(s.Action).every((a) => !a.includes("*")), `no wildcard action in ${s.Sid}`);
      assert.ok(list(s.Resource).every((r) => r !== "*"), `no "*" resource in ${s.Sid}`);
      if (list(s.Action).some((a) => a.startsWith("kms:"))) assert.ok(s.Condition, `${s.Sid}: the key only through a service or with the secret's context`);
    }
  });
});

describe("auth modes", () => {
  beforeEach(() => moto.reset());

  async function methods() {
    const apis = ((await reader.apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi);
    assert.equal(apis.length, 1);
    const restApiId = apis[0]!.id!;
    const resources = (await reader.apigw.send(new GetResourcesCommand({ restApiId, embed: ["methods"] }))).items ?? [];
    const all = resources.flatMap((r) => Object.entries(r.resourceMethods ?? {}).map(([m, v]) => ({ key: `${m} ${r.path}`, apiKeyRequired: v.apiKeyRequired ?? false, authorizationType: v.authorizationType })));
    return { restApiId, all, get: (key: string) => all.find((m) => m.key === key) };
  }
  const usagePlans = async () => ((await reader.apigw.send(new GetUsagePlansCommand({}))).items ?? []).filter((p) => p.name === names.usagePlan);
  const apiKeys = async () => ((await reader.apigw.send(new GetApiKeysCommand({}))).items ?? []).filter((k) => k.name === names.apiKey);

  test("iam: private methods need SigV4, public and OPTIONS nothing, no API key or plan, and the client policy names exactly the private routes", async () => {
    const iam = configOf({ auth: "iam" });
    const first = await run(iam);
    const { restApiId, all, get } = await methods();
    for (const r of PRIVATE) assert.deepEqual([get(`${r.method} ${r.resource}`)?.authorizationType, get(`${r.method} ${r.resource}`)?.apiKeyRequired], ["AWS_IAM", false], `${r.method} ${r.resource}`);
    for (const r of PUBLIC) assert.deepEqual([get(`${r.method} ${r.resource}`)?.authorizationType, get(`${r.method} ${r.resource}`)?.apiKeyRequired], ["NONE", false], `${r.method} ${r.resource}`);
    const options = all.filter((m) => m.key.startsWith("OPTIONS "));
    assert.ok(options.length > 0);
    for (const m of options) assert.deepEqual([m.authorizationType, m.apiKeyRequired], ["NONE", false], m.key);

    assert.deepEqual(await usagePlans(), [], "no usage plan: it would meter only requests with a key");
    assert.deepEqual(await apiKeys(), []);
    assert.ok(!first.steps.some((s) => /usage plan/i.test(s.resource)), "nothing to list: the key and plan were never made");

    assert.equal(first.outputs.auth, "iam");
    assert.equal(first.outputs.apiKeyId, undefined);
    assert.equal(first.outputs.readApiKeyValue, undefined);
    const expected = PRIVATE.map((r) => `arn:aws:execute-api:${MOTO_REGION}:${ACCOUNT}:${restApiId}/prod/${r.method}${r.resource.replace(/\{[^}]+\}/g, "*")}`);
    assert.deepEqual(first.outputs.clientPolicy, {
      Version: "2012-10-17",
      Statement: [{ Sid: "InvokeImageApi", Effect: "Allow", Action: "execute-api:Invoke", Resource: expected }],
    });
    assert.ok(expected.includes(`arn:aws:execute-api:${MOTO_REGION}:${ACCOUNT}:${restApiId}/prod/GET/images/*/*`));

    const again = await run(iam);
    assert.deepEqual(again.mutations, []);
    assert.deepEqual(new Set(again.steps.map((s) => s.action)), new Set(["unchanged"]));
  });

  test("switching modes recreates the private methods, makes one new deployment, and removes or recreates the key and plan", async () => {
    await run(base);
    const functionArn = (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration!.FunctionArn!;
    const iam = configOf({ auth: "iam" });
    const { restApiId } = await methods();
    const deploymentsBefore = (await reader.apigw.send(new GetDeploymentsCommand({ restApiId }))).items?.length ?? 0;

    const plan = await run(iam, { dryRun: true });
    assert.deepEqual(plan.mutations, []);
    const toIam = await run(iam);
    assert.deepEqual(
      toIam.steps.map((s) => [s.resource, s.action]),
      plan.steps.map((s) => [s.resource, s.action]),
      "the dry run listed what the switch did",
    );
    const apiStep = stepOf(toIam.steps, /REST API/);
    assert.equal(apiStep.action, "updated");
    for (const r of PRIVATE) assert.ok(apiStep.detail?.includes(`method ${r.method} ${r.resource}`), `${r.method} ${r.resource} recreated`);
    assert.equal(toIam.mutations.filter((m) => m === "apigw:CreateDeployment").length, 1);
    assert.deepEqual(toIam.mutations.filter((m) => /UsagePlan|ApiKey/.test(m)), ["apigw:UpdateUsagePlan", "apigw:DeleteUsagePlan", "apigw:DeleteApiKey"]);
    assert.deepEqual(
      [stepOf(toIam.steps, /usage plan/i).action, stepOf(toIam.steps, /usage plan/i).detail],
      ["deleted", "usage plan, API key; not used with auth iam"],
    );
    const after = await methods();
    for (const r of PRIVATE) assert.equal(after.get(`${r.method} ${r.resource}`)?.authorizationType, "AWS_IAM");
    const stage = await reader.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    const deployments = (await reader.apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? [];
    assert.equal(deployments.length, deploymentsBefore + 1);
    const served = deployments.find((d) => d.id === stage.deploymentId)?.description;
    assert.equal(served, `${DEFINITION_PREFIX}${definitionHash({ partition: "aws", region: MOTO_REGION, config: iam }, functionArn)}`, "the stage serves the iam definition");
    assert.deepEqual(await usagePlans(), []);
    assert.deepEqual(await apiKeys(), []);

    const back = await run(base);
    const restored = await methods();
    for (const r of PRIVATE) assert.deepEqual([restored.get(`${r.method} ${r.resource}`)?.authorizationType, restored.get(`${r.method} ${r.resource}`)?.apiKeyRequired], ["NONE", true]);
    // The apiKey definition's deployment still exists: the stage goes back to it rather than making a copy.
    assert.equal(back.mutations.filter((m) => m === "apigw:CreateDeployment").length, 0);
    const backStage = await reader.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    const backServed = ((await reader.apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? []).find((d) => d.id === backStage.deploymentId)?.description;
    assert.equal(backServed, `${DEFINITION_PREFIX}${definitionHash({ partition: "aws", region: MOTO_REGION, config: base }, functionArn)}`, "the stage serves the apiKey definition again");
    assert.equal((await usagePlans()).length, 1);
    assert.equal((await apiKeys()).length, 1);
    assert.match(back.outputs.apiKeyId ?? "", /\w+/);
    assert.equal(back.outputs.clientPolicy, undefined);
    assert.deepEqual((await run(base)).mutations, []);
  });
});

describe("public route throttling", () => {
  beforeEach(() => moto.reset());

  test("each public route has the stage throttle of config.api.publicThrottle; a change or drift is one UpdateStage", async () => {
    assert.ok(PUBLIC.length > 0, "the routes table has a public route");
    const first = await run();
    const restApiId = first.outputs.endpointUrl.split("//")[1]!.split(".")[0]!;
    const settings = async () => (await reader.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }))).methodSettings ?? {};
    const { rateLimit, burstLimit } = base.api.publicThrottle;
    for (const r of PUBLIC) {
      const key = methodSettingKey(r);
      assert.equal(key, `${r.resource.replace(/\//g, "~1")}/${r.method}`);
      const got = (await settings())[key];
      assert.deepEqual([got?.throttlingRateLimit, got?.throttlingBurstLimit], [rateLimit, burstLimit], key);
    }
    assert.ok(Object.keys(await settings()).includes("~1public~1images~1{id}~1{size}/GET"), JSON.stringify(await settings()));
    assert.deepEqual(
      [(await settings())["*/*"]?.throttlingRateLimit, (await settings())["*/*"]?.throttlingBurstLimit],
      [base.api.throttle.rateLimit, base.api.throttle.burstLimit],
      "the stage-wide throttle is unchanged",
    );

    const slower = configOf({ api: { ...example.api, publicThrottle: { rateLimit: 5, burstLimit: 10 } } });
    const changed = await run(slower);
    assert.deepEqual(changed.mutations, ["apigw:UpdateStage"], "no new deployment: stage settings are not part of one");
    const ops = inputsOf("apigw:UpdateStage")[0]?.patchOperations;
    assert.deepEqual(
      ops,
      PUBLIC.flatMap((r) => [
        { op: "replace", path: `/${methodSettingKey(r)}/throttling/rateLimit`, value: "5" },
        { op: "replace", path: `/${methodSettingKey(r)}/throttling/burstLimit`, value: "10" },
      ]),
    );
    for (const r of PUBLIC) assert.deepEqual([(await settings())[methodSettingKey(r)]?.throttlingRateLimit, (await settings())[methodSettingKey(r)]?.throttlingBurstLimit], [5, 10]);
    assert.deepEqual((await run(slower)).mutations, []);

    // Out of band: someone lifts the public throttle.
    const key = methodSettingKey(PUBLIC[0]!);
    await reader.apigw.send(new UpdateStageCommand({ restApiId, stageName: names.stage, patchOperations: [{ op: "replace", path: `/${key}/throttling/rateLimit`, value: "10000" }] }));
    const repaired = await run(slower);
    assert.deepEqual(repaired.mutations, ["apigw:UpdateStage"]);
    assert.match(stepOf(repaired.steps, /REST API/).detail ?? "", /throttling\/rateLimit/);
    assert.equal((await settings())[key]?.throttlingRateLimit, 5);
  });
});

describe("resizeOnUpload", () => {
  beforeEach(() => moto.reset());
  const trigger = configOf({ resizeOnUpload: true });

  const notifications = async () => reader.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: names.imagesBucket }));
  async function s3Statement() {
    try {
      const policy = JSON.parse((await reader.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy ?? "{}");
      return (policy.Statement as Array<{ Sid: string } & Record<string, unknown>>).find((s) => s.Sid === S3_STATEMENT_ID);
    } catch {
      return undefined;
    }
  }

  test("adds S3's invoke permission for this bucket, one retry with failed events kept, and notifications for uploads/ and originals/ only; a redeploy sends nothing", async () => {
    const first = await run(trigger);
    const step = stepOf(first.steps, /S3 trigger/);
    assert.equal(step.action, "created");
    const order = first.mutations.filter((m) => ["lambda:AddPermission", "s3:PutBucketNotificationConfiguration", "lambda:PutFunctionEventInvokeConfig"].includes(m));
    assert.deepEqual(order, ["lambda:AddPermission", "lambda:PutFunctionEventInvokeConfig", "s3:PutBucketNotificationConfiguration", "lambda:AddPermission"], "S3's permission before the notification S3 validates; then API Gateway's");

    const functionArn = (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration!.FunctionArn!;
    const got = await notifications();
    const configs = [...(got.LambdaFunctionConfigurations ?? [])].sort((a, b) => String(a.Id).localeCompare(String(b.Id)));
    assert.deepEqual(configs.map((c) => c.Id), [notificationId("originals/"), notificationId("uploads/")]);
    for (const config of configs) {
      assert.equal(config.LambdaFunctionArn, functionArn);
      assert.deepEqual(config.Events, ["s3:ObjectCreated:*"]);
    }
    assert.deepEqual(
      configs.map((c) => c.Filter?.Key?.FilterRules?.map((r) => [String(r.Name).toLowerCase(), r.Value])),
      [[["prefix", "originals/"]], [["prefix", "uploads/"]]],
      "only uploads/ and originals/: the function's own outputs under resized/ never trigger it",
    );
    assert.deepEqual(got.QueueConfigurations ?? [], []);
    assert.deepEqual(got.TopicConfigurations ?? [], []);

    // Asynchronous events: one retry (a bad upload fails the same way twice), then a record in the bucket.
    const invoke = await reader.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: names.functionName }));
    assert.equal(invoke.MaximumRetryAttempts, MAX_RETRY_ATTEMPTS);
    assert.equal(MAX_RETRY_ATTEMPTS, 1);
    assert.equal(invoke.DestinationConfig?.OnFailure?.Destination, `arn:aws:s3:::${names.imagesBucket}`);

    const permission = await s3Statement();
    assert.ok(permission, "the function's policy lets S3 invoke it");
    assert.deepEqual(permission.Principal, { Service: "s3.amazonaws.com" });
    assert.equal(permission.Action, "lambda:InvokeFunction");
    assert.deepEqual(permission.Condition, {
      ArnLike: { "AWS:SourceArn": `arn:aws:s3:::${names.imagesBucket}` },
      StringEquals: { "AWS:SourceAccount": ACCOUNT },
    });

    const again = await run(trigger);
    assert.deepEqual(again.mutations, []);
    assert.equal(stepOf(again.steps, /S3 trigger/).action, "unchanged");
  });

  test("keeps a notification the user added, repairs its own, turns off cleanly, and teardown removes both", async () => {
    await run(trigger);
    const functionArn = (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration!.FunctionArn!;
    const ours = (await notifications()).LambdaFunctionConfigurations!.find((c) => c.Id === notificationId("originals/"))!;
    const theirs: LambdaFunctionConfiguration = {
      Id: "user-audit",
      LambdaFunctionArn: `arn:aws:lambda:${MOTO_REGION}:${ACCOUNT}:function:someone-elses-auditor`,
      Events: ["s3:ObjectRemoved:*"],
    };
    // Out of band: one filter dropped, so the whole bucket (resized/ too: a loop in the making) triggers the function; the other gone; and a configuration of the user's own.
    const { Filter: _filter, ...unfiltered } = ours;
    await reader.s3.send(
      new PutBucketNotificationConfigurationCommand({ Bucket: names.imagesBucket, NotificationConfiguration: { LambdaFunctionConfigurations: [unfiltered, theirs] } }),
    );
    const repaired = await run(trigger);
    assert.deepEqual(repaired.mutations, ["s3:PutBucketNotificationConfiguration"]);
    assert.match(stepOf(repaired.steps, /S3 trigger/).detail ?? "", /notification \(drifted\)/);
    const all = (await notifications()).LambdaFunctionConfigurations ?? [];
    assert.deepEqual(all.map((c) => c.Id).sort(), [notificationId("originals/"), notificationId("uploads/"), "user-audit"]);
    assert.deepEqual(all.find((c) => c.Id === notificationId("originals/"))?.Filter?.Key?.FilterRules?.map((r) => r.Value), ["originals/"]);
    assert.equal(all.find((c) => c.Id === notificationId("originals/"))?.LambdaFunctionArn, functionArn);

    const off = await run(base);
    assert.deepEqual(off.mutations, ["s3:PutBucketNotificationConfiguration", "lambda:DeleteFunctionEventInvokeConfig", "lambda:RemovePermission"], "the notifications first, then the retries and the permission");
    assert.equal(stepOf(off.steps, /S3 trigger/).action, "deleted");
    assert.deepEqual((await notifications()).LambdaFunctionConfigurations?.map((c) => c.Id), ["user-audit"], "the user's configuration stays");
    assert.equal(await s3Statement(), undefined);
    const offAgain = await run(base);
    assert.deepEqual(offAgain.mutations, []);
    assert.ok(!offAgain.steps.some((s) => /S3 trigger/.test(s.resource)), "once off and gone, no line for it");

    await run(trigger);
    sent = [];
    const down = await teardown({ config: trigger, clients });
    const removed = down.resources.find((r) => /S3 trigger/.test(r.resource));
    assert.deepEqual([removed?.action, removed?.detail], ["deleted", "notification, asynchronous settings, permission"]);
    assert.ok(mutating().indexOf("s3:PutBucketNotificationConfiguration") < mutating().indexOf("lambda:DeleteFunction"), "removed before the function");
    const left = await reader.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: names.imagesBucket })).catch(() => undefined);
    assert.ok(!(left?.LambdaFunctionConfigurations ?? []).some((c) => c.Id?.startsWith("imgapi-")), "no notification names the deleted function");
  });

  test("turning on iam and the trigger, killed before any of its mutating calls (a sample: support/interruptions.ts), is finished by the next deploy", async (t) => {
    const target = configOf({ auth: "iam", resizeOnUpload: true });
    // One round trip first: from then on each switch to iam reuses the iam
    // definition's deployment, as every iteration below does.
    await run(base);
    await run(target);
    await run(base);
    const transition = (await run(target)).mutations;
    const expected = await stackState(reader, names);
    assert.ok(transition.length >= 10, `${transition.length} mutating calls: ${transition.join(", ")}`);
    const points = interruptionPoints(transition);
    t.diagnostic(`${transition.length} mutating calls in the switch, interrupted before ${points.length} of them (support/interruptions.ts): ${transition.join(", ")}`);
    for (const k of points) {
      await run(base);
      failAfter = k;
      try {
        await assert.rejects(run(target), (e: unknown) => String((e as Error)?.message ?? e).includes("injected failure") || (e as { cause?: unknown }).cause instanceof Injected, `k=${k}`);
      } finally {
        failAfter = undefined;
      }
      await run(target);
      assert.deepEqual(await stackState(reader, names), expected, `after an interruption before ${transition[k]} (call ${k + 1})`);
      assert.deepEqual((await run(target)).mutations, [], `k=${k}: converged`);
    }
  });
});

describe("the CLI", () => {
  const deployCli = (args: string[]) => runCli("deploy/index.ts", args);

  test("--help explains --rotate-signing-secret", async () => {
    const help = await deployCli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--rotate-signing-secret\s+replace the secret that signs public image URLs.*stops working/);
  });

  test("iam mode prints the client policy (--json and human); no output ever holds the secret's plaintext", async (t) => {
    await moto.reset();
    const dir = mkdtempSync(join(tmpdir(), "imgapi-features-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ ...example, auth: "iam", resizeOnUpload: true }));
    const flags = ["--config", file, "--endpoint-url", moto.endpoint];

    const first = await deployCli([...flags, "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const doc = JSON.parse(first.stdout) as { outputs: { auth: string; clientPolicy: PolicyDocument; apiKeyId?: string; endpointUrl: string } };
    const restApiId = doc.outputs.endpointUrl.split("//")[1]!.split(".")[0]!;
    assert.equal(doc.outputs.auth, "iam");
    assert.equal(doc.outputs.apiKeyId, undefined);
    assert.deepEqual(
      list(doc.outputs.clientPolicy.Statement[0]!.Resource),
      PRIVATE.map((r) => `arn:aws:execute-api:${MOTO_REGION}:${ACCOUNT}:${restApiId}/prod/${r.method}${r.resource.replace(/\{[^}]+\}/g, "*")}`),
    );
    const firstSecret = await decryptSecret((await functionEnv())[SIGNING_SECRET_ENV]!);
    assertNowhere(firstSecret, "--json stdout", first.stdout);
    assertNowhere(firstSecret, "--json stderr", first.stderr);

    const human = await deployCli([...flags, "--rotate-signing-secret"]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^~ updated\s+URL-signing secret\s+\S+ \(rotated/m);
    assert.match(human.stderr, /\.\.\. waiting for the update of/, "progress lines were printed");
    const printed = human.stdout.slice(human.stdout.indexOf("Client policy"));
    const json = printed.slice(printed.indexOf("{"), printed.indexOf("\n  }\n") + 4);
    assert.deepEqual(JSON.parse(json), doc.outputs.clientPolicy, "the human output prints the same policy");
    assert.match(human.stdout, /--aws-sigv4 "aws:amz:us-east-1:execute-api"/);
    assert.ok(!/x-api-key/.test(human.stdout), "no API key to send in iam mode");
    const secondSecret = await decryptSecret((await functionEnv())[SIGNING_SECRET_ENV]!);
    assert.ok(!secondSecret.equals(firstSecret));
    for (const secret of [firstSecret, secondSecret]) {
      assertNowhere(secret, "human stdout", human.stdout);
      assertNowhere(secret, "progress output (stderr)", human.stderr);
      assertNowhere(secret, "the function's environment", JSON.stringify(await functionEnv()));
    }
  });
});
