// auth "jwt" on moto: every private method is guarded by the stack's TOKEN
// authorizer (the function itself, through its authorizer entry) and none
// asks for an API key; the public route is unchanged; the function may be
// invoked as the authorizer, from the API's authorizers only; the authorizer's
// settings reach the function's environment; a second deploy changes
// nothing; switching to apiKey and back changes only what it must; teardown
// leaves nothing of it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import { GetApiKeysCommand, GetAuthorizersCommand, GetDeploymentsCommand, GetResourcesCommand, GetRestApisCommand, GetStageCommand, GetUsagePlansCommand } from "@aws-sdk/client-api-gateway";
import { GetFunctionCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import { parseConfig } from "../config/load.ts";
import type { Config, ConfigInput } from "../config/schema.ts";
import { createClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import type { StepReport } from "../deploy/context.ts";
import { resourceNames } from "../deploy/names.ts";
import { AUTHORIZER_STATEMENT_ID } from "../deploy/resources/lambda-permission.ts";
import { definitionHash, DEFINITION_PREFIX } from "../deploy/resources/rest-api.ts";
import { deploy } from "../deploy/run.ts";
import { AUTHORIZER_CACHE_SECONDS, BEARER_PATTERN } from "../function/auth/bearer.ts";
import { ROUTES } from "../function/routes.ts";
import { teardown } from "../teardown/run.ts";
import { virtualClock } from "./support/clock.ts";
import { everyK, interruptionPoints } from "./support/interruptions.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")) as ConfigInput;
const configOf = (patch: Partial<ConfigInput> = {}): Config => parseConfig({ ...example, ...patch });
const JWT = { issuer: "https://issuer.example.com/", audience: "imgapi", scopes: { read: "images:read", write: "images:write" } };
const jwtConfig = configOf({ auth: "jwt", jwt: JWT });
const apiKeyConfig = configOf();
const names = resourceNames(jwtConfig.stackName, ACCOUNT, MOTO_REGION);
const PRIVATE = ROUTES.filter((r) => r.access === "private");
const PUBLIC = ROUTES.filter((r) => r.access === "public");

const ZIP = fakeZip();

let moto: Moto;
let clients: AwsClients;
let reader: AwsClients;
let sent: string[] = [];
let inputs: { name: string; input: unknown }[] = [];
/** When set, the mutating call after this many throws, as if the run were killed there. */
let failAfter: number | undefined;

before(async () => {
  moto = await startMoto();
  const common = { region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 };
  clients = createClients({ ...common, observer: (service, command, input) => {
    const name = `${service}:${command.replace(/Command$/, "")}`;
    if (failAfter !== undefined && !isReadOnly(command.replace(/Command$/, "")) && sent.filter((n) => !isReadOnly(n.split(":")[1]!)).length >= failAfter) {
      throw new Error(`injected failure before mutating call ${failAfter + 1} (${name})`);
    }
    sent.push(name);
    inputs.push({ name, input });
  } });
  reader = createClients(common);
});
after(async () => {
  await moto?.stop();
});
beforeEach(() => moto.reset());

async function run(config: Config) {
  sent = [];
  inputs = [];
  const steps: StepReport[] = [];
  const result = await deploy({ config, clients, zip: ZIP, clock: virtualClock(), onStep: (s) => steps.push(s), progress: () => {} });
  return { ...result, steps, mutations: sent.filter((n) => !isReadOnly(n.split(":")[1]!)) };
}

async function api() {
  const apis = ((await reader.apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi);
  assert.equal(apis.length, 1);
  const restApiId = apis[0]!.id!;
  const resources = (await reader.apigw.send(new GetResourcesCommand({ restApiId, embed: ["methods"] }))).items ?? [];
  const methods = new Map(resources.flatMap((r) => Object.entries(r.resourceMethods ?? {}).map(([m, v]) => [`${m} ${r.path}`, v] as const)));
  const authorizers = (await reader.apigw.send(new GetAuthorizersCommand({ restApiId }))).items ?? [];
  return { restApiId, methods, authorizers };
}

async function authorizerStatement() {
  const policy = await reader.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName })).catch(() => undefined);
  const statements = (JSON.parse(policy?.Policy ?? "{}") as { Statement?: Array<{ Sid: string; Condition?: { ArnLike?: Record<string, string> } }> }).Statement ?? [];
  return statements.find((s) => s.Sid === AUTHORIZER_STATEMENT_ID);
}

test("jwt: every private method uses the stack's TOKEN authorizer and no API key; the public route is unchanged", async () => {
  const first = await run(jwtConfig);
  const { restApiId, methods, authorizers } = await api();
  assert.equal(authorizers.length, 1);
  const authorizer = authorizers[0]!;
  const functionArn = (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration!.FunctionArn!;
  assert.deepEqual(
    [authorizer.name, authorizer.type, authorizer.identitySource, authorizer.authorizerResultTtlInSeconds, authorizer.authorizerUri],
    [names.authorizer, "TOKEN", "method.request.header.Authorization", AUTHORIZER_CACHE_SECONDS, `arn:aws:apigateway:${MOTO_REGION}:lambda:path/2015-03-31/functions/${functionArn}/invocations`],
  );
  // moto keeps no identityValidationExpression: what was sent is checked instead.
  const created = inputs.filter((c) => c.name === "apigw:CreateAuthorizer").map((c) => (c.input as { identityValidationExpression?: string }).identityValidationExpression);
  assert.deepEqual(created, [BEARER_PATTERN]);
  for (const r of PRIVATE) {
    const m = methods.get(`${r.method} ${r.resource}`);
    assert.deepEqual([m?.authorizationType, m?.authorizerId, m?.apiKeyRequired ?? false], ["CUSTOM", authorizer.id, false], `${r.method} ${r.resource}`);
  }
  for (const r of PUBLIC) assert.deepEqual([methods.get(`${r.method} ${r.resource}`)?.authorizationType, methods.get(`${r.method} ${r.resource}`)?.apiKeyRequired ?? false], ["NONE", false]);
  for (const [key, m] of methods) if (key.startsWith("OPTIONS ")) assert.equal(m.authorizationType, "NONE", key);

  // No key and no plan: nothing that looks like a credential.
  assert.deepEqual(((await reader.apigw.send(new GetApiKeysCommand({}))).items ?? []).filter((k) => k.name === names.apiKey), []);
  assert.deepEqual(((await reader.apigw.send(new GetUsagePlansCommand({}))).items ?? []).filter((p) => p.name === names.usagePlan), []);
  assert.equal(first.outputs.apiKeyId, undefined);
  assert.equal(first.outputs.clientPolicy, undefined, "no IAM client policy: callers bring tokens");
  assert.deepEqual(first.outputs.jwt, { issuer: JWT.issuer, audience: JWT.audience, authorizer: "TOKEN" });

  // API Gateway may invoke the function as this API's authorizer, and only from its authorizers.
  assert.deepEqual((await authorizerStatement())?.Condition?.ArnLike, { "AWS:SourceArn": `arn:aws:execute-api:${MOTO_REGION}:${ACCOUNT}:${restApiId}/authorizers/*` });
  const env = (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration?.Environment?.Variables ?? {};
  assert.deepEqual([env.JWT_ISSUER, env.JWT_AUDIENCE, env.JWT_READ_SCOPE, env.JWT_WRITE_SCOPE], [JWT.issuer, JWT.audience, JWT.scopes.read, JWT.scopes.write]);

  const again = await run(jwtConfig);
  assert.deepEqual(again.mutations, []);
});

test("switching apiKey -> jwt -> apiKey changes the guards, the authorizer, its permission and the key and plan, and nothing else", async () => {
  await run(apiKeyConfig);
  const toJwt = await run(jwtConfig);
  assert.deepEqual(
    [...new Set(toJwt.mutations)].sort(),
    [
      "apigw:CreateAuthorizer", "apigw:CreateDeployment", "apigw:DeleteApiKey", "apigw:DeleteMethod", "apigw:DeleteUsagePlan", "apigw:PutIntegration", "apigw:PutMethod",
      "apigw:UpdateStage", "apigw:UpdateUsagePlan", "lambda:AddPermission", "lambda:UpdateFunctionConfiguration",
    ].sort(),
    "the function's environment gains the authorizer's settings; nothing else outside the API, its key and plan, and the permission changes",
  );
  assert.equal((await api()).authorizers.length, 1);

  const back = await run(apiKeyConfig);
  const { methods, authorizers } = await api();
  assert.deepEqual(authorizers, [], "the authorizer is deleted once no method uses it");
  for (const r of PRIVATE) assert.deepEqual([methods.get(`${r.method} ${r.resource}`)?.authorizationType, methods.get(`${r.method} ${r.resource}`)?.apiKeyRequired], ["NONE", true]);
  assert.equal(await authorizerStatement(), undefined, "the authorizer permission is removed");
  assert.ok(back.mutations.includes("apigw:DeleteAuthorizer"));
  assert.deepEqual((await run(apiKeyConfig)).mutations, []);
});

test("teardown of a jwt stack removes the API with its authorizer and the authorizer permission; a second teardown changes nothing", async () => {
  await run(jwtConfig);
  const down = await teardown({ config: jwtConfig, clients });
  assert.equal(down.resources.find((r) => r.resource === "authorizer permission")?.action, "deleted");
  assert.deepEqual(((await reader.apigw.send(new GetRestApisCommand({}))).items ?? []).filter((a) => a.name === names.restApi), []);
  sent = [];
  const twice = await teardown({ config: jwtConfig, clients });
  assert.deepEqual(sent.filter((n) => !isReadOnly(n.split(":")[1]!)), []);
  assert.ok(twice.resources.every((r) => r.action === "absent" || r.action === "kept"), JSON.stringify(twice.resources.map((r) => [r.resource, r.action])));
});

test("a switch to jwt interrupted before each kind of its calls is finished by the next run, with one authorizer that the methods and the served deployment name", async (t) => {
  await run(apiKeyConfig);
  const transition = (await run(jwtConfig)).mutations;
  // The kinds of call this mode adds or changes; the switch's others (the usage plan, key and
  // method deletions) are the iam switch's, interrupted in deploy-features.test.ts.
  const JWT_KINDS = ["apigw:CreateAuthorizer", "apigw:PutMethod", "apigw:CreateDeployment", "apigw:UpdateStage", "lambda:AddPermission", "lambda:UpdateFunctionConfiguration"];
  const points = interruptionPoints(transition).filter((k) => everyK || JWT_KINDS.includes(transition[k]!));
  t.diagnostic(`${transition.length} mutating calls in the switch, interrupted before ${points.length} of them: ${transition.join(", ")}`);
  assert.ok(transition.includes("apigw:CreateAuthorizer") && transition.includes("lambda:AddPermission"));
  for (const k of points) {
    await run(apiKeyConfig);
    failAfter = k;
    try {
      await assert.rejects(run(jwtConfig), /injected failure/, `k=${k}`);
    } finally {
      failAfter = undefined;
    }
    await run(jwtConfig);
    const { restApiId, methods, authorizers } = await api();
    assert.equal(authorizers.length, 1, `k=${k}: one authorizer`);
    for (const r of PRIVATE) assert.equal(methods.get(`${r.method} ${r.resource}`)?.authorizerId, authorizers[0]!.id, `k=${k}: ${r.method} ${r.resource}`);
    const functionArn = (await reader.lambda.send(new GetFunctionCommand({ FunctionName: names.functionName }))).Configuration!.FunctionArn!;
    const stage = await reader.apigw.send(new GetStageCommand({ restApiId, stageName: names.stage }));
    const served = ((await reader.apigw.send(new GetDeploymentsCommand({ restApiId }))).items ?? []).find((d) => d.id === stage.deploymentId)?.description;
    assert.equal(served, `${DEFINITION_PREFIX}${definitionHash({ partition: "aws", region: MOTO_REGION, config: jwtConfig }, functionArn, authorizers[0]!.id)}`, `k=${k}: the stage serves the jwt definition`);
    assert.ok(await authorizerStatement(), `k=${k}: the authorizer permission`);
    assert.deepEqual((await run(jwtConfig)).mutations, [], `k=${k}: converged`);
  }
});

test("a Cognito user pool issuer gets API Gateway's own user pool authorizer, with each route's scope on its method and no invoke permission", async () => {
  const pool = `${MOTO_REGION}_AbCdEf123`;
  const cognito = configOf({ auth: "jwt", jwt: { ...JWT, issuer: `https://cognito-idp.${MOTO_REGION}.amazonaws.com/${pool}` } });
  const deployed = await run(cognito);
  assert.equal(deployed.outputs.jwt?.authorizer, "COGNITO_USER_POOLS");
  const { methods, authorizers } = await api();
  assert.equal(authorizers.length, 1);
  assert.deepEqual(
    [authorizers[0]!.type, authorizers[0]!.providerARNs, authorizers[0]!.identitySource, authorizers[0]!.authorizerUri],
    ["COGNITO_USER_POOLS", [`arn:aws:cognito-idp:${MOTO_REGION}:${ACCOUNT}:userpool/${pool}`], "method.request.header.Authorization", undefined],
  );
  for (const r of PRIVATE) {
    const m = methods.get(`${r.method} ${r.resource}`);
    assert.deepEqual(
      [m?.authorizationType, m?.authorizerId, m?.apiKeyRequired ?? false, m?.authorizationScopes],
      ["COGNITO_USER_POOLS", authorizers[0]!.id, false, [JWT.scopes[r.scope!]]],
      `${r.method} ${r.resource}`,
    );
  }
  assert.equal(await authorizerStatement(), undefined, "nothing invokes the function for a user pool authorizer");
  assert.deepEqual((await run(cognito)).mutations, []);

  // Another issuer: the TOKEN authorizer replaces the pool's, and the methods follow it.
  await run(jwtConfig);
  const after = await api();
  assert.deepEqual(after.authorizers.map((a) => a.type), ["TOKEN"]);
  for (const r of PRIVATE) assert.deepEqual([after.methods.get(`${r.method} ${r.resource}`)?.authorizationType, after.methods.get(`${r.method} ${r.resource}`)?.authorizerId], ["CUSTOM", after.authorizers[0]!.id]);
  assert.ok(await authorizerStatement());
});
