// API Gateway writes access logs through one role per account and region (the
// account's cloudwatchRoleArn). It is shared by every REST API there: a
// working one is never replaced. One that no longer exists or no longer trusts
// API Gateway (common after a removed CDK or SAM stack) leaves every access
// log silently empty, so it is replaced by ours, and the report says so. Only
// then is a role made for it; teardown leaves it in place.
import { GetAccountCommand, UpdateAccountCommand } from "@aws-sdk/client-api-gateway";
import {
  AttachRolePolicyCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from "@aws-sdk/client-iam";
import { arn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import type { PolicyDocument } from "../policies/document.ts";
import { Changes, orAbsent, PROPAGATION, retryWhilePropagating } from "../toolkit/index.ts";
import { createRole } from "./iam-role-create.ts";

const RESOURCE = "API Gateway logs role";

const TRUST_POLICY: PolicyDocument = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

export const pushToCloudWatchPolicyArn = (partition: string) => `arn:${partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`;

async function getAccountRoleArn(ctx: DeployContext): Promise<string | undefined> {
  const account = await step("reading", "API Gateway account settings", ctx.region, "apigateway:GET", () => ctx.clients.apigw.send(new GetAccountCommand({})));
  return account.cloudwatchRoleArn || undefined;
}

const findRole = (ctx: DeployContext, name: string): Promise<Role | undefined> =>
  step("reading", RESOURCE, name, "iam:GetRole", () => orAbsent("iam", async () => (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role));

function trustsApiGateway(document: string | undefined): boolean {
  if (document === undefined) return false;
  const policy = JSON.parse(decodeURIComponent(document)) as { Statement?: { Effect?: string; Principal?: { Service?: string | string[] }; Action?: string | string[] }[] };
  return (policy.Statement ?? []).some(
    (s) => s.Effect === "Allow" && [s.Principal?.Service ?? []].flat().includes("apigateway.amazonaws.com") && [s.Action ?? []].flat().includes("sts:AssumeRole"),
  );
}

/** Why the account's current role cannot carry logs, or undefined when it can. */
async function brokenBecause(ctx: DeployContext, roleArn: string): Promise<string | undefined> {
  const [, , , , account, resource] = roleArn.split(":");
  if (account !== ctx.account) return undefined; // another account's role: not ours to judge
  const role = await findRole(ctx, resource?.split("/").pop() ?? "");
  if (role === undefined) return `the account's role ${roleArn} no longer exists`;
  if (!trustsApiGateway(role.AssumeRolePolicyDocument)) return `the account's role ${roleArn} does not trust apigateway.amazonaws.com`;
  return undefined;
}

export async function ensureApiGatewayAccount(ctx: DeployContext): Promise<StepReport & { cloudwatchRoleArn: string }> {
  const name = ctx.names.apiGatewayLogsRole;
  const ours = arn(ctx, "iam", `role/${name}`, { global: true });
  const current = await getAccountRoleArn(ctx);
  const broken = current === undefined || current === ours ? undefined : await brokenBecause(ctx, current);
  if (current !== undefined && current !== ours && broken === undefined) {
    return { resource: RESOURCE, name, action: "unchanged", detail: `the account already uses ${current}; left as it is`, cloudwatchRoleArn: current };
  }

  const { iam } = ctx.clients;
  const changes = new Changes(ctx, RESOURCE, name);
  if (broken !== undefined) changes.note(`${broken}: access logs would stay empty, so the account now uses ${name}`);
  const policyArn = pushToCloudWatchPolicyArn(ctx.partition);
  const role = await findRole(ctx, name);
  if (role === undefined) {
    const description = "API Gateway writes access logs to CloudWatch Logs with this role (account-wide; made by imgapi deploy)";
    await changes.apply("role created", "iam:CreateRole", () => createRole(ctx, { name, trust: TRUST_POLICY, description }, () => findRole(ctx, name)), "creating");
  } else if (!trustsApiGateway(role.AssumeRolePolicyDocument)) {
    await changes.apply("trust policy", "iam:UpdateAssumeRolePolicy", () => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(TRUST_POLICY) })), "updating trust policy of");
  }
  const attached =
    role === undefined
      ? []
      : await step("reading policies of", RESOURCE, name, "iam:ListAttachedRolePolicies", async () =>
          ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name, MaxItems: 1000 }))).AttachedPolicies ?? []).map((p) => p.PolicyArn),
        );
  if (!attached.includes(policyArn)) {
    // Attaching the same managed policy twice is a no-op for IAM: a lost answer needs no adoption.
    await changes.apply("policy attached", "iam:AttachRolePolicy", () => iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn })), "attaching AmazonAPIGatewayPushToCloudWatchLogs to");
  }
  if (current !== ours) {
    await changes.apply("set as the account's CloudWatch role", "apigateway:PATCH and iam:PassRole", () =>
      retryWhilePropagating(ctx, PROPAGATION.logsRoleToApiGateway, () =>
        ctx.clients.apigw.send(new UpdateAccountCommand({ patchOperations: [{ op: "replace", path: "/cloudwatchRoleArn", value: ours }] })),
      ), "setting the account's CloudWatch role to");
  }
  return { ...changes.report(role === undefined, changes.list.join(", ") || undefined), cloudwatchRoleArn: ours };
}

/** The role and the setting are account-wide: other APIs may log through them, so teardown keeps both. */
export async function removeApiGatewayAccount(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.apiGatewayLogsRole;
  const current = await getAccountRoleArn(ctx);
  const role = await findRole(ctx, name);
  if (current === undefined && role === undefined) return { resource: RESOURCE, name, action: "absent" };
  const which = current ?? role?.Arn ?? name;
  return {
    resource: RESOURCE,
    name,
    action: "kept",
    detail: `account-wide: every REST API in ${ctx.region} writes its logs through ${which}, so teardown leaves it`,
  };
}
