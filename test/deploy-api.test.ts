// The REST API built from ROUTES, the invoke permission and the usage plan
// with its key, against moto: created from empty with every part read back
// (proxy methods, preflights answered by API Gateway, gateway responses in
// the error shape, stage, plan, key), a second run sends no mutating call, a
// definition change makes exactly one deployment, a dry run sends nothing,
// removes leave nothing. Drift: deploy-api-drift.test.ts; a run stopped at
// any call: deploy-api-resume.test.ts; lost answers: deploy-faults.test.ts.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import {
  CreateRestApiCommand,
  DeleteUsagePlanCommand,
  GetApiKeysCommand,
  GetDeploymentsCommand,
  GetGatewayResponsesCommand,
  GetMethodCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStageCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
} from "@aws-sdk/client-api-gateway";
import { GetFunctionCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import { GATEWAY_RESPONSE_TYPES, gatewayErrorTemplate } from "../function/http/gateway-errors.ts";
import { removeApiGatewayAccount } from "../deploy/resources/api-gateway-account.ts";
import { removeLambdaFunction } from "../deploy/resources/lambda-function.ts";
import { removeLambdaPermission, STATEMENT_ID } from "../deploy/resources/lambda-permission.ts";
import { ACCESS_LOG_FORMAT, definitionHash, DEFINITION_PREFIX, ensureRestApi, removeRestApi, resourcePaths } from "../deploy/resources/rest-api.ts";
import { removeUsagePlan } from "../deploy/resources/usage-plan.ts";
import { BINARY_MEDIA_TYPES, ROUTES } from "../function/routes.ts";
import { ACCOUNT, config, names, REGION, TAGS, useApiHarness, withConfig, type Prerequisites } from "./support/api-harness.ts";

const h = useApiHarness();
let prereq: Prerequisites;

beforeEach(async () => {
  await h.moto.reset();
  h.interrupt = undefined;
  prereq = await h.prerequisites();
  h.sent.length = 0;
});

const deploy = (cfg = config, dryRun = false) => h.deployApi(h.context({ config: cfg, dryRun }), prereq);
const apiIds = async () => ((await h.aws.apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi).map((a) => a.id!);

describe("REST API, permission, usage plan", () => {
  test("from empty: routes, preflights, gateway responses, stage, permission and usage plan; a second run sends no mutating call", async () => {
    const { fn, api, permission, plan } = await deploy();
    const [restApiId] = await apiIds();
    assert.equal(api.action, "created");
    assert.deepEqual([api.restApiId, api.endpointUrl, api.stageArn], [restApiId, `https://${restApiId}.execute-api.${REGION}.amazonaws.com/${names.stage}`, `arn:aws:apigateway:${REGION}::/restapis/${restApiId}/stages/${names.stage}`]);
    // moto drops binaryMediaTypes: the request carries them.
    const [create] = h.inputsOf("CreateRestApi");
    assert.deepEqual([create?.binaryMediaTypes, create?.endpointConfiguration, create?.tags], [[...BINARY_MEDIA_TYPES], { types: ["REGIONAL"] }, TAGS]);

    const resources = (await h.aws.apigw.send(new GetResourcesCommand({ restApiId, embed: ["methods"] }))).items ?? [];
    assert.deepEqual(resources.map((r) => r.path).sort(), ["/", ...resourcePaths()].sort(), "one resource per path the routes need");
    const uri = `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${fn.functionArn}/invocations`;
    for (const route of ROUTES) {
      const method = resources.find((r) => r.path === route.resource)?.resourceMethods?.[route.method];
      assert.equal(method?.apiKeyRequired, route.access === "private", `${route.method} ${route.resource} needs the key if private`);
      assert.deepEqual([method?.authorizationType, method?.methodIntegration?.type, method?.methodIntegration?.uri], ["NONE", "AWS_PROXY", uri]);
    }
    for (const r of resources.filter((r) => r.path !== "/")) {
      const options = await h.aws.apigw.send(new GetMethodCommand({ restApiId, resourceId: r.id, httpMethod: "OPTIONS" }));
      assert.deepEqual([options.apiKeyRequired, options.authorizationType, options.methodIntegration?.type], [false, "NONE", "MOCK"], `OPTIONS ${r.path} is answered by API Gateway`);
      assert.deepEqual(options.methodIntegration?.requestTemplates, { "application/json": '{"statusCode":204}' });
      const headers = options.methodIntegration?.integrationResponses?.["204"]?.responseParameters;
      assert.deepEqual(headers, {
        "method.response.header.Access-Control-Allow-Origin": "'*'",
        "method.response.header.Access-Control-Allow-Methods": "'GET,POST,PUT,DELETE,OPTIONS'",
        "method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key,Authorization,If-None-Match,X-Amz-Date,X-Amz-Security-Token,X-Amz-Content-Sha256'",
        "method.response.header.Access-Control-Max-Age": "'600'",
      }, `OPTIONS ${r.path} CORS headers`);
      assert.ok(Object.keys(headers ?? {}).every((k) => options.methodResponses?.["204"]?.responseParameters?.[k] === false), `OPTIONS ${r.path} declares its headers`);
    }

    const responses = (await h.aws.apigw.send(new GetGatewayResponsesCommand({ restApiId }))).items ?? [];
    assert.deepEqual(responses.map((g) => g.responseType).sort(), [...GATEWAY_RESPONSE_TYPES].sort(), "every gateway response type");
    for (const g of responses) {
      assert.equal(g.responseTemplates?.["application/json"], gatewayErrorTemplate(g.responseType as (typeof GATEWAY_RESPONSE_TYPES)[number]));
      assert.deepEqual([g.responseParameters?.["gatewayresponse.header.Access-Control-Allow-Origin"], g.responseParameters?.["gatewayresponse.header.X-Content-Type-Options"]], ["'*'", "'nosniff'"], g.responseType);
      assert.equal(g.statusCode, undefined, `${g.responseType} keeps API Gateway's own status`);
    }

    const stage = await h.aws.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    assert.deepEqual([stage.accessLogSettings?.destinationArn, stage.accessLogSettings?.format], [prereq.accessLogGroupArn.replace(/:\*$/, ""), ACCESS_LOG_FORMAT]);
    assert.deepEqual([stage.methodSettings?.["*/*"]?.throttlingRateLimit, stage.methodSettings?.["*/*"]?.throttlingBurstLimit], [config.api.throttle.rateLimit, config.api.throttle.burstLimit]);
    assert.deepEqual(stage.tags, TAGS);
    const deployments = (await h.aws.apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? [];
    assert.deepEqual(deployments.map((d) => [d.id, d.description]), [[stage.deploymentId, `${DEFINITION_PREFIX}${definitionHash(h.context(), fn.functionArn)}`]]);

    assert.equal(permission.action, "created");
    const statement = JSON.parse((await h.aws.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy!).Statement.find((s: { Sid: string }) => s.Sid === STATEMENT_ID);
    assert.deepEqual([statement.Principal, statement.Action, statement.Condition.ArnLike["AWS:SourceArn"]], [{ Service: "apigateway.amazonaws.com" }, "lambda:InvokeFunction", `arn:aws:execute-api:${REGION}:${ACCOUNT}:${restApiId}/*/*/*`]);

    assert.equal(plan.action, "created");
    const usagePlans = (await h.aws.apigw.send(new GetUsagePlansCommand({}))).items ?? [];
    assert.deepEqual(usagePlans.map((p) => [p.id, p.apiStages, Number(p.throttle?.rateLimit), p.throttle?.burstLimit, Number(p.quota?.limit), p.quota?.period, p.tags]), [
      [plan.usagePlanId, [{ apiId: restApiId, stage: names.stage }], config.api.throttle.rateLimit, config.api.throttle.burstLimit, config.api.quota.limit, config.api.quota.period, TAGS],
    ]);
    const keys = (await h.aws.apigw.send(new GetApiKeysCommand({ includeValues: true }))).items ?? [];
    assert.deepEqual(keys.map((k) => [k.id, k.name, k.enabled, k.tags]), [[plan.apiKeyId, names.apiKey, true, TAGS]]);
    assert.deepEqual(((await h.aws.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: plan.usagePlanId }))).items ?? []).map((k) => k.id), [plan.apiKeyId]);
    assert.equal(plan.apiKeyValueCommand, `aws apigateway get-api-key --api-key ${plan.apiKeyId} --include-value --query value --output text`);
    assert.ok(!JSON.stringify(plan).includes(keys[0]!.value!), "the key's value is never in the report");
    assert.ok(!h.sent.some((c) => c.command === "GetApiKeysCommand"), "keys are found without GetApiKeys, which can read every key's value");

    h.sent.length = 0;
    const again = await deploy();
    assert.deepEqual(again.reports.map((r) => r.action), ["unchanged", "unchanged", "unchanged", "unchanged", "unchanged"]);
    assert.deepEqual(h.mutating(), [], "a converged stack sends no mutating call (no deployment either)");
  });

  test("a usage plan deleted out of band is recreated with the same key bound, nothing else", async () => {
    const first = await deploy();
    await h.aws.apigw.send(new DeleteUsagePlanCommand({ usagePlanId: first.plan.usagePlanId }));
    h.sent.length = 0;
    const recreated = await deploy();
    assert.deepEqual([h.mutating(), recreated.plan.action], [["CreateUsagePlan", "CreateUsagePlanKey"], "created"]);
    assert.equal(recreated.plan.apiKeyId, first.plan.apiKeyId, "the same key, found by its tag, so callers keep working");
    assert.deepEqual(((await h.aws.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: recreated.plan.usagePlanId }))).items ?? []).map((k) => k.id), [first.plan.apiKeyId]);
  });

  test("a definition change (one CORS origin) rewrites every preflight and gateway response, then makes exactly one deployment", async () => {
    const first = await deploy();
    const oneOrigin = withConfig((c) => ({ ...c, cors: { origins: ["https://app.example.com"] } }));
    const changed = await h.run(() => ensureRestApi(h.context({ config: oneOrigin }), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }));
    const count = (command: string) => changed.mutations.filter((m) => m === command).length;
    assert.deepEqual([count("PutIntegrationResponse"), count("PutGatewayResponse")], [resourcePaths().length, GATEWAY_RESPONSE_TYPES.length]);
    assert.deepEqual(changed.mutations.slice(-2), ["CreateDeployment", "UpdateStage"]);
    assert.equal(changed.mutations.length, resourcePaths().length + GATEWAY_RESPONSE_TYPES.length + 2, "nothing else");
    const restApiId = first.api.restApiId;
    const params = (await h.aws.apigw.send(new GetGatewayResponsesCommand({ restApiId }))).items?.find((g) => g.responseType === "THROTTLED")?.responseParameters;
    assert.equal(params?.["gatewayresponse.header.Access-Control-Allow-Origin"], "'https://app.example.com'");
    const stage = await h.aws.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    const served = (await h.aws.apigw.send(new GetDeploymentsCommand({ restApiId }))).items?.find((d) => d.id === stage.deploymentId);
    assert.equal(served?.description, `${DEFINITION_PREFIX}${definitionHash(h.context({ config: oneOrigin }), first.fn.functionArn)}`);
    assert.deepEqual((await h.run(() => ensureRestApi(h.context({ config: oneOrigin }), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }))).mutations, []);
  });

  test("an undeployed twin left by a lost CreateRestApi answer is deleted, the deployed API kept", async () => {
    const first = await deploy();
    // What the SDK's retry of a POST whose answer was lost leaves: a second, empty API of the same name and tag.
    await h.aws.apigw.send(new CreateRestApiCommand({ name: names.restApi, tags: { "imgapi:stack": names.stack } }));
    const healed = await h.run(() => ensureRestApi(h.context(), { functionArn: first.fn.functionArn, accessLogGroupArn: prereq.accessLogGroupArn }));
    assert.deepEqual([healed.report.restApiId, healed.mutations], [first.api.restApiId, ["DeleteRestApi"]]);
    assert.deepEqual(await apiIds(), [first.api.restApiId]);
  });

  test("a dry run sends no mutating call, on an empty account and on a deployed stack with changes", async () => {
    const empty = await deploy(config, true);
    assert.deepEqual([empty.reports.map((r) => r.action), h.mutating(), empty.api.restApiId, empty.plan.apiKeyId], [["created", "created", "created", "created", "created"], [], "(new)", "(new)"]);
    assert.deepEqual(await apiIds(), []);

    await deploy();
    const changed = withConfig((c) => ({ ...c, lambda: { ...c.lambda, memoryMb: 1024 }, api: { ...c.api, quota: { limit: 10, period: "WEEK" } }, cors: { origins: ["https://app.example.com"] } }));
    h.sent.length = 0;
    const dry = await deploy(changed, true);
    assert.deepEqual([h.mutating(), dry.reports.map((r) => r.action)], [[], ["updated", "unchanged", "updated", "unchanged", "updated"]]);
    assert.match(dry.api.detail ?? "", /integration response OPTIONS \/images.*gateway response DEFAULT_4XX.*deployment/);
  });

  test("removes delete everything but the account's role, then report absent", async () => {
    await deploy();
    const removeAll = async () => [
      await removeUsagePlan(h.context()),
      await removeLambdaPermission(h.context()),
      await removeRestApi(h.context()),
      await removeApiGatewayAccount(h.context()),
      await removeLambdaFunction(h.context()),
    ];
    const first = await removeAll();
    assert.deepEqual(first.map((r) => r.action), ["deleted", "deleted", "deleted", "kept", "deleted"]);
    assert.deepEqual([await apiIds(), (await h.aws.apigw.send(new GetUsagePlansCommand({}))).items ?? [], (await h.aws.apigw.send(new GetApiKeysCommand({}))).items ?? []], [[], [], []]);
    await assert.rejects(h.aws.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName })), { name: "ResourceNotFoundException" });
    h.sent.length = 0;
    const second = await removeAll();
    assert.deepEqual([second.map((r) => r.action), h.mutating()], [["absent", "absent", "absent", "kept", "absent"], []]);
  });
});
