// "Already exists" answers moto skips: it makes a second resource of the same
// path, overwrites an existing method or method response, adds a usage plan
// key twice and appends a second statement with the same id, where AWS
// refuses each with a conflict. These are what a create retried after a lost
// answer meets, so the lost-answer tests install them: a deploy that adopts
// on these answers adopts on AWS's. Same shape as the rules in aws-rules/.
import { GetMethodCommand, GetMethodResponseCommand, GetResourcesCommand, GetUsagePlanKeysCommand } from "@aws-sdk/client-api-gateway";
import { GetPolicyCommand } from "@aws-sdk/client-lambda";
import { restJsonError } from "./aws-errors.ts";
import type { MatchSpec, ProxiedRequest } from "./fault-proxy.ts";
import { jsonBody, lambdaCall, lambdaOps, type AwsRule, type RuleContext } from "./aws-rules/kit.ts";

/** Whether the upstream has it; any error reading it (not found included) counts as no. */
const exists = (read: () => Promise<unknown>) => read().then(() => true, () => false);

const apigw = (method: string, path: RegExp) => ({ service: "apigateway", method, path });

function install(ctx: RuleContext, name: string, match: MatchSpec, conflict: (req: ProxiedRequest) => Promise<ReturnType<typeof restJsonError> | undefined>) {
  ctx.proxy.inject({ name, match, fault: conflict, times: Infinity });
}

/**
 * CreateResource under a parent that already has a child of that path part:
 * ConflictException "Another resource with the same parent already has this
 * name: PART" (the text CloudFormation and the Serverless Framework report).
 * https://docs.aws.amazon.com/apigateway/latest/api/API_CreateResource.html
 */
export function createResourceConflict(): AwsRule {
  const name = "apigateway-create-resource-conflict";
  return {
    name,
    source: "https://docs.aws.amazon.com/apigateway/latest/api/API_CreateResource.html",
    install(ctx) {
      install(ctx, name, apigw("POST", /^\/restapis\/[^/]+\/resources\/[^/]+$/), async (req) => {
        const [, , restApiId, , parentId] = req.path.split("/");
        const pathPart = String(jsonBody(req).pathPart ?? "");
        const siblings = (await ctx.upstream.apigw.send(new GetResourcesCommand({ restApiId, limit: 500 }))).items ?? [];
        return siblings.some((r) => r.parentId === parentId && r.pathPart === pathPart) ? restJsonError(409, "ConflictException", `Another resource with the same parent already has this name: ${pathPart}`) : undefined;
      });
    },
  };
}

/**
 * PutMethod over an existing method: ConflictException "Method already exists
 * for this resource" (aws/aws-cli#3992). moto replaces the method instead.
 * https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethod.html
 */
export function putMethodConflict(): AwsRule {
  const name = "apigateway-put-method-conflict";
  return {
    name,
    source: "https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethod.html",
    install(ctx) {
      install(ctx, name, apigw("PUT", /^\/restapis\/[^/]+\/resources\/[^/]+\/methods\/[^/]+$/), async (req) => {
        const [, , restApiId, , resourceId, , httpMethod] = req.path.split("/");
        const found = await exists(() => ctx.upstream.apigw.send(new GetMethodCommand({ restApiId, resourceId, httpMethod })));
        return found ? restJsonError(409, "ConflictException", "Method already exists for this resource") : undefined;
      });
    },
  };
}

/**
 * PutMethodResponse over an existing one: ConflictException "Response already
 * exists for this resource" (as the AWS CLI reports it).
 * https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethodResponse.html
 */
export function putMethodResponseConflict(): AwsRule {
  const name = "apigateway-put-method-response-conflict";
  return {
    name,
    source: "https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethodResponse.html",
    install(ctx) {
      install(ctx, name, apigw("PUT", /^\/restapis\/[^/]+\/resources\/[^/]+\/methods\/[^/]+\/responses\/[^/]+$/), async (req) => {
        const [, , restApiId, , resourceId, , httpMethod, , statusCode] = req.path.split("/");
        const found = await exists(() => ctx.upstream.apigw.send(new GetMethodResponseCommand({ restApiId, resourceId, httpMethod, statusCode })));
        return found ? restJsonError(409, "ConflictException", "Response already exists for this resource") : undefined;
      });
    },
  };
}

/**
 * CreateUsagePlanKey for a key already in the plan: ConflictException. AWS's
 * exact text for this case is not documented; the API reference's description
 * of the error stands in for it (deploy reads only the code).
 * https://docs.aws.amazon.com/apigateway/latest/api/API_CreateUsagePlanKey.html
 */
export function usagePlanKeyConflict(): AwsRule {
  const name = "apigateway-usage-plan-key-conflict";
  return {
    name,
    source: "https://docs.aws.amazon.com/apigateway/latest/api/API_CreateUsagePlanKey.html",
    install(ctx) {
      install(ctx, name, apigw("POST", /^\/usageplans\/[^/]+\/keys$/), async (req) => {
        const usagePlanId = req.path.split("/")[2];
        const keyId = String(jsonBody(req).keyId ?? "");
        const bound = (await ctx.upstream.apigw.send(new GetUsagePlanKeysCommand({ usagePlanId, limit: 500 }))).items ?? [];
        return bound.some((k) => k.id === keyId) ? restJsonError(409, "ConflictException", "The request configuration has conflicts. For details, see the accompanying error message.") : undefined;
      });
    },
  };
}

/**
 * AddPermission with a statement id the policy has: ResourceConflictException
 * "The statement id (SID) provided already exists. Please provide a new
 * statement id, or remove the existing statement." moto appends a second one.
 * https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html
 */
export function addPermissionConflict(): AwsRule {
  const name = "lambda-add-permission-conflict";
  return {
    name,
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html",
    install(ctx) {
      install(ctx, name, lambdaOps("AddPermission"), async (req) => {
        const sid = String(jsonBody(req).StatementId ?? "");
        const policy = await ctx.upstream.lambda.send(new GetPolicyCommand({ FunctionName: lambdaCall(req)!.fn })).then((p) => p.Policy ?? "{}", () => "{}");
        const statements = (JSON.parse(policy) as { Statement?: Array<{ Sid?: string }> }).Statement ?? [];
        return statements.some((s) => s.Sid === sid)
          ? restJsonError(409, "ResourceConflictException", `The statement id (${sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`)
          : undefined;
      });
    },
  };
}

export const conflictRules = (): AwsRule[] => [createResourceConflict(), putMethodConflict(), putMethodResponseConflict(), usagePlanKeyConflict(), addPermissionConflict()];
