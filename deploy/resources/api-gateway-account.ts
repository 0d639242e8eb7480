// API Gateway writes access logs through one role per account and region (the
// account's cloudwatchRoleArn). It is shared by every REST API there: an
// existing one is never replaced; only when none is set is a role made for it,
// and teardown leaves it in place.
import { GetAccountCommand, UpdateAccountCommand } from "@aws-sdk/client-api-gateway";
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from "@aws-sdk/client-iam";
import { arn } from "../arns.ts";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { errorName, isNotFound, step } from "../errors.ts";

const RESOURCE = "API Gateway logs role";
/** A fresh role can take several seconds before API Gateway may use it. */
export const ACCOUNT_ROLE_PROPAGATION_TIMEOUT_MS = 60_000;

const TRUST_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

export const pushToCloudWatchPolicyArn = (partition: string) => `arn:${partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`;

async function getAccountRoleArn(ctx: DeployContext): Promise<string | undefined> {
  const account = await step("reading", "API Gateway account settings", ctx.region, "apigateway:GET", () => ctx.clients.apigw.send(new GetAccountCommand({})));
  return account.cloudwatchRoleArn || undefined;
}

async function findRole(ctx: DeployContext): Promise<Role | undefined> {
  const name = ctx.names.apiGatewayLogsRole;
  return step("reading", RESOURCE, name, "iam:GetRole", async () => {
    try {
      return (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
    } catch (e) {
      if (isNotFound(e, "NoSuchEntity", "NoSuchEntityException")) return undefined;
      throw e;
    }
  });
}

function trustsApiGateway(document: string | undefined): boolean {
  if (document === undefined) return false;
  const policy = JSON.parse(decodeURIComponent(document)) as { Statement?: { Effect?: string; Principal?: { Service?: string | string[] }; Action?: string | string[] }[] };
  return (policy.Statement ?? []).some(
    (s) => s.Effect === "Allow" && [s.Principal?.Service ?? []].flat().includes("apigateway.amazonaws.com") && [s.Action ?? []].flat().includes("sts:AssumeRole"),
  );
}

export async function ensureApiGatewayAccount(ctx: DeployContext): Promise<StepReport & { cloudwatchRoleArn: string }> {
  const name = ctx.names.apiGatewayLogsRole;
  const current = await getAccountRoleArn(ctx);
  if (current !== undefined) {
    return { resource: RESOURCE, name, action: "unchanged", detail: `the account already uses ${current}; left as it is`, cloudwatchRoleArn: current };
  }

  const changes: string[] = [];
  const policyArn = pushToCloudWatchPolicyArn(ctx.partition);
  const role = await findRole(ctx);
  if (role === undefined) {
    changes.push("role created");
    await mutate(ctx, () =>
      step("creating", RESOURCE, name, "iam:CreateRole", () =>
        ctx.clients.iam.send(
          new CreateRoleCommand({
            RoleName: name,
            AssumeRolePolicyDocument: JSON.stringify(TRUST_POLICY),
            Description: "API Gateway writes access logs to CloudWatch Logs with this role (account-wide; made by imgapi deploy)",
            Tags: Object.entries(ctx.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      ),
    );
  } else if (!trustsApiGateway(role.AssumeRolePolicyDocument)) {
    changes.push("trust policy");
    await mutate(ctx, () =>
      step("updating trust policy of", RESOURCE, name, "iam:UpdateAssumeRolePolicy", () =>
        ctx.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(TRUST_POLICY) })),
      ),
    );
  }
  const attached =
    role === undefined
      ? []
      : await step("reading policies of", RESOURCE, name, "iam:ListAttachedRolePolicies", async () =>
          ((await ctx.clients.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name, MaxItems: 1000 }))).AttachedPolicies ?? []).map((p) => p.PolicyArn),
        );
  if (!attached.includes(policyArn)) {
    changes.push("policy attached");
    await mutate(ctx, () =>
      step("attaching AmazonAPIGatewayPushToCloudWatchLogs to", RESOURCE, name, "iam:AttachRolePolicy", () =>
        ctx.clients.iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn })),
      ),
    );
  }

  const roleArn = role?.Arn ?? arn(ctx, "iam", `role/${name}`, { global: true });
  changes.push("set as the account's CloudWatch role");
  await mutate(ctx, () =>
    step("setting the account's CloudWatch role to", RESOURCE, name, "apigateway:PATCH and iam:PassRole", () =>
      retryWhileRoleNotUsable(ctx, () =>
        ctx.clients.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: roleArn }] })),
      ),
    ),
  );
  return { resource: RESOURCE, name, action: role === undefined ? "created" : "updated", detail: changes.join(", "), cloudwatchRoleArn: roleArn };
}

/** API Gateway refuses a role IAM has not finished propagating; it is retried for a bounded time. */
async function retryWhileRoleNotUsable<T>(ctx: DeployContext, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ACCOUNT_ROLE_PROPAGATION_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const propagating = errorName(e) === "BadRequestException" && /does not have required permissions|cannot be assumed|role ARN/i.test((e as Error).message ?? "");
      const left = deadline - Date.now();
      if (!propagating || left <= 0) throw e;
      ctx.progress(`waiting for IAM role ${ctx.names.apiGatewayLogsRole} to reach API Gateway`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000 * attempt, 10_000, left)));
    }
  }
}

/** The role and the setting are account-wide: other APIs may log through them, so teardown keeps both. */
export async function removeApiGatewayAccount(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.apiGatewayLogsRole;
  const current = await getAccountRoleArn(ctx);
  const role = await findRole(ctx);
  if (current === undefined && role === undefined) return { resource: RESOURCE, name, action: "absent" };
  const which = current ?? role?.Arn ?? name;
  return {
    resource: RESOURCE,
    name,
    action: "kept",
    detail: `account-wide: every REST API in ${ctx.region} writes its logs through ${which}, so teardown leaves it`,
  };
}
