// How many of each thing the API's creates make a stack holds, read straight
// from moto (GetApiKeys included: tests may read every key). After any run,
// lost answers or not, each must be exactly one.
import {
  GetApiKeysCommand,
  GetDeploymentsCommand,
  GetResourcesCommand,
  GetRestApisCommand,
  GetStagesCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
} from "@aws-sdk/client-api-gateway";
import { GetPolicyCommand } from "@aws-sdk/client-lambda";
import type { AwsClients } from "../../deploy/aws-clients.ts";
import type { ResourceNames } from "../../deploy/names.ts";
import { STATEMENT_ID } from "../../deploy/resources/lambda-permission.ts";

export interface ApiCounts {
  restApis: number;
  /** The most resources sharing one path (CreateResource twins). */
  resourcesPerPath: number;
  /** Deployments carrying the description of the one the stage serves (CreateDeployment twins). */
  deploymentsOfServedDefinition: number;
  stages: number;
  apiKeys: number;
  usagePlans: number;
  keysPerPlan: number;
  /** Statements with the API Gateway statement id (AddPermission twins). */
  invokeStatements: number;
}

export const ONE_OF_EACH: ApiCounts = { restApis: 1, resourcesPerPath: 1, deploymentsOfServedDefinition: 1, stages: 1, apiKeys: 1, usagePlans: 1, keysPerPlan: 1, invokeStatements: 1 };

export async function apiCounts(clients: AwsClients, names: ResourceNames): Promise<ApiCounts> {
  const { apigw } = clients;
  const apis = ((await apigw.send(new GetRestApisCommand({ limit: 500 }))).items ?? []).filter((a) => a.name === names.restApi);
  let resourcesPerPath = 0;
  let deploymentsOfServedDefinition = 0;
  let stages = 0;
  for (const api of apis) {
    const paths = ((await apigw.send(new GetResourcesCommand({ restApiId: api.id, limit: 500 }))).items ?? []).map((r) => r.path);
    for (const path of new Set(paths)) resourcesPerPath = Math.max(resourcesPerPath, paths.filter((p) => p === path).length);
    const apiStages = (await apigw.send(new GetStagesCommand({ restApiId: api.id }))).item ?? [];
    stages += apiStages.length;
    const deployments = (await apigw.send(new GetDeploymentsCommand({ restApiId: api.id, limit: 500 }))).items ?? [];
    const served = deployments.find((d) => d.id === apiStages[0]?.deploymentId)?.description;
    deploymentsOfServedDefinition = Math.max(deploymentsOfServedDefinition, deployments.filter((d) => d.description === served).length);
  }
  const keys = ((await apigw.send(new GetApiKeysCommand({ limit: 500 }))).items ?? []).filter((k) => k.name === names.apiKey);
  const plans = ((await apigw.send(new GetUsagePlansCommand({ limit: 500 }))).items ?? []).filter((p) => p.name === names.usagePlan);
  let keysPerPlan = 0;
  for (const plan of plans) keysPerPlan = Math.max(keysPerPlan, ((await apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: plan.id, limit: 500 }))).items ?? []).length);
  const policy = await clients.lambda.send(new GetPolicyCommand({ FunctionName: names.functionName })).then((p) => p.Policy ?? "{}", () => "{}");
  const invokeStatements = ((JSON.parse(policy) as { Statement?: Array<{ Sid?: string }> }).Statement ?? []).filter((s) => s.Sid === STATEMENT_ID).length;
  return { restApis: apis.length, resourcesPerPath, deploymentsOfServedDefinition, stages, apiKeys: keys.length, usagePlans: plans.length, keysPerPlan, invokeStatements };
}
