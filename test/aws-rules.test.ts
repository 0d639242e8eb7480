// Each AWS rule of the strict harness on its own, with plain SDK calls through
// the fault proxy to moto: the rule answers with AWS's code and exact message
// in the service's protocol, for as long as AWS documents, and then lets the
// call through to moto, which has none of these rules.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { CreateDeploymentCommand, CreateRestApiCommand, CreateStageCommand, GetAccountCommand, GetResourcesCommand, PutIntegrationCommand, PutMethodCommand, UpdateAccountCommand, UpdateStageCommand } from "@aws-sdk/client-api-gateway";
import { CreateTrailCommand, DeleteTrailCommand } from "@aws-sdk/client-cloudtrail";
import { AttachRolePolicyCommand, UpdateAssumeRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateAliasCommand, CreateKeyCommand, EnableKeyRotationCommand, ListKeysCommand, PutKeyPolicyCommand } from "@aws-sdk/client-kms";
import { AddPermissionCommand, GetAccountSettingsCommand, GetFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PutFunctionConcurrencyCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, DeleteObjectsCommand, PutBucketNotificationConfigurationCommand } from "@aws-sdk/client-s3";
import { createClients, destroyClients, type AwsClients } from "../deploy/aws-clients.ts";
import { ACCOUNT, fn, keyPolicy, refused, role, trust, ZIP } from "./support/aws-calls.ts";
import * as rules from "./support/aws-rules.ts";
import { startFaultProxy, type FaultProxy } from "./support/fault-proxy.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";


let moto: Moto;
let proxy: FaultProxy;
/** Through the proxy, one attempt per call so every answer is seen. */
let aws: AwsClients;
/** Straight to moto: setup that no rule may see. */
let direct: AwsClients;
let close = () => {};

before(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  aws = createClients({ region: MOTO_REGION, endpoint: proxy.url, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
  direct = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
});

after(async () => {
  close();
  destroyClients(aws);
  destroyClients(direct);
  await proxy?.close();
  await moto?.stop();
});

beforeEach(async () => {
  close();
  proxy.clear();
  await moto.reset();
});

/** Installs one rule on the proxy. */
function only(rule: rules.AwsRule): void {
  const ctx = rules.ruleContext(proxy);
  rule.install(ctx);
  close = ctx.close;
}

describe("propagation", () => {
  test("Lambda refuses a role created or re-trusted moments ago, twice, then accepts it", async () => {
    only(rules.lambdaRolePropagation({ refusals: 2 }));
    const arn = await role(aws, "fresh-role");
    const older = await role(direct, "older-role");
    await aws.lambda.send(fn("uses-older", older));
    for (let i = 0; i < 2; i++) await refused(aws.lambda.send(fn("f", arn)), "InvalidParameterValueException", rules.ROLE_NOT_ASSUMABLE);
    await aws.lambda.send(fn("f", arn));

    await aws.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "fresh-role", PolicyDocument: trust("lambda.amazonaws.com") }));
    const update = () => aws.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: "f", Role: arn }));
    for (let i = 0; i < 2; i++) await refused(update(), "InvalidParameterValueException", rules.ROLE_NOT_ASSUMABLE);
    await update();
    assert.equal(proxy.faulted("iam-role-propagation-lambda"), 4);
  });

  test("KMS refuses a key policy naming a role created moments ago, twice, and one naming a missing role always", async () => {
    only(rules.kmsPrincipalPropagation({ refusals: 2 }));
    const arn = await role(aws, "key-user");
    const create = () => aws.kms.send(new CreateKeyCommand({ Policy: keyPolicy(arn) }));
    for (let i = 0; i < 2; i++) await refused(create(), "MalformedPolicyDocumentException", rules.INVALID_PRINCIPALS);
    const keyId = (await create()).KeyMetadata!.KeyId!;
    const missing = () => aws.kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: "default", Policy: keyPolicy(`arn:aws:iam::${ACCOUNT}:role/no-such-role`) }));
    for (let i = 0; i < 3; i++) await refused(missing(), "MalformedPolicyDocumentException", rules.INVALID_PRINCIPALS);
    await aws.kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: "default", Policy: keyPolicy(arn) }));
  });

  test("KMS answers NotFoundException for the first calls naming a key created moments ago", async () => {
    only(rules.kmsKeyPropagation({ refusals: 2 }));
    const key = (await aws.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    assert.ok((await aws.kms.send(new ListKeysCommand({}))).Keys?.some((k) => k.KeyId === key.KeyId), "ListKeys already shows it");
    const alias = () => aws.kms.send(new CreateAliasCommand({ AliasName: "alias/fresh", TargetKeyId: key.KeyId }));
    await refused(alias(), "NotFoundException", rules.keyNotFound(key.Arn!));
    await refused(aws.kms.send(new EnableKeyRotationCommand({ KeyId: key.Arn })), "NotFoundException", `Key '${key.Arn}' does not exist`);
    await alias();
    await aws.kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId }));
  });
});

describe("service roles and permissions", () => {
  const PUSH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs";
  const setRole = (arn: string) => aws.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: arn }] }));

  test("API Gateway refuses a logs role given its policy moments ago with both of its answers, then accepts it; a role without policy always", async () => {
    only(rules.apiGatewayAccountRolePropagation({ notPermitted: 1, cannotWrite: 1 }));
    const bare = await role(aws, "logs-role-without-policy", "apigateway.amazonaws.com");
    for (let i = 0; i < 3; i++) await refused(setRole(bare), "BadRequestException", rules.ROLE_NOT_PERMITTED);
    const arn = await role(aws, "logs-role", "apigateway.amazonaws.com");
    await aws.iam.send(new AttachRolePolicyCommand({ RoleName: "logs-role", PolicyArn: PUSH_POLICY }));
    await refused(setRole(arn), "BadRequestException", rules.ROLE_NOT_PERMITTED);
    await refused(setRole(arn), "BadRequestException", rules.CANNOT_WRITE_LOGS);
    await setRole(arn);
    assert.equal((await direct.apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn, arn);
  });

  test("a stage's access logs are refused while the account has no CloudWatch Logs role", async () => {
    only(rules.stageLoggingNeedsAccountRole());
    const restApiId = (await direct.apigw.send(new CreateRestApiCommand({ name: "api" }))).id!;
    const root = (await direct.apigw.send(new GetResourcesCommand({ restApiId }))).items![0]!.id!;
    await direct.apigw.send(new PutMethodCommand({ restApiId, resourceId: root, httpMethod: "GET", authorizationType: "NONE" }));
    await direct.apigw.send(new PutIntegrationCommand({ restApiId, resourceId: root, httpMethod: "GET", type: "MOCK" }));
    const deploymentId = (await direct.apigw.send(new CreateDeploymentCommand({ restApiId }))).id!;
    await direct.apigw.send(new CreateStageCommand({ restApiId, stageName: "prod", deploymentId }));
    const patch = (path: string, value: string) => aws.apigw.send(new UpdateStageCommand({ restApiId, stageName: "prod", patchOperations: [{ op: "replace", path, value }] }));
    const logGroup = `arn:aws:logs:${MOTO_REGION}:${ACCOUNT}:log-group:access`;
    await patch("/*/*/throttling/rateLimit", "10");
    await refused(patch("/accessLogSettings/destinationArn", logGroup), "BadRequestException", rules.ACCOUNT_ROLE_NOT_SET);
    await refused(patch("/*/*/logging/loglevel", "INFO"), "BadRequestException", rules.ACCOUNT_ROLE_NOT_SET);
    await direct.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: await role(direct, "logs", "apigateway.amazonaws.com") }] }));
    await patch("/accessLogSettings/destinationArn", logGroup);
  });

  test("S3 cannot validate a Lambda destination without a permission for s3, nor for the first calls after one is added", async () => {
    only(rules.s3NotificationPermissionPropagation({ refusals: 2 }));
    await direct.s3.send(new CreateBucketCommand({ Bucket: "images" }));
    const functionArn = (await direct.lambda.send(fn("resize", await role(direct, "fn-role")))).FunctionArn!;
    const notify = () =>
      aws.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: "images", NotificationConfiguration: { LambdaFunctionConfigurations: [{ LambdaFunctionArn: functionArn, Events: ["s3:ObjectCreated:*"] }] } }));
    for (let i = 0; i < 3; i++) await refused(notify(), "InvalidArgument", rules.DESTINATION_NOT_VALIDATED);
    await aws.lambda.send(new AddPermissionCommand({ FunctionName: "resize", StatementId: "s3", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::images" }));
    for (let i = 0; i < 2; i++) await refused(notify(), "InvalidArgument", rules.DESTINATION_NOT_VALIDATED);
    await notify();
    // Removing every destination needs no validation.
    await aws.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: "images", NotificationConfiguration: {} }));
  });
});

describe("Lambda function states", () => {
  test("a new function is Pending and an updated one InProgress until polled; updates meanwhile get ResourceConflictException", async () => {
    only(rules.lambdaFunctionStates({ polls: 1 }));
    const arn = (await aws.lambda.send(fn("busy", await role(direct, "r")))).FunctionArn!;
    const configure = () => aws.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: "busy", MemorySize: 256 }));
    await refused(configure(), "ResourceConflictException", rules.pendingConflict(arn));
    await refused(aws.lambda.send(new InvokeCommand({ FunctionName: "busy" })), "ResourceConflictException", rules.PENDING_INVOKE);
    assert.equal((await aws.lambda.send(new GetFunctionCommand({ FunctionName: "busy" }))).Configuration?.State, "Pending");
    assert.equal((await aws.lambda.send(new GetFunctionCommand({ FunctionName: arn }))).Configuration?.State, "Active");
    await configure();
    const code = () => aws.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: "busy", ZipFile: ZIP }));
    await refused(code(), "ResourceConflictException", rules.updateConflict(arn));
    assert.equal((await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "busy" }))).LastUpdateStatus, "InProgress");
    await code();
    assert.equal((await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "busy" }))).LastUpdateStatus, "InProgress");
    assert.equal((await aws.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "busy" }))).LastUpdateStatus, "Successful");
  });
});

describe("limits and quotas", () => {
  test("DeleteObjects takes at most 1000 keys: 1001 is MalformedXML", async () => {
    only(rules.deleteObjectsLimit());
    await direct.s3.send(new CreateBucketCommand({ Bucket: "many" }));
    const keys = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}` }));
    await refused(aws.s3.send(new DeleteObjectsCommand({ Bucket: "many", Delete: { Objects: keys(1001) } })), "MalformedXML", rules.MALFORMED_XML);
    await aws.s3.send(new DeleteObjectsCommand({ Bucket: "many", Delete: { Objects: keys(1000) } }));
  });

  test("a Lambda environment over 4 KB (as compact JSON) is refused on create and update, quoting what was measured", async () => {
    only(rules.lambdaEnvironmentLimit());
    const r = await role(direct, "r");
    // {"A":"xxx..."} is 8 bytes of JSON around the value.
    const env = (bytes: number) => ({ Variables: { A: "x".repeat(bytes - 8) } });
    await refused(aws.lambda.send(fn("big", r, { Environment: env(4097) })), "InvalidParameterValueException", rules.environmentTooLarge(JSON.stringify(env(4097).Variables)));
    await aws.lambda.send(fn("big", r, { Environment: env(4096) }));
    await refused(aws.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: "big", Environment: env(4097) })), "InvalidParameterValueException", /exceeded the 4KB limit\. String measured: \{"A":"x+"\}$/);
  });

  test("a synchronous Invoke payload over 6,291,456 bytes is RequestEntityTooLargeException; API Gateway's base64 crosses it from a 4.7 MB body", async () => {
    only(rules.lambdaInvokePayloadLimit());
    await direct.lambda.send(fn("f", await role(direct, "r")));
    const invoke = (bytes: number) => aws.lambda.send(new InvokeCommand({ FunctionName: "f", Payload: Buffer.alloc(bytes, 0x20) }));
    await refused(invoke(rules.MAX_SYNC_INVOKE_BYTES + 1), "RequestEntityTooLargeException", rules.INVOKE_TOO_LARGE);
    // At the limit the call reaches moto (which cannot run functions without Docker).
    await assert.rejects(invoke(rules.MAX_SYNC_INVOKE_BYTES), (e: Error) => e.name !== "RequestEntityTooLargeException");
    assert.equal(proxy.faulted("lambda-invoke-6mb"), 1);
    assert.equal(rules.proxyEventBytes(4_718_592), rules.MAX_SYNC_INVOKE_BYTES);
    assert.ok(rules.proxyEventBytes(4_718_593) > rules.MAX_SYNC_INVOKE_BYTES);
    assert.ok(4_718_593 < rules.API_GATEWAY_MAX_PAYLOAD_BYTES, "such a body passes API Gateway itself");
  });

  test("a sixth trail in a region is MaximumNumberOfTrailsExceededException; trails the account already had count", async () => {
    only(rules.cloudTrailQuota());
    await rules.seedAccountTrails(direct, ["org-trail", "control-tower"]);
    const create = (Name: string) => aws.cloudtrail.send(new CreateTrailCommand({ Name, S3BucketName: "account-audit-trail-bucket" }));
    for (const name of ["trail-3", "trail-4", "trail-5"]) await create(name);
    await refused(create("trail-6"), "MaximumNumberOfTrailsExceededException", rules.tooManyTrails(ACCOUNT, MOTO_REGION));
    await direct.cloudtrail.send(new DeleteTrailCommand({ Name: "trail-5" }));
    await create("trail-6");
  });

  test("a new account's concurrency quota is 10 with 10 kept unreserved, so no function can reserve any", async () => {
    only(rules.lambdaConcurrencyQuota());
    await direct.lambda.send(fn("f", await role(direct, "r")));
    const settings = await aws.lambda.send(new GetAccountSettingsCommand({}));
    assert.equal(settings.AccountLimit?.ConcurrentExecutions, 10);
    assert.equal(settings.AccountLimit?.UnreservedConcurrentExecutions, 10);
    await refused(aws.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: "f", ReservedConcurrentExecutions: 1 })), "InvalidParameterValueException", rules.belowUnreservedMinimum(10));
  });

  test("with a raised quota, reservations count against the unreserved minimum", async () => {
    only(rules.lambdaConcurrencyQuota({ concurrentExecutions: 1000, minimumUnreserved: 100 }));
    const r = await role(direct, "r");
    for (const name of ["a", "b"]) await direct.lambda.send(fn(name, r));
    await aws.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: "a", ReservedConcurrentExecutions: 850 }));
    assert.equal((await aws.lambda.send(new GetAccountSettingsCommand({}))).AccountLimit?.UnreservedConcurrentExecutions, 150);
    await refused(aws.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: "b", ReservedConcurrentExecutions: 51 })), "InvalidParameterValueException", rules.belowUnreservedMinimum(100));
    await aws.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: "b", ReservedConcurrentExecutions: 50 }));
  });
});

describe("the harness", () => {
  test("applyStrictRules installs every rule, or the ones named, and refuses unknown names", async () => {
    const all = rules.applyStrictRules(proxy);
    close = all.close;
    assert.equal(new Set(all.rules.map((r) => r.name)).size, 16, "12 for the stack, 4 for the CDN (test/support/aws-rules/cdn.ts)");
    assert.ok(all.rules.every((r) => r.source.startsWith("https://docs.aws.amazon.com/")), "every rule cites its AWS page");
    proxy.clear();
    all.close();
    const some = rules.applyStrictRules(proxy, { only: ["s3-delete-objects-1000-keys"] });
    close = some.close;
    assert.deepEqual(Object.keys(some.fired()), ["s3-delete-objects-1000-keys"]);
    assert.throws(() => rules.applyStrictRules(proxy, { except: ["no-such-rule"] }), /unknown AWS rule "no-such-rule"/);
  });
});
