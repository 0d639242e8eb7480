// The function and the API in front of it, against moto: the Lambda function,
// the account's CloudWatch role for API Gateway, the REST API built from ROUTES,
// the invoke permission and the usage plan with its key. Each ensure creates
// what is missing, sends no mutating call once converged, fixes only what
// drifted, sends nothing in a dry run, and a run stopped before or after any
// mutating call is finished by the next one. The IAM role, KMS key and log
// groups they depend on are made here with the SDK.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  APIGatewayClient,
  DeleteGatewayResponseCommand,
  DeleteUsagePlanCommand,
  GetAccountCommand,
  GetApiKeysCommand,
  CreateRestApiCommand,
  GetDeploymentsCommand,
  GetGatewayResponsesCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStageCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
  PutMethodCommand,
  UpdateAccountCommand,
} from "@aws-sdk/client-api-gateway";
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateRoleCommand, DeleteRoleCommand, DetachRolePolicyCommand, GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand } from "@aws-sdk/client-iam";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetFunctionCommand, GetPolicyCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { zipSync } from "fflate";
import { createHash } from "node:crypto";
import { parseConfig } from "../config/load.ts";
import { runtimeSettingsOf, settingsFromEnv } from "../config/runtime-env.ts";
import type { Config } from "../config/schema.ts";
import { createClients, destroyClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import type { DeployContext, StepReport } from "../deploy/context.ts";
import type { FunctionZip } from "../deploy/function-zip.ts";
import { resourceNames, stackTags } from "../deploy/names.ts";
import { ensureApiGatewayAccount, pushToCloudWatchPolicyArn, removeApiGatewayAccount } from "../deploy/resources/api-gateway-account.ts";
import { ensureLambdaFunction, removeLambdaFunction } from "../deploy/resources/lambda-function.ts";
import { ensureLambdaPermission, removeLambdaPermission, STATEMENT_ID } from "../deploy/resources/lambda-permission.ts";
import { ACCESS_LOG_FORMAT, definitionHash, DEFINITION_PREFIX, ensureRestApi, removeRestApi, resourcePaths } from "../deploy/resources/rest-api.ts";
import { ensureUsagePlan, removeUsagePlan } from "../deploy/resources/usage-plan.ts";
import { BINARY_MEDIA_TYPES, ROUTES } from "../function/routes.ts";
import { virtualClock } from "./support/clock.ts";
import { MOTO_CREDENTIALS, clientConfig, startMoto, type Moto } from "./support/moto.ts";

const ACCOUNT = "123456789012"; // moto's
const REGION = "us-east-1";
const config = parseConfig(JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")));
const names = resourceNames(config.stackName, ACCOUNT, REGION);
// A tag beyond the stack's own, to see ctx.tags (not just stackTags) applied.
const TAGS = { ...stackTags(config.stackName), team: "images" };
const withConfig = (patch: (c: Config) => Config) => patch(structuredClone(config));

/** A small deterministic zip: this file tests deploying code, function-zip.test.ts building it. */
function testZip(body: string): FunctionZip {
  const bytes = zipSync({ "index.mjs": new TextEncoder().encode(body) }, { mtime: new Date(1980, 0, 1) });
  return { bytes, sha256Base64: createHash("sha256").update(bytes).digest("base64"), path: "(memory)", size: bytes.length, architecture: "arm64" };
}
const ZIP = testZip("export const handler = async () => ({ statusCode: 200, body: 'v1' });");
// What signing-secret.ts would hand the function module (made with KMS there; proved in deploy-features.test.ts).
const SECRET_CIPHERTEXT = Buffer.from("a KMS ciphertext stands here").toString("base64");

let moto: Moto;
let clients: AwsClients;
/** Every command the modules sent, with its input. */
const sent: { command: string; input: Record<string, unknown> }[] = [];
/** Stops the run before or after the n-th mutating command (1-based), as a crash would. */
let interrupt: { at: number; when: "before" | "after" } | undefined;
let mutationsSoFar = 0;
let aws: { iam: IAMClient; kms: KMSClient; logs: CloudWatchLogsClient; lambda: LambdaClient; apigw: APIGatewayClient };

const mutating = () => sent.filter((c) => !isReadOnly(c.command)).map((c) => c.command.replace(/Command$/, ""));
const inputsOf = (command: string) => sent.filter((c) => c.command === `${command}Command`).map((c) => c.input);

function context(opts: { dryRun?: boolean; config?: Config } = {}): DeployContext {
  const cfg = opts.config ?? config;
  const stackNames = cfg.stackName === config.stackName ? names : resourceNames(cfg.stackName, ACCOUNT, REGION);
  const tags = cfg.stackName === config.stackName ? TAGS : { ...stackTags(cfg.stackName), team: "images" };
  return { config: cfg, clients, names: stackNames, account: ACCOUNT, region: REGION, partition: "aws", tags, dryRun: opts.dryRun ?? false, progress: () => {}, clock: virtualClock() };
}

class Interrupted extends Error {
  override readonly name = "Interrupted";
}

before(async () => {
  moto = await startMoto();
  clients = createClients({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 2,
    observer: (_service, command, input) => sent.push({ command, input: input as Record<string, unknown> }),
  });
  for (const client of Object.values(clients)) {
    type Args = { input: unknown };
    const interrupter = (next: (args: Args) => Promise<unknown>, context: { commandName?: string }) => async (args: Args) => {
      const index = isReadOnly(String(context.commandName)) ? undefined : ++mutationsSoFar;
      if (interrupt?.when === "before" && index === interrupt.at) throw new Interrupted(`stopped before ${context.commandName}`);
      const result = await next(args);
      if (interrupt?.when === "after" && index === interrupt.at) throw new Interrupted(`stopped after ${context.commandName}`);
      return result;
    };
    (client.middlewareStack as unknown as { add(m: typeof interrupter, o: { step: string; name: string }): void }).add(interrupter, { step: "initialize", name: "testInterrupter" });
  }
  aws = {
    iam: new IAMClient(clientConfig(moto)),
    kms: new KMSClient(clientConfig(moto)),
    logs: new CloudWatchLogsClient(clientConfig(moto)),
    lambda: new LambdaClient(clientConfig(moto)),
    apigw: new APIGatewayClient(clientConfig(moto)),
  };
});

after(async () => {
  destroyClients(clients);
  for (const client of Object.values(aws)) client.destroy();
  await moto.stop();
});

let prereq: { roleArn: string; keyArn: string; accessLogGroupArn: string };

/** What the other engineer's modules make before these run: the function's role, the KMS key, both log groups. */
async function prerequisites(names = resourceNames(config.stackName, ACCOUNT, REGION)) {
  const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
  const role = await aws.iam.send(new CreateRoleCommand({ RoleName: names.roleName, AssumeRolePolicyDocument: JSON.stringify(trust) }));
  const key = await aws.kms.send(new CreateKeyCommand({ Description: "imgapi test key" }));
  for (const logGroupName of [names.functionLogGroup, names.accessLogGroup]) await aws.logs.send(new CreateLogGroupCommand({ logGroupName }));
  const groups = await aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: names.accessLogGroup }));
  // As DescribeLogGroups gives it, ending in ":*".
  return { roleArn: role.Role!.Arn!, keyArn: key.KeyMetadata!.Arn!, accessLogGroupArn: groups.logGroups![0]!.arn! };
}

beforeEach(async () => {
  await moto.reset();
  interrupt = undefined;
  prereq = await prerequisites();
  sent.length = 0;
});

/** Runs an ensure and returns its report with the mutating commands it sent. */
async function run<R extends StepReport>(ensure: () => Promise<R>): Promise<{ report: R; mutations: string[] }> {
  sent.length = 0;
  const report = await ensure();
  return { report, mutations: mutating() };
}

/** This file's modules in the orchestrator's order. */
async function deployApi(ctx: DeployContext, zip = ZIP) {
  const fn = await ensureLambdaFunction(ctx, { roleArn: prereq.roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip });
  const account = await ensureApiGatewayAccount(ctx);
  const api = await ensureRestApi(ctx, { functionArn: fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn });
  const permission = await ensureLambdaPermission(ctx, { functionArn: fn.functionArn, restApiId: api.restApiId });
  const plan = await ensureUsagePlan(ctx, { restApiId: api.restApiId });
  return { fn, account, api, permission, plan, reports: [fn, account, api, permission, plan] as StepReport[] };
}

async function ourApiId(): Promise<string> {
  const apis = ((await aws.apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi);
  assert.equal(apis.length, 1, `one REST API named ${names.restApi}`);
  return apis[0]!.id!;
}

describe("Lambda function", () => {
  test("is created from empty as configured, then a second ensure sends no mutating call", async () => {
    const { report, mutations } = await run(() => ensureLambdaFunction(context(), { roleArn: prereq.roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: ZIP }));
    assert.equal(report.action, "created");
    assert.deepEqual(mutations, ["CreateFunction"]);
    assert.equal(report.functionArn, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${names.functionName}`);

    const fn = await aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }));
    const c = fn.Configuration!;
    assert.equal(c.Runtime, "nodejs22.x");
    assert.equal(c.Handler, "index.handler");
    assert.deepEqual(c.Architectures, ["arm64"]);
    assert.equal(c.MemorySize, config.lambda.memoryMb);
    assert.equal(c.Timeout, config.lambda.timeoutSeconds);
    assert.ok(c.Timeout! < 29, "API Gateway gives up at 29 s");
    assert.equal(c.Role, prereq.roleArn);
    assert.equal(c.CodeSha256, ZIP.sha256Base64, "moto's CodeSha256 is base64 SHA-256 of the zip, like Lambda's");
    assert.equal(c.Environment?.Variables?.IMGAPI_BUCKET, names.imagesBucket);
    assert.deepEqual(settingsFromEnv({ IMGAPI_SETTINGS: c.Environment?.Variables?.IMGAPI_SETTINGS }), runtimeSettingsOf(config));
    for (const [k, v] of Object.entries(TAGS)) assert.equal(fn.Tags?.[k], v, `tag ${k}`);
    // moto keeps neither KMSKeyArn nor LoggingConfig: the request is the proof.
    const [create] = inputsOf("CreateFunction");
    assert.equal(create?.KMSKeyArn, prereq.keyArn);
    assert.deepEqual(create?.LoggingConfig, { LogGroup: names.functionLogGroup });
    assert.deepEqual(create?.Tags, TAGS);

    const again = await run(() => ensureLambdaFunction(context(), { roleArn: prereq.roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: testZip("export const handler = async () => ({ statusCode: 200, body: 'v1' });") }));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, [], "the same zip sends no UpdateFunctionCode, the same config nothing");
  });

  test("changed sizes update only the configuration; new code only the code; reserved concurrency only itself", async () => {
    const deps = { roleArn: prereq.roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: ZIP };
    await ensureLambdaFunction(context(), deps);

    const bigger = withConfig((c) => ({ ...c, lambda: { ...c.lambda, memoryMb: 2048, timeoutSeconds: 20 } }));
    const resized = await run(() => ensureLambdaFunction(context({ config: bigger }), deps));
    assert.equal(resized.report.action, "updated");
    assert.equal(resized.report.detail, "MemorySize, Timeout");
    assert.deepEqual(resized.mutations, ["UpdateFunctionConfiguration"]);
    assert.deepEqual(inputsOf("UpdateFunctionConfiguration"), [{ FunctionName: names.functionName, MemorySize: 2048, Timeout: 20 }]);

    const newSizes = withConfig((c) => ({ ...bigger, sizes: { ...c.sizes, tiny: { width: 32, enlarge: false } } }));
    const settings = await run(() => ensureLambdaFunction(context({ config: newSizes }), deps));
    assert.deepEqual(settings.mutations, ["UpdateFunctionConfiguration"]);
    const [update] = inputsOf("UpdateFunctionConfiguration");
    assert.equal(update?.KMSKeyArn, prereq.keyArn, "the environment is always sent with its key");
    const env = (await aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration?.Environment?.Variables;
    assert.deepEqual(Object.keys(settingsFromEnv({ IMGAPI_SETTINGS: env?.IMGAPI_SETTINGS }).sizes), ["thumbnail", "medium", "large", "tiny"]);

    const v2 = testZip("export const handler = async () => ({ statusCode: 200, body: 'v2' });");
    const code = await run(() => ensureLambdaFunction(context({ config: newSizes }), { ...deps, zip: v2 }));
    assert.equal(code.report.detail, "code");
    assert.deepEqual(code.mutations, ["UpdateFunctionCode"]);
    assert.equal((await aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration?.CodeSha256, v2.sha256Base64);

    const reserved = { ...newSizes, lambda: { ...newSizes.lambda, reservedConcurrency: 5 } };
    assert.deepEqual((await run(() => ensureLambdaFunction(context({ config: reserved }), { ...deps, zip: v2 }))).mutations, ["PutFunctionConcurrency"]);
    assert.equal((await aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Concurrency?.ReservedConcurrentExecutions, 5);
    assert.deepEqual((await run(() => ensureLambdaFunction(context({ config: reserved }), { ...deps, zip: v2 }))).mutations, []);
    assert.deepEqual((await run(() => ensureLambdaFunction(context({ config: newSizes }), { ...deps, zip: v2 }))).mutations, ["DeleteFunctionConcurrency"]);
  });

  test("CreateFunction is retried while Lambda cannot assume the new role yet", async () => {
    const roleName = "imgapi-dev-late-role";
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/${roleName}`;
    const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
    // moto answers "cannot be assumed by Lambda" until the role exists, as IAM does while it propagates.
    const late = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => aws.iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust) })));

    const { report } = await run(() => ensureLambdaFunction(context(), { roleArn, keyArn: prereq.keyArn, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: ZIP }));
    await late;
    assert.equal(report.action, "created");
    assert.ok(inputsOf("CreateFunction").length >= 2, "CreateFunction was sent again after the refusal");
  });

  test("a zip built for the other architecture is refused before anything is sent", async () => {
    await assert.rejects(
      ensureLambdaFunction(context(), { ...prereq, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: { ...ZIP, architecture: "x86_64" } }),
      /zip was built for x86_64 but config\.lambda\.architecture is arm64/,
    );
    assert.deepEqual(mutating(), []);
  });
});

describe("REST API, permission, usage plan", () => {
  test("from empty: routes, CORS, stage, permission and usage plan; a second run sends no mutating call", async () => {
    const { fn, account, api, permission, plan } = await deployApi(context());
    const restApiId = await ourApiId();
    assert.equal(api.action, "created");
    assert.equal(api.restApiId, restApiId);
    assert.equal(api.endpointUrl, `https://${restApiId}.execute-api.${REGION}.amazonaws.com/${names.stage}`);
    assert.equal(api.stageArn, `arn:aws:apigateway:${REGION}::/restapis/${restApiId}/stages/${names.stage}`);

    // moto drops binaryMediaTypes: the request carries them.
    const [create] = inputsOf("CreateRestApi");
    assert.deepEqual(create?.binaryMediaTypes, [...BINARY_MEDIA_TYPES]);
    assert.deepEqual(create?.endpointConfiguration, { types: ["REGIONAL"] });
    assert.deepEqual(create?.tags, TAGS);

    const resources = (await aws.apigw.send(new GetResourcesCommand({ restApiId, embed: ["methods"] }))).items ?? [];
    const uri = `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${fn.functionArn}/invocations`;
    for (const route of ROUTES) {
      const method = resources.find((r) => r.path === route.resource)?.resourceMethods?.[route.method];
      assert.ok(method, `${route.method} ${route.resource} exists`);
      assert.equal(method.apiKeyRequired, route.access === "private", `${route.method} ${route.resource} needs the key if private`);
      assert.equal(method.authorizationType, "NONE");
      assert.deepEqual([method.methodIntegration?.type, method.methodIntegration?.httpMethod, method.methodIntegration?.uri], ["AWS_PROXY", "POST", uri]);
    }
    for (const r of resources.filter((r) => r.path !== "/")) {
      const options = r.resourceMethods?.OPTIONS;
      assert.equal(options?.apiKeyRequired, false, `OPTIONS ${r.path} without key`);
      assert.equal(options?.methodIntegration?.uri, uri, `OPTIONS ${r.path} goes to the handler`);
    }
    assert.deepEqual(resources.map((r) => r.path).sort(), ["/", ...resourcePaths()].sort(), "one resource per path the routes need");

    const responses = (await aws.apigw.send(new GetGatewayResponsesCommand({ restApiId }))).items ?? [];
    for (const type of ["DEFAULT_4XX", "DEFAULT_5XX"]) {
      const params = responses.find((g) => g.responseType === type)?.responseParameters ?? {};
      assert.equal(params["gatewayresponse.header.Access-Control-Allow-Origin"], "'*'", `${type} CORS origin`);
      assert.match(params["gatewayresponse.header.Access-Control-Allow-Headers"] ?? "", /X-Api-Key/);
    }

    const stage = await aws.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    assert.equal(stage.accessLogSettings?.destinationArn, prereq.accessLogGroupArn.replace(/:\*$/, ""));
    assert.equal(stage.accessLogSettings?.format, ACCESS_LOG_FORMAT);
    const format = JSON.parse(stage.accessLogSettings!.format!) as Record<string, string>;
    assert.equal(format.apiKeyId, "$context.identity.apiKeyId");
    for (const field of ["requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency"]) assert.ok(format[field], `access log has ${field}`);
    assert.equal(stage.methodSettings?.["*/*"]?.throttlingRateLimit, config.api.throttle.rateLimit);
    assert.equal(stage.methodSettings?.["*/*"]?.throttlingBurstLimit, config.api.throttle.burstLimit);
    assert.deepEqual(stage.tags, TAGS);
    const deployments = (await aws.apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? [];
    assert.equal(deployments.length, 1);
    assert.equal(deployments[0]?.id, stage.deploymentId);
    assert.equal(deployments[0]?.description, `${DEFINITION_PREFIX}${definitionHash(context(), fn.functionArn)}`);

    assert.equal(account.action, "created");
    const cloudwatchRoleArn = (await aws.apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn;
    assert.equal(cloudwatchRoleArn, `arn:aws:iam::${ACCOUNT}:role/${names.apiGatewayLogsRole}`);
    const logsRole = (await aws.iam.send(new GetRoleCommand({ RoleName: names.apiGatewayLogsRole }))).Role!;
    assert.deepEqual(JSON.parse(decodeURIComponent(logsRole.AssumeRolePolicyDocument!)).Statement[0].Principal, { Service: "apigateway.amazonaws.com" });
    const attached = (await aws.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: names.apiGatewayLogsRole }))).AttachedPolicies ?? [];
    assert.deepEqual(attached.map((p) => p.PolicyArn), [pushToCloudWatchPolicyArn("aws")]);

    assert.equal(permission.action, "created");
    const policy = JSON.parse((await aws.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy!);
    const statement = policy.Statement.find((s: { Sid: string }) => s.Sid === STATEMENT_ID);
    assert.deepEqual(statement.Principal, { Service: "apigateway.amazonaws.com" });
    assert.equal(statement.Action, "lambda:InvokeFunction");
    assert.equal(statement.Condition.ArnLike["AWS:SourceArn"], `arn:aws:execute-api:${REGION}:${ACCOUNT}:${restApiId}/*/*/*`);

    assert.equal(plan.action, "created");
    const usagePlans = (await aws.apigw.send(new GetUsagePlansCommand({}))).items ?? [];
    assert.equal(usagePlans.length, 1);
    const usagePlan = usagePlans[0]!;
    assert.equal(usagePlan.id, plan.usagePlanId);
    assert.deepEqual(usagePlan.apiStages, [{ apiId: restApiId, stage: names.stage }]);
    assert.deepEqual([Number(usagePlan.throttle?.rateLimit), usagePlan.throttle?.burstLimit], [config.api.throttle.rateLimit, config.api.throttle.burstLimit]);
    assert.deepEqual([Number(usagePlan.quota?.limit), usagePlan.quota?.period], [config.api.quota.limit, config.api.quota.period]);
    const keys = (await aws.apigw.send(new GetApiKeysCommand({ nameQuery: names.apiKey, includeValues: true }))).items ?? [];
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.id, plan.apiKeyId);
    assert.equal(keys[0]?.enabled, true);
    assert.deepEqual(keys[0]?.tags, TAGS);
    const bound = (await aws.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: plan.usagePlanId }))).items ?? [];
    assert.deepEqual(bound.map((k) => k.id), [plan.apiKeyId]);
    assert.equal(plan.apiKeyValueCommand, `aws apigateway get-api-key --api-key ${plan.apiKeyId} --include-value --query value --output text`);
    assert.ok(!JSON.stringify(plan).includes(keys[0]!.value!), "the key's value is never in the report");

    sent.length = 0;
    const again = await deployApi(context());
    assert.deepEqual(again.reports.map((r) => r.action), ["unchanged", "unchanged", "unchanged", "unchanged", "unchanged"]);
    assert.deepEqual(mutating(), [], "a converged stack sends no mutating call (no deployment either)");
  });

  test("a changed quota is one UpdateUsagePlan; a usage plan deleted out of band is recreated with its key binding, nothing else", async () => {
    const first = await deployApi(context());
    const lower = withConfig((c) => ({ ...c, api: { ...c.api, quota: { ...c.api.quota, limit: 5000 } } }));

    sent.length = 0;
    const quota = await deployApi(context({ config: lower }));
    assert.deepEqual(mutating(), ["UpdateUsagePlan"]);
    assert.deepEqual(inputsOf("UpdateUsagePlan")[0]?.patchOperations, [{ op: "replace", path: "/quota/limit", value: "5000" }]);
    assert.equal(quota.plan.action, "updated");
    assert.equal(Number((await aws.apigw.send(new GetUsagePlansCommand({}))).items?.[0]?.quota?.limit), 5000);
    sent.length = 0;
    await deployApi(context({ config: lower }));
    assert.deepEqual(mutating(), [], "moto's string quota limit is not taken for drift");

    await aws.apigw.send(new DeleteUsagePlanCommand({ usagePlanId: first.plan.usagePlanId }));
    sent.length = 0;
    const recreated = await deployApi(context({ config: lower }));
    assert.deepEqual(mutating(), ["CreateUsagePlan", "CreateUsagePlanKey"]);
    assert.equal(recreated.plan.action, "created");
    assert.equal(recreated.plan.apiKeyId, first.plan.apiKeyId, "the same key, so callers keep working");
    const bound = (await aws.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: recreated.plan.usagePlanId }))).items ?? [];
    assert.deepEqual(bound.map((k) => k.id), [first.plan.apiKeyId]);
  });

  test("API drift is repaired without a deployment; a definition change makes exactly one", async () => {
    const first = await deployApi(context());
    const restApiId = first.api.restApiId;
    const resources = (await aws.apigw.send(new GetResourcesCommand({ restApiId }))).items ?? [];
    const byId = resources.find((r) => r.path === "/images/{id}")!;
    // Out of band: the key requirement dropped (moto's PutMethod overwrites) and a CORS response deleted.
    await aws.apigw.send(new PutMethodCommand({ restApiId, resourceId: byId.id!, httpMethod: "GET", authorizationType: "NONE", apiKeyRequired: false }));
    await aws.apigw.send(new DeleteGatewayResponseCommand({ restApiId, responseType: "DEFAULT_5XX" }));

    const repaired = await run(() => ensureRestApi(context(), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }));
    assert.equal(repaired.report.action, "updated");
    assert.deepEqual(repaired.mutations, ["DeleteMethod", "PutMethod", "PutIntegration", "PutGatewayResponse"]);
    assert.match(repaired.report.detail ?? "", /GET \/images\/\{id\}.*gateway response DEFAULT_5XX/);
    const method = (await aws.apigw.send(new GetResourcesCommand({ restApiId, embed: ["methods"] }))).items?.find((r) => r.path === "/images/{id}")?.resourceMethods?.GET;
    assert.equal(method?.apiKeyRequired, true);

    const oneOrigin = withConfig((c) => ({ ...c, cors: { origins: ["https://app.example.com"] } }));
    const changed = await run(() => ensureRestApi(context({ config: oneOrigin }), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }));
    assert.deepEqual(changed.mutations, ["PutGatewayResponse", "PutGatewayResponse", "CreateDeployment", "UpdateStage"]);
    const params = (await aws.apigw.send(new GetGatewayResponsesCommand({ restApiId }))).items?.find((g) => g.responseType === "DEFAULT_4XX")?.responseParameters;
    assert.equal(params?.["gatewayresponse.header.Access-Control-Allow-Origin"], "'https://app.example.com'");
    const stage = await aws.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    const served = (await aws.apigw.send(new GetDeploymentsCommand({ restApiId }))).items?.find((d) => d.id === stage.deploymentId);
    assert.equal(served?.description, `${DEFINITION_PREFIX}${definitionHash(context({ config: oneOrigin }), first.fn.functionArn)}`);
    assert.deepEqual((await run(() => ensureRestApi(context({ config: oneOrigin }), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }))).mutations, []);
  });

  test("an undeployed twin left by a lost CreateRestApi answer is deleted, the deployed API kept", async () => {
    const first = await deployApi(context());
    // What the SDK's retry of a POST whose answer was lost leaves: a second, empty API of the same name and tag.
    await aws.apigw.send(new CreateRestApiCommand({ name: names.restApi, tags: { "imgapi:stack": names.stack } }));
    const healed = await run(() => ensureRestApi(context(), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }));
    assert.equal(healed.report.restApiId, first.api.restApiId, "the deployed API is kept");
    assert.deepEqual(healed.mutations, ["DeleteRestApi"]);
    assert.equal(await ourApiId(), first.api.restApiId);
  });

  test("an account that already has a CloudWatch role keeps it", async () => {
    const theirs = `arn:aws:iam::${ACCOUNT}:role/someone-elses-apigw-logs`;
    await aws.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: theirs }] }));
    const { report, mutations } = await run(() => ensureApiGatewayAccount(context()));
    assert.equal(report.action, "unchanged");
    assert.equal(report.cloudwatchRoleArn, theirs);
    assert.deepEqual(mutations, []);
    assert.equal((await aws.apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn, theirs);
  });

  test("a dry run on an empty account reports the plan and sends no mutating call", async () => {
    const { reports, api, plan } = await deployApi(context({ dryRun: true }));
    assert.deepEqual(reports.map((r) => r.action), ["created", "created", "created", "created", "created"]);
    assert.deepEqual(mutating(), []);
    assert.equal(api.restApiId, "(new)");
    assert.equal(plan.apiKeyId, "(new)");
    assert.deepEqual((await aws.apigw.send(new GetRestApisCommand({}))).items ?? [], []);

    // And on a deployed stack with changes: reported, not sent.
    await deployApi(context());
    const changed = withConfig((c) => ({ ...c, lambda: { ...c.lambda, memoryMb: 1024 }, api: { ...c.api, quota: { limit: 10, period: "WEEK" } }, cors: { origins: ["https://app.example.com"] } }));
    sent.length = 0;
    const dry = await deployApi(context({ dryRun: true, config: changed }));
    assert.deepEqual(mutating(), []);
    assert.deepEqual(dry.reports.map((r) => r.action), ["updated", "unchanged", "updated", "unchanged", "updated"]);
    assert.match(dry.api.detail ?? "", /gateway response DEFAULT_4XX.*deployment/);
  });

  test("removes delete everything but the account's role, then report absent", async () => {
    await deployApi(context());
    const removeAll = async () => [
      await removeUsagePlan(context()),
      await removeLambdaPermission(context()),
      await removeRestApi(context()),
      await removeApiGatewayAccount(context()),
      await removeLambdaFunction(context()),
    ];
    const first = await removeAll();
    assert.deepEqual(first.map((r) => r.action), ["deleted", "deleted", "deleted", "kept", "deleted"]);
    assert.match(first[3]!.detail ?? "", /account-wide/);
    assert.deepEqual((await aws.apigw.send(new GetRestApisCommand({}))).items ?? [], []);
    assert.deepEqual((await aws.apigw.send(new GetUsagePlansCommand({}))).items ?? [], []);
    assert.deepEqual((await aws.apigw.send(new GetApiKeysCommand({}))).items ?? [], []);
    await assert.rejects(aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName })), { name: "ResourceNotFoundException" });
    assert.ok((await aws.apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn, "the account keeps its CloudWatch role");

    sent.length = 0;
    const second = await removeAll();
    assert.deepEqual(second.map((r) => r.action), ["absent", "absent", "absent", "kept", "absent"]);
    assert.deepEqual(mutating(), []);
  });
});

/** What a user would see of a stack, with its API id and stack name replaced so two stacks compare. */
async function observable(ctx: DeployContext) {
  const { names } = ctx;
  const fn = await aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }));
  const { Runtime, Handler, Role, MemorySize, Timeout, Architectures, Environment, CodeSha256, FunctionArn } = fn.Configuration!;
  const restApis = ((await aws.apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi);
  const restApiId = restApis[0]?.id ?? "none";
  const resources = ((await aws.apigw.send(new GetResourcesCommand({ restApiId, embed: ["methods"] }))).items ?? [])
    .map((r) => ({
      path: r.path,
      methods: Object.fromEntries(Object.entries(r.resourceMethods ?? {}).map(([m, v]) => [m, { key: v.apiKeyRequired, auth: v.authorizationType, integration: v.methodIntegration?.uri }])),
    }))
    .sort((a, b) => a.path!.localeCompare(b.path!));
  const stage = await aws.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
  const deployments = (await aws.apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? [];
  const plans = ((await aws.apigw.send(new GetUsagePlansCommand({}))).items ?? []).filter((p) => p.name === names.usagePlan);
  const keys = ((await aws.apigw.send(new GetApiKeysCommand({}))).items ?? []).filter((k) => k.name === names.apiKey);
  const bound = plans[0] ? ((await aws.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: plans[0].id! }))).items ?? []).map((k) => k.name) : [];
  const policy = JSON.parse((await aws.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy ?? "{}");
  const snapshot = {
    function: { Runtime, Handler, Role, MemorySize, Timeout, Architectures, Environment, CodeSha256, Tags: fn.Tags, Concurrency: fn.Concurrency },
    restApis: restApis.length,
    resources,
    gatewayResponses: (await aws.apigw.send(new GetGatewayResponsesCommand({ restApiId }))).items,
    stage: { accessLogSettings: stage.accessLogSettings, methodSettings: stage.methodSettings, tags: stage.tags },
    servesDefinition: deployments.find((d) => d.id === stage.deploymentId)?.description === `${DEFINITION_PREFIX}${definitionHash(ctx, FunctionArn!)}`,
    deployments: deployments.length,
    account: (await aws.apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn,
    logsRolePolicies: (await aws.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: names.apiGatewayLogsRole }))).AttachedPolicies,
    permission: policy.Statement,
    plans: plans.map((p) => ({ name: p.name, stages: p.apiStages, throttle: p.throttle, quota: p.quota, tags: p.tags })),
    keys: keys.map((k) => ({ name: k.name, enabled: k.enabled, tags: k.tags })),
    bound,
  };
  return JSON.parse(JSON.stringify(snapshot).replaceAll(restApiId, "API_ID").replaceAll(names.stack, "STACK"));
}

describe("resumability", () => {
  test("a run stopped before or after any mutating call is finished by the next, to the same state", async (t) => {
    // Each attempt deploys its own stack (names derive from the stack name)
    // rather than resetting moto, which is far slower; the account-wide
    // CloudWatch role is cleared before each, so it is made every time.
    let stacks = 0;
    const freshStack = async () => {
      await aws.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: "" }] }));
      const role = names.apiGatewayLogsRole;
      // GetRole, not ListRoles: past 100 roles (one per stack here) ListRoles pages, and moto orders by random id.
      const exists = await aws.iam.send(new GetRoleCommand({ RoleName: role })).then(
        () => true,
        (e: Error) => {
          if (e.name === "NoSuchEntityException") return false;
          throw e;
        },
      );
      if (exists) {
        await aws.iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: pushToCloudWatchPolicyArn("aws") }));
        await aws.iam.send(new DeleteRoleCommand({ RoleName: role }));
      }
      const stackConfig = withConfig((c) => ({ ...c, stackName: `imgapi-r${++stacks}`, lambda: { ...c.lambda, reservedConcurrency: 5 } }));
      const ctx = context({ config: stackConfig });
      prereq = await prerequisites(ctx.names);
      mutationsSoFar = 0;
      return ctx;
    };

    const reference = await freshStack();
    await deployApi(reference);
    const total = mutationsSoFar;
    const expected = await observable(reference);
    t.diagnostic(`${total} mutating calls in a deploy from empty, each interrupted before and after`);
    assert.ok(total >= 25, `expected the whole API to take many calls, got ${total}`);

    for (const when of ["before", "after"] as const) {
      for (let at = 1; at <= total; at++) {
        const ctx = await freshStack();
        interrupt = { at, when };
        await assert.rejects(deployApi(ctx), (e: Error) => e instanceof Interrupted || (e as { cause?: unknown }).cause instanceof Interrupted, `stopped ${when} call ${at}`);
        interrupt = undefined;

        await deployApi(ctx);
        assert.deepEqual(await observable(ctx), expected, `state after resuming from a stop ${when} mutating call ${at}`);
        sent.length = 0;
        await deployApi(ctx);
        assert.deepEqual(mutating(), [], `converged after a stop ${when} mutating call ${at}`);
      }
    }
  });
});
