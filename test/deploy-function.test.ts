// The function the API invokes and the account's CloudWatch role for API
// Gateway, against moto (moved from deploy-api.test.ts, whose setup they share).
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { GetAccountCommand, UpdateAccountCommand } from "@aws-sdk/client-api-gateway";
import { AttachRolePolicyCommand, CreateRoleCommand } from "@aws-sdk/client-iam";
import { GetFunctionCommand } from "@aws-sdk/client-lambda";
import { runtimeSettingsOf, settingsFromEnv } from "../config/runtime-env.ts";
import type { Clock } from "../deploy/toolkit/propagation.ts";
import { ensureApiGatewayAccount, pushToCloudWatchPolicyArn } from "../deploy/resources/api-gateway-account.ts";
import { ensureLambdaFunction } from "../deploy/resources/lambda-function.ts";
import { ACCOUNT, config, names, SECRET_CIPHERTEXT, TAGS, testZip, useApiHarness, withConfig, ZIP, type Prerequisites } from "./support/api-harness.ts";

const h = useApiHarness();
let prereq: Prerequisites;

beforeEach(async () => {
  await h.moto.reset();
  prereq = await h.prerequisites();
  h.sent.length = 0;
});

const deps = () => ({ roleArn: prereq.roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: ZIP });
const fnConfig = async () => (await h.aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName })));

describe("Lambda function", () => {
  test("is created from empty as configured, with its concurrency ceiling; a second ensure sends no mutating call", async () => {
    const { report, mutations } = await h.run(() => ensureLambdaFunction(h.context(), deps()));
    assert.equal(report.action, "created");
    assert.deepEqual(mutations, ["CreateFunction", "PutFunctionConcurrency"], "reservedConcurrency \"auto\" reserves a ceiling the account's quota allows");
    assert.equal(report.functionArn, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${names.functionName}`);

    const fn = await fnConfig();
    const c = fn.Configuration!;
    assert.deepEqual([c.Runtime, c.Handler, c.Architectures], ["nodejs22.x", "index.handler", ["arm64"]]);
    assert.deepEqual([c.MemorySize, c.Timeout, c.Role], [config.lambda.memoryMb, config.lambda.timeoutSeconds, prereq.roleArn]);
    assert.ok(c.Timeout! < 29, "API Gateway gives up at 29 s");
    assert.equal(c.CodeSha256, ZIP.sha256Base64, "moto's CodeSha256 is base64 SHA-256 of the zip, like Lambda's");
    assert.equal(c.Environment?.Variables?.IMGAPI_BUCKET, names.imagesBucket);
    assert.deepEqual(settingsFromEnv({ IMGAPI_SETTINGS: c.Environment?.Variables?.IMGAPI_SETTINGS }), runtimeSettingsOf(config));
    for (const [k, v] of Object.entries(TAGS)) assert.equal(fn.Tags?.[k], v, `tag ${k}`);
    // moto keeps neither KMSKeyArn nor LoggingConfig: the request is the proof.
    const [create] = h.inputsOf("CreateFunction");
    assert.equal(create?.KMSKeyArn, prereq.keyArn);
    assert.deepEqual(create?.LoggingConfig, { LogGroup: names.functionLogGroup });

    const again = await h.run(() => ensureLambdaFunction(h.context(), { ...deps(), zip: testZip("export const handler = async () => ({ statusCode: 200, body: 'v1' });") }));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, [], "the same zip sends no UpdateFunctionCode, the same config nothing");
  });

  test("changed sizes update only the configuration; new code only the code; reserved concurrency only itself", async () => {
    const noCeiling = withConfig((c) => ({ ...c, lambda: { ...c.lambda, reservedConcurrency: false } }));
    await ensureLambdaFunction(h.context({ config: noCeiling }), deps());
    const bigger = { ...noCeiling, lambda: { ...noCeiling.lambda, memoryMb: 2048, timeoutSeconds: 20 } };
    const resized = await h.run(() => ensureLambdaFunction(h.context({ config: bigger }), deps()));
    assert.deepEqual([resized.report.action, resized.report.detail, resized.mutations], ["updated", "MemorySize, Timeout", ["UpdateFunctionConfiguration"]]);
    assert.deepEqual(h.inputsOf("UpdateFunctionConfiguration"), [{ FunctionName: names.functionName, MemorySize: 2048, Timeout: 20 }]);

    const newSizes = { ...bigger, sizes: { ...bigger.sizes, tiny: { width: 32, enlarge: false } } };
    const settings = await h.run(() => ensureLambdaFunction(h.context({ config: newSizes }), deps()));
    assert.deepEqual(settings.mutations, ["UpdateFunctionConfiguration"]);
    assert.equal(h.inputsOf("UpdateFunctionConfiguration")[0]?.KMSKeyArn, prereq.keyArn, "the environment is always sent with its key");
    const env = (await fnConfig()).Configuration?.Environment?.Variables;
    assert.deepEqual(Object.keys(settingsFromEnv({ IMGAPI_SETTINGS: env?.IMGAPI_SETTINGS }).sizes), ["thumbnail", "medium", "large", "tiny"]);

    const v2 = testZip("export const handler = async () => ({ statusCode: 200, body: 'v2' });");
    const code = await h.run(() => ensureLambdaFunction(h.context({ config: newSizes }), { ...deps(), zip: v2 }));
    assert.deepEqual([code.report.detail, code.mutations], ["code", ["UpdateFunctionCode"]]);

    const reserved = { ...newSizes, lambda: { ...newSizes.lambda, reservedConcurrency: 5 } };
    assert.deepEqual((await h.run(() => ensureLambdaFunction(h.context({ config: reserved }), { ...deps(), zip: v2 }))).mutations, ["PutFunctionConcurrency"]);
    assert.equal((await fnConfig()).Concurrency?.ReservedConcurrentExecutions, 5);
    assert.deepEqual((await h.run(() => ensureLambdaFunction(h.context({ config: reserved }), { ...deps(), zip: v2 }))).mutations, []);
    assert.deepEqual((await h.run(() => ensureLambdaFunction(h.context({ config: newSizes }), { ...deps(), zip: v2 }))).mutations, ["DeleteFunctionConcurrency"]);
  });

  test("CreateFunction is retried while Lambda cannot assume the new role yet", async () => {
    const roleName = "imgapi-dev-late-role";
    const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
    // moto answers "cannot be assumed by Lambda" until the role exists, as IAM does while it propagates: it appears during the first wait.
    let waits = 0;
    const clock: Clock = { now: () => waits * 1000, sleep: async () => void (waits++ === 0 && (await h.aws.iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust) })))) };
    const { report } = await h.run(() => ensureLambdaFunction({ ...h.context(), clock }, { ...deps(), roleArn: `arn:aws:iam::${ACCOUNT}:role/${roleName}` }));
    assert.equal(report.action, "created");
    assert.equal(h.inputsOf("CreateFunction").length, 2, "CreateFunction was sent again after the refusal");
  });

  test("a zip built for the other architecture is refused before anything is sent", async () => {
    await assert.rejects(ensureLambdaFunction(h.context(), { ...deps(), zip: { ...ZIP, architecture: "x86_64" } }), /zip was built for x86_64 but config\.lambda\.architecture is arm64/);
    assert.deepEqual(h.mutating(), []);
  });
});

describe("API Gateway account", () => {
  test("an account that already has a working CloudWatch role keeps it", async () => {
    const RoleName = "someone-elses-apigw-logs";
    const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }] };
    const theirs = (await h.aws.iam.send(new CreateRoleCommand({ RoleName, AssumeRolePolicyDocument: JSON.stringify(trust) }))).Role!.Arn!;
    await h.aws.iam.send(new AttachRolePolicyCommand({ RoleName, PolicyArn: pushToCloudWatchPolicyArn("aws") }));
    await h.aws.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: theirs }] }));
    const { report, mutations } = await h.run(() => ensureApiGatewayAccount(h.context()));
    assert.deepEqual([report.action, report.cloudwatchRoleArn, mutations], ["unchanged", theirs, []]);
    assert.equal((await h.aws.apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn, theirs);
  });
});
