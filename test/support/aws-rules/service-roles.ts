// A service using a role or a permission made moments ago: API Gateway's
// account-wide CloudWatch Logs role and S3 invoking a function. AWS checks
// both when they are configured, and refuses until IAM (or Lambda's resource
// policy) has propagated; moto checks neither.
import { GetAccountCommand } from "@aws-sdk/client-api-gateway";
import { GetRoleCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from "@aws-sdk/client-iam";
import { GetPolicyCommand } from "@aws-sdk/client-lambda";
import { restJsonError, s3Error } from "../aws-errors.ts";
import type { ProxiedRequest } from "../fault-proxy.ts";
import { Countdown, functionNameOf, iamCall, jsonBody, lambdaCall, ok, roleNameOf, type AwsRule, type RuleContext } from "./kit.ts";

/** The current text; before 2020 it read "... set to API Gateway". Clients match the common start. */
export const ROLE_NOT_PERMITTED = "The role ARN does not have required permissions configured. Please grant trust permission for API Gateway and add the required role policy.";
export const CANNOT_WRITE_LOGS = "API Gateway could not successfully write to CloudWatch Logs using the ARN specified";
export const ACCOUNT_ROLE_NOT_SET = "CloudWatch Logs role ARN must be set in account settings to enable logging";
export const DESTINATION_NOT_VALIDATED = "Unable to validate the following destination configurations";

type PatchOp = { op?: string; path?: string; value?: string };
const patchOps = (req: ProxiedRequest) => (Array.isArray(jsonBody(req).patchOperations) ? (jsonBody(req).patchOperations as PatchOp[]) : []);

/** Whether a role API Gateway could use for logs exists, trusts apigateway.amazonaws.com and has a policy. */
async function usableLogsRole({ upstream }: RuleContext, roleName: string): Promise<boolean> {
  try {
    const role = (await upstream.iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
    if (!decodeURIComponent(role?.AssumeRolePolicyDocument ?? "").includes("apigateway.amazonaws.com")) return false;
    const attached = (await upstream.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies ?? [];
    const inline = (await upstream.iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
    return attached.length + inline.length > 0;
  } catch {
    return false;
  }
}

/**
 * UpdateAccount setting cloudwatchRoleArn to a role created, or given its
 * policy, moments ago: first BadRequestException "The role ARN does not have
 * required permissions configured...", then "API Gateway could not
 * successfully write to CloudWatch Logs using the ARN specified", then success
 * (terraform-provider-aws retries both for its IAM propagation timeout). A
 * role that does not exist, does not trust API Gateway or has no policy is
 * always refused with the first answer.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions
 */
export function apiGatewayAccountRolePropagation({ notPermitted = 1, cannotWrite = 1 } = {}): AwsRule {
  const name = "apigateway-account-role-propagation";
  return {
    name,
    source: "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html#set-up-access-logging-permissions",
    install(ctx) {
      const first = new Countdown();
      const second = new Countdown();
      ctx.proxy.observe({
        name,
        match: { service: "iam", operation: /^(CreateRole|AttachRolePolicy|PutRolePolicy|UpdateAssumeRolePolicy)$/ },
        seen: (req, answer) => {
          const role = iamCall(req).params.get("RoleName");
          if (!ok(answer.status) || !role) return;
          first.arm(role, notPermitted);
          second.arm(role, cannotWrite);
        },
      });
      ctx.proxy.inject({
        name,
        match: { service: "apigateway", method: "PATCH", path: /^\/account\/?$/ },
        fault: async (req) => {
          const arn = patchOps(req).find((o) => o.path === "/cloudwatchRoleArn")?.value;
          const role = roleNameOf(arn);
          if (!role) return undefined;
          if (first.take(role) || !(await usableLogsRole(ctx, role))) return restJsonError(400, "BadRequestException", ROLE_NOT_PERMITTED);
          if (second.take(role)) return restJsonError(400, "BadRequestException", CANNOT_WRITE_LOGS);
          return undefined;
        },
        times: Infinity,
      });
    },
  };
}

/** Patch operations that turn on access logs or execution logs of a stage. */
const enablesLogging = (o: PatchOp) =>
  (o.path === "/accessLogSettings/destinationArn" && !!o.value) ||
  (/\/logging\/loglevel$/.test(o.path ?? "") && String(o.value).toUpperCase() !== "OFF") ||
  (/\/logging\/dataTrace$/.test(o.path ?? "") && o.value === "true");

/**
 * A stage's access logs (or execution logs) need the account's CloudWatch
 * Logs role first: UpdateStage enabling them while the account has none gets
 * BadRequestException "CloudWatch Logs role ARN must be set in account
 * settings to enable logging".
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
 */
export function stageLoggingNeedsAccountRole(): AwsRule {
  const name = "apigateway-stage-logging-needs-account-role";
  return {
    name,
    source: "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html",
    install({ proxy, upstream }) {
      proxy.inject({
        name,
        match: { service: "apigateway", method: "PATCH", path: /^\/restapis\/[^/]+\/stages\/[^/]+\/?$/ },
        fault: async (req) => {
          if (!patchOps(req).some(enablesLogging)) return undefined;
          const account = await upstream.apigw.send(new GetAccountCommand({}));
          return account.cloudwatchRoleArn ? undefined : restJsonError(400, "BadRequestException", ACCOUNT_ROLE_NOT_SET);
        },
        times: Infinity,
      });
    },
  };
}

/** Whether the function's resource policy lets s3.amazonaws.com invoke it. */
async function s3MayInvoke({ upstream }: RuleContext, fn: string): Promise<boolean> {
  try {
    const policy = JSON.parse((await upstream.lambda.send(new GetPolicyCommand({ FunctionName: fn }))).Policy ?? "{}") as { Statement?: Array<{ Effect?: string; Principal?: unknown }> };
    return (policy.Statement ?? []).some((s) => s.Effect === "Allow" && JSON.stringify(s.Principal ?? "").includes("s3.amazonaws.com"));
  } catch {
    return false;
  }
}

/**
 * PutBucketNotificationConfiguration with a Lambda destination: S3 checks it
 * may invoke the function. Without a permission for s3.amazonaws.com, and for
 * the first `refusals` calls after that permission was added, the answer is
 * InvalidArgument "Unable to validate the following destination configurations".
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
 */
export function s3NotificationPermissionPropagation({ refusals = 2 } = {}): AwsRule {
  const name = "s3-notification-permission-propagation";
  return {
    name,
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html",
    install(ctx) {
      const fresh = new Countdown();
      ctx.proxy.observe({
        name,
        match: { service: "lambda", method: "POST" },
        seen: (req, answer) => {
          const call = lambdaCall(req);
          if (call?.op === "AddPermission" && ok(answer.status) && jsonBody(req).Principal === "s3.amazonaws.com") fresh.arm(call.fn, refusals);
        },
      });
      ctx.proxy.inject({
        name,
        match: { service: "s3", method: "PUT", where: (r) => r.query.has("notification") },
        fault: async (req) => {
          const body = req.body.toString("utf8");
          const functions = [...new Set([...body.matchAll(/<(?:CloudFunction|LambdaFunctionArn)>([^<]+)</g)].map((m) => functionNameOf(m[1]!)))];
          const refused = functions.filter((fn) => fresh.armed(fn));
          for (const fn of refused) fresh.take(fn);
          const unpermitted = (await Promise.all(functions.map((fn) => s3MayInvoke(ctx, fn)))).includes(false);
          return refused.length > 0 || unpermitted ? s3Error(400, "InvalidArgument", DESTINATION_NOT_VALIDATED) : undefined;
        },
        times: Infinity,
      });
    },
  };
}
