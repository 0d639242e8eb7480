// Drift is repaired for every field the API's modules own: each row changes
// one thing out of band on a deployed stack (its own stack, so rows are
// independent), and the next deploy must send exactly the calls that restore
// it, nothing else (no deployment: the stage still serves the definition),
// after which a run sends nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CreateApiKeyCommand,
  CreateDeploymentCommand,
  CreateUsagePlanCommand,
  DeleteGatewayResponseCommand,
  DeleteMethodResponseCommand,
  DeleteUsagePlanKeyCommand,
  GetResourcesCommand,
  PutGatewayResponseCommand,
  PutIntegrationCommand,
  PutIntegrationResponseCommand,
  PutMethodCommand,
  UpdateApiKeyCommand,
  UpdateStageCommand,
  UpdateUsagePlanCommand,
} from "@aws-sdk/client-api-gateway";
import { AddPermissionCommand, RemovePermissionCommand } from "@aws-sdk/client-lambda";
import type { DeployContext } from "../deploy/context.ts";
import { STATEMENT_ID } from "../deploy/resources/lambda-permission.ts";
import { definitionHash, DEFINITION_PREFIX, gatewayResponseParameters, methodSettingKey } from "../deploy/resources/rest-api.ts";
import { gatewayErrorTemplate } from "../function/http/gateway-errors.ts";
import { ROUTES } from "../function/routes.ts";
import { ACCOUNT, REGION, tagsOf, useApiHarness, withConfig, type Prerequisites } from "./support/api-harness.ts";

const h = useApiHarness();

interface Deployed {
  ctx: DeployContext;
  prereq: Prerequisites;
  restApiId: string;
  functionArn: string;
  usagePlanId: string;
  apiKeyId: string;
  resourceId(path: string): Promise<string>;
}

interface Row {
  drift: string;
  change(d: Deployed): Promise<unknown>;
  /** The mutating calls the next deploy sends, in order. */
  repair: string[];
  /** What the repair must have sent, beyond the call names. */
  inputs?: (d: Deployed) => Record<string, Record<string, unknown>>;
}

const PUBLIC = ROUTES.find((r) => r.access === "public")!;
const patchOf = (path: string, value: string) => ({ patchOperations: [{ op: "replace" as const, path, value }] });

const ROWS: Row[] = [
  {
    drift: "method auth: GET /images/{id} no longer requires the key (PutMethod replaces the method and its integration)",
    change: async (d) => h.aws.apigw.send(new PutMethodCommand({ restApiId: d.restApiId, resourceId: await d.resourceId("/images/{id}"), httpMethod: "GET", authorizationType: "NONE", apiKeyRequired: false })),
    repair: ["DeleteMethod", "PutMethod", "PutIntegration"],
    inputs: () => ({ PutMethod: { apiKeyRequired: true, authorizationType: "NONE" } }),
  },
  {
    drift: "integration: POST /images invokes another function",
    change: async (d) => h.aws.apigw.send(new PutIntegrationCommand({ restApiId: d.restApiId, resourceId: await d.resourceId("/images"), httpMethod: "POST", type: "AWS_PROXY", integrationHttpMethod: "POST", uri: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${d.functionArn}-other/invocations` })),
    repair: ["PutIntegration"],
  },
  {
    drift: "OPTIONS mock: OPTIONS /uploads sent to the function again",
    change: async (d) => h.aws.apigw.send(new PutIntegrationCommand({ restApiId: d.restApiId, resourceId: await d.resourceId("/uploads"), httpMethod: "OPTIONS", type: "AWS_PROXY", integrationHttpMethod: "POST", uri: "arn:aws:apigateway:us-east-1:lambda:path/x" })),
    repair: ["PutIntegration", "PutIntegrationResponse"],
    inputs: () => ({ PutIntegration: { type: "MOCK", requestTemplates: { "application/json": '{"statusCode":204}' } } }),
  },
  {
    drift: "OPTIONS mock: the preflight answers another origin",
    change: async (d) =>
      h.aws.apigw.send(new PutIntegrationResponseCommand({ restApiId: d.restApiId, resourceId: await d.resourceId("/images"), httpMethod: "OPTIONS", statusCode: "204", responseParameters: { "method.response.header.Access-Control-Allow-Origin": "'https://evil.example'" } })),
    repair: ["PutIntegrationResponse"],
  },
  {
    drift: "OPTIONS mock: its method response (the declared CORS headers) deleted",
    change: async (d) => h.aws.apigw.send(new DeleteMethodResponseCommand({ restApiId: d.restApiId, resourceId: await d.resourceId("/images/{id}"), httpMethod: "OPTIONS", statusCode: "204" })),
    repair: ["PutMethodResponse"],
  },
  {
    drift: "OPTIONS auth: the preflight requires an API key (browsers send none)",
    change: async (d) => h.aws.apigw.send(new PutMethodCommand({ restApiId: d.restApiId, resourceId: await d.resourceId("/public"), httpMethod: "OPTIONS", authorizationType: "NONE", apiKeyRequired: true })),
    repair: ["DeleteMethod", "PutMethod", "PutMethodResponse", "PutIntegration", "PutIntegrationResponse"],
  },
  {
    drift: "gateway response: THROTTLED deleted (API Gateway's bare {\"message\"} again)",
    change: (d) => h.aws.apigw.send(new DeleteGatewayResponseCommand({ restApiId: d.restApiId, responseType: "THROTTLED" })),
    repair: ["PutGatewayResponse"],
    inputs: () => ({ PutGatewayResponse: { responseType: "THROTTLED", responseTemplates: { "application/json": gatewayErrorTemplate("THROTTLED") } } }),
  },
  {
    drift: "gateway response: QUOTA_EXCEEDED's body changed",
    change: (d) =>
      h.aws.apigw.send(new PutGatewayResponseCommand({ restApiId: d.restApiId, responseType: "QUOTA_EXCEEDED", responseParameters: gatewayResponseParameters(d.ctx.config), responseTemplates: { "application/json": '{"message":$context.error.messageString}' } })),
    repair: ["PutGatewayResponse"],
  },
  {
    drift: "gateway response: a status code set on DEFAULT_4XX (it would change every 4xx)",
    change: (d) =>
      h.aws.apigw.send(new PutGatewayResponseCommand({ restApiId: d.restApiId, responseType: "DEFAULT_4XX", statusCode: "418", responseParameters: gatewayResponseParameters(d.ctx.config), responseTemplates: { "application/json": gatewayErrorTemplate("DEFAULT_4XX") } })),
    repair: ["PutGatewayResponse"],
  },
  {
    drift: "stage throttle: the stage-wide rate",
    change: (d) => h.aws.apigw.send(new UpdateStageCommand({ restApiId: d.restApiId, stageName: "prod", ...patchOf("/*/*/throttling/rateLimit", "1") })),
    repair: ["UpdateStage"],
    inputs: (d) => ({ UpdateStage: { patchOperations: [{ op: "replace", path: "/*/*/throttling/rateLimit", value: String(d.ctx.config.api.throttle.rateLimit) }] } }),
  },
  {
    drift: "stage throttle: the public route's burst",
    change: (d) => h.aws.apigw.send(new UpdateStageCommand({ restApiId: d.restApiId, stageName: "prod", ...patchOf(`/${methodSettingKey(PUBLIC)}/throttling/burstLimit`, "1") })),
    repair: ["UpdateStage"],
    inputs: (d) => ({ UpdateStage: { patchOperations: [{ op: "replace", path: `/${methodSettingKey(PUBLIC)}/throttling/burstLimit`, value: String(d.ctx.config.api.publicThrottle.burstLimit) }] } }),
  },
  {
    drift: "access logs: format",
    change: (d) => h.aws.apigw.send(new UpdateStageCommand({ restApiId: d.restApiId, stageName: "prod", ...patchOf("/accessLogSettings/format", "$context.requestId") })),
    repair: ["UpdateStage"],
  },
  {
    drift: "access logs: destination",
    change: (d) => h.aws.apigw.send(new UpdateStageCommand({ restApiId: d.restApiId, stageName: "prod", ...patchOf("/accessLogSettings/destinationArn", `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:elsewhere`) })),
    repair: ["UpdateStage"],
    inputs: (d) => ({ UpdateStage: { patchOperations: [{ op: "replace", path: "/accessLogSettings/destinationArn", value: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${d.ctx.names.accessLogGroup}` }] } }),
  },
  { drift: "usage plan: throttle rate", change: (d) => h.aws.apigw.send(new UpdateUsagePlanCommand({ usagePlanId: d.usagePlanId, ...patchOf("/throttle/rateLimit", "1") })), repair: ["UpdateUsagePlan"] },
  {
    drift: "usage plan: quota limit",
    change: (d) => h.aws.apigw.send(new UpdateUsagePlanCommand({ usagePlanId: d.usagePlanId, ...patchOf("/quota/limit", "1") })),
    repair: ["UpdateUsagePlan"],
    inputs: (d) => ({ UpdateUsagePlan: { usagePlanId: d.usagePlanId, patchOperations: [{ op: "replace", path: "/quota/limit", value: String(d.ctx.config.api.quota.limit) }] } }),
  },
  {
    drift: "usage plan: quota period",
    change: (d) => h.aws.apigw.send(new UpdateUsagePlanCommand({ usagePlanId: d.usagePlanId, ...patchOf("/quota/period", "MONTH") })),
    repair: ["UpdateUsagePlan"],
    inputs: (d) => ({ UpdateUsagePlan: { usagePlanId: d.usagePlanId, patchOperations: [{ op: "replace", path: "/quota/period", value: d.ctx.config.api.quota.period }] } }),
  },
  {
    drift: "usage plan: its API stage detached (the key would be refused)",
    change: (d) => h.aws.apigw.send(new UpdateUsagePlanCommand({ usagePlanId: d.usagePlanId, patchOperations: [{ op: "remove", path: "/apiStages", value: `${d.restApiId}:prod` }] })),
    repair: ["UpdateUsagePlan"],
    inputs: (d) => ({ UpdateUsagePlan: { usagePlanId: d.usagePlanId, patchOperations: [{ op: "add", path: "/apiStages", value: `${d.restApiId}:prod` }] } }),
  },
  {
    drift: "API key: disabled",
    change: (d) => h.aws.apigw.send(new UpdateApiKeyCommand({ apiKey: d.apiKeyId, ...patchOf("/enabled", "false") })),
    repair: ["UpdateApiKey"],
    inputs: (d) => ({ UpdateApiKey: { apiKey: d.apiKeyId, patchOperations: [{ op: "replace", path: "/enabled", value: "true" }] } }),
  },
  { drift: "API key: unbound from the plan", change: (d) => h.aws.apigw.send(new DeleteUsagePlanKeyCommand({ usagePlanId: d.usagePlanId, keyId: d.apiKeyId })), repair: ["CreateUsagePlanKey"] },
  {
    drift: "API key: a second, unbound key of the stack's name and tag (a lost CreateApiKey answer)",
    change: (d) => h.aws.apigw.send(new CreateApiKeyCommand({ name: d.ctx.names.apiKey, enabled: true, tags: d.ctx.tags })),
    repair: ["DeleteApiKey"],
  },
  {
    drift: "usage plan: a second plan of the stack's name and tag, no key (a lost CreateUsagePlan answer)",
    change: (d) => h.aws.apigw.send(new CreateUsagePlanCommand({ name: d.ctx.names.usagePlan, apiStages: [{ apiId: d.restApiId, stage: "prod" }], tags: d.ctx.tags })),
    repair: ["UpdateUsagePlan", "DeleteUsagePlan"],
  },
  {
    drift: "deployment: a second deployment of the served definition (a lost CreateDeployment answer)",
    change: (d) => h.aws.apigw.send(new CreateDeploymentCommand({ restApiId: d.restApiId, description: `${DEFINITION_PREFIX}${definitionHash(d.ctx, d.functionArn)}` })),
    repair: ["DeleteDeployment"],
  },
  {
    drift: "invoke permission: another API's SourceArn",
    change: async (d) => {
      await h.aws.lambda.send(new RemovePermissionCommand({ FunctionName: d.ctx.names.functionName, StatementId: STATEMENT_ID }));
      return h.aws.lambda.send(new AddPermissionCommand({ FunctionName: d.ctx.names.functionName, StatementId: STATEMENT_ID, Action: "lambda:InvokeFunction", Principal: "apigateway.amazonaws.com", SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:other/*/*/*` }));
    },
    repair: ["RemovePermission", "AddPermission"],
    inputs: (d) => ({ AddPermission: { SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${d.restApiId}/*/*/*` } }),
  },
];

let stacks = 0;
async function deployed(): Promise<Deployed> {
  const ctx = h.context({ config: withConfig((c) => ({ ...c, stackName: `imgapi-d${++stacks}` })) });
  const prereq = await h.prerequisites(ctx.names);
  const { fn, api, plan } = await h.deployApi(ctx, prereq);
  const resourceId = async (path: string) => ((await h.aws.apigw.send(new GetResourcesCommand({ restApiId: api.restApiId, limit: 500 }))).items ?? []).find((r) => r.path === path)!.id!;
  return { ctx, prereq, restApiId: api.restApiId, functionArn: fn.functionArn, usagePlanId: plan.usagePlanId, apiKeyId: plan.apiKeyId, resourceId };
}

for (const row of ROWS) {
  test(`drift repaired: ${row.drift}`, async () => {
    const d = await deployed();
    assert.deepEqual(d.ctx.tags, tagsOf(d.ctx.names.stack));
    await row.change(d);
    h.sent.length = 0;
    const repaired = await h.deployApi(d.ctx, d.prereq);
    assert.deepEqual(h.mutating(), row.repair, "exactly the calls that restore it");
    assert.ok(repaired.reports.some((r) => r.action === "updated"), "reported as updated");
    for (const [command, wanted] of Object.entries(row.inputs?.(d) ?? {})) {
      const sent = h.inputsOf(command);
      assert.ok(sent.some((input) => Object.entries(wanted).every(([k, v]) => JSON.stringify(input[k]) === JSON.stringify(v))), `${command} sent ${JSON.stringify(wanted)}; sent ${JSON.stringify(sent)}`);
    }
    h.sent.length = 0;
    await h.deployApi(d.ctx, d.prereq);
    assert.deepEqual(h.mutating(), [], "then nothing");
  });
}
