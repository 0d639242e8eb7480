// A deploy of the API stopped at any of its mutating calls, as a crash would,
// is finished by the next run, to the same state as an uninterrupted one,
// and a run after that sends nothing. The function and the account's role
// come first and are not interrupted (deploy-resources.test.ts and
// deploy-stack.test.ts stop those).
import assert from "node:assert/strict";
import { test } from "node:test";
import { GetDeploymentsCommand, GetGatewayResponsesCommand, GetMethodCommand, GetResourcesCommand, GetRestApisCommand, GetStageCommand, GetUsagePlanKeysCommand, GetUsagePlansCommand, GetApiKeysCommand } from "@aws-sdk/client-api-gateway";
import { GetPolicyCommand } from "@aws-sdk/client-lambda";
import type { DeployContext } from "../deploy/context.ts";
import { ensureApiGatewayAccount } from "../deploy/resources/api-gateway-account.ts";
import { ensureLambdaFunction } from "../deploy/resources/lambda-function.ts";
import { ensureLambdaPermission } from "../deploy/resources/lambda-permission.ts";
import { definitionHash, DEFINITION_PREFIX, ensureRestApi } from "../deploy/resources/rest-api.ts";
import { ensureUsagePlan } from "../deploy/resources/usage-plan.ts";
import { Interrupted, SECRET_CIPHERTEXT, useApiHarness, withConfig, ZIP, type Prerequisites } from "./support/api-harness.ts";
import { interruptionPoints } from "./support/interruptions.ts";

const h = useApiHarness();

/** What a user would see of the API, with its ids and stack name replaced so two stacks compare. */
async function observable(ctx: DeployContext, functionArn: string) {
  const { apigw } = h.aws;
  const { names } = ctx;
  const apis = ((await apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi);
  const restApiId = apis[0]?.id ?? "none";
  const methods: unknown[] = [];
  for (const r of ((await apigw.send(new GetResourcesCommand({ restApiId, limit: 500 }))).items ?? []).sort((a, b) => a.path!.localeCompare(b.path!))) {
    for (const httpMethod of Object.keys(r.resourceMethods ?? {}).sort()) {
      const m = await apigw.send(new GetMethodCommand({ restApiId, resourceId: r.id, httpMethod }));
      methods.push({ path: r.path, httpMethod, key: m.apiKeyRequired, auth: m.authorizationType, integration: m.methodIntegration, responses: m.methodResponses });
    }
  }
  const stage = await apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
  const deployments = (await apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? [];
  const plans = ((await apigw.send(new GetUsagePlansCommand({}))).items ?? []).filter((p) => p.name === names.usagePlan);
  const keys = ((await apigw.send(new GetApiKeysCommand({}))).items ?? []).filter((k) => k.name === names.apiKey);
  const snapshot = {
    restApis: apis.length,
    methods,
    gatewayResponses: ((await apigw.send(new GetGatewayResponsesCommand({ restApiId }))).items ?? []).sort((a, b) => String(a.responseType).localeCompare(String(b.responseType))),
    stage: { accessLogSettings: stage.accessLogSettings, methodSettings: stage.methodSettings, tags: stage.tags },
    deployments: deployments.length,
    servesDefinition: deployments.find((d) => d.id === stage.deploymentId)?.description === `${DEFINITION_PREFIX}${definitionHash(ctx, functionArn)}`,
    permission: JSON.parse((await h.aws.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName }))).Policy ?? "{}").Statement,
    plans: plans.map((p) => ({ stages: p.apiStages, throttle: p.throttle, quota: p.quota, tags: p.tags })),
    keys: keys.map((k) => ({ enabled: k.enabled, tags: k.tags })),
    bound: plans[0] ? ((await apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: plans[0].id! }))).items ?? []).map((k) => k.name) : [],
  };
  return JSON.parse(JSON.stringify(snapshot).replaceAll(restApiId, "API_ID").replaceAll(names.stack, "STACK").replace(/"resourceId":"[^"]+"/g, '"resourceId":"ID"'));
}

test("a run stopped before or after any of the API's mutating calls is finished by the next, to the same state", async (t) => {
  // Each attempt deploys its own stack (names derive from the stack name) rather than resetting moto, which is far slower.
  let stacks = 0;
  const freshStack = async () => {
    const ctx = h.context({ config: withConfig((c) => ({ ...c, stackName: `imgapi-r${++stacks}` })) });
    const prereq: Prerequisites = await h.prerequisites(ctx.names);
    const fn = await ensureLambdaFunction(ctx, { ...prereq, signingSecretCiphertext: SECRET_CIPHERTEXT, zip: ZIP });
    await ensureApiGatewayAccount(ctx);
    h.mutationsSoFar = 0;
    return { ctx, prereq, functionArn: fn.functionArn };
  };
  const deployApi = async ({ ctx, prereq, functionArn }: Awaited<ReturnType<typeof freshStack>>) => {
    const api = await ensureRestApi(ctx, { functionArn, accessLogGroupArn: prereq.accessLogGroupArn });
    await ensureLambdaPermission(ctx, { restApiId: api.restApiId });
    await ensureUsagePlan(ctx, { restApiId: api.restApiId });
  };

  const reference = await freshStack();
  h.sent.length = 0;
  await deployApi(reference);
  const total = h.mutationsSoFar;
  const calls = h.mutating();
  assert.equal(calls.length, total);
  const expected = await observable(reference.ctx, reference.functionArn);
  assert.ok(total >= 60, `expected the whole API to take many calls, got ${total}`);

  // Stopping before call k+1 leaves what stopping after call k leaves (only
  // reads lie between), so one of the two is enough; where: support/interruptions.ts.
  const stops = [...interruptionPoints(calls).map((i) => (i === 0 ? { at: 1, when: "before" as const } : { at: i, when: "after" as const })), { at: total, when: "after" as const }];
  t.diagnostic(`${total} mutating calls in the API's deploy from empty; stopped at ${stops.length} points`);
  for (const stop of stops) {
    const stack = await freshStack();
    h.interrupt = stop;
    await assert.rejects(deployApi(stack), (e: Error) => e instanceof Interrupted || (e as { cause?: unknown }).cause instanceof Interrupted, `stopped ${stop.when} call ${stop.at}`);
    h.interrupt = undefined;
    await deployApi(stack);
    assert.deepEqual(await observable(stack.ctx, stack.functionArn), expected, `state after resuming from a stop ${stop.when} mutating call ${stop.at}`);
    h.sent.length = 0;
    await deployApi(stack);
    assert.deepEqual(h.mutating(), [], `converged after a stop ${stop.when} mutating call ${stop.at}`);
  }
});
