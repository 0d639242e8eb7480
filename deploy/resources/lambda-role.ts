// The Lambda function's IAM role. Deploy makes it in two steps: first the role
// with its trust policy only (the KMS key policy names the role, and KMS
// refuses principals that do not exist), then, once the key exists, the one
// inline policy naming exactly the objects, key and log group the handler uses
// (the documents themselves are in ../policies/function-role.ts).
import {
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from "@aws-sdk/client-iam";
import { functionRoleArn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { samePolicy } from "../policies/document.ts";
import { lambdaRolePolicy, lambdaTrustPolicy } from "../policies/function-role.ts";
import { Changes, ignoreAbsent, missingTags, orAbsent, tagList } from "../toolkit/index.ts";
import { createRole } from "./iam-role-create.ts";

const RESOURCE = "IAM role";

export const lambdaRolePolicyName = (ctx: Pick<DeployContext, "names">) => `${ctx.names.stack}-fn-policy`;

const findRole = (ctx: DeployContext): Promise<Role | undefined> =>
  step("reading", RESOURCE, ctx.names.roleName, "iam:GetRole", () =>
    orAbsent("iam", async () => (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: ctx.names.roleName }))).Role),
  );

export type LambdaRoleReport = StepReport & { outputs: { roleArn: string; roleName: string } };

/**
 * The role with its trust policy (Lambda only), its permissions boundary and
 * tags; no permissions yet. The boundary comes first on an existing role: the
 * deployer policy allows changing the role only while it is attached.
 */
export async function ensureLambdaRole(ctx: DeployContext, deps: { boundaryArn: string }): Promise<LambdaRoleReport> {
  const { iam } = ctx.clients;
  const name = ctx.names.roleName;
  const trust = lambdaTrustPolicy();
  const changes = new Changes(ctx, RESOURCE, name);
  const done = (roleArn: string, created = false): LambdaRoleReport => ({ ...changes.report(created), outputs: { roleArn, roleName: name } });

  const role = await findRole(ctx);
  if (!role) {
    const description = `Execution role of the ${ctx.names.functionName} image API function`;
    const created = await changes.apply("role", "iam:CreateRole", () => createRole(ctx, { name, trust, description, boundaryArn: deps.boundaryArn }, () => findRole(ctx)), "creating");
    return done(created?.value?.Arn ?? functionRoleArn(ctx), true);
  }

  if (role.PermissionsBoundary?.PermissionsBoundaryArn !== deps.boundaryArn) {
    await changes.apply("permissions boundary", "iam:PutRolePermissionsBoundary", () => iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: name, PermissionsBoundary: deps.boundaryArn })), "setting the permissions boundary of");
  }
  const actualTrust = role.AssumeRolePolicyDocument ? decodeURIComponent(role.AssumeRolePolicyDocument) : undefined;
  if (!samePolicy(actualTrust, trust)) {
    await changes.apply("trust policy", "iam:UpdateAssumeRolePolicy", () => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) })), "updating the trust policy of");
  }
  const missing = missingTags(role.Tags, ctx.tags);
  if (Object.keys(missing).length > 0) {
    await changes.apply("tags", "iam:TagRole", () => iam.send(new TagRoleCommand({ RoleName: name, Tags: tagList(missing) })), "tagging");
  }
  return done(role.Arn ?? functionRoleArn(ctx));
}

// ---- the role's permissions ---------------------------------------------------

/** A role's policy names; none when the role is not there yet (a dry run). */
const listOrEmpty = async <T>(call: () => Promise<T[] | undefined>): Promise<T[]> => (await orAbsent("iam", call)) ?? [];

export type LambdaRolePolicyReport = StepReport & { outputs: { policyName: string } };

/**
 * The role's one inline policy. Any other inline or attached managed policy is
 * drift (it would widen what the function may do) and is removed.
 */
export async function ensureLambdaRolePolicy(ctx: DeployContext, deps: { keyArn: string; cdnDistributionArn?: string }): Promise<LambdaRolePolicyReport> {
  const { iam } = ctx.clients;
  const roleName = ctx.names.roleName;
  const policyName = lambdaRolePolicyName(ctx);
  const desired = lambdaRolePolicy(ctx, deps);
  const label = `${roleName}/${policyName}`;

  const inline = await step("listing the policies of", RESOURCE, roleName, "iam:ListRolePolicies", () =>
    listOrEmpty(async () => (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames),
  );
  const attached = await step("listing the policies of", RESOURCE, roleName, "iam:ListAttachedRolePolicies", () =>
    listOrEmpty(async () => (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies),
  );
  let current: string | undefined;
  if (inline.includes(policyName)) {
    const got = await step("reading the policy of", RESOURCE, label, "iam:GetRolePolicy", () =>
      iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })),
    );
    current = got.PolicyDocument ? decodeURIComponent(got.PolicyDocument) : undefined;
  }

  const changes = new Changes(ctx, "IAM role policy", label);
  if (!samePolicy(current, desired)) {
    const write = () => iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(desired) }));
    if (current === undefined) await changes.apply("policy", "iam:PutRolePolicy", write, "writing the policy of");
    else await changes.apply("inline policy", "iam:PutRolePolicy", write, "writing the policy of");
  }
  for (const extra of inline.filter((n) => n !== policyName)) {
    await changes.apply(`extra inline policy ${extra} removed`, "iam:DeleteRolePolicy", () => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: extra })), "deleting an extra policy of");
  }
  for (const policy of attached) {
    await changes.apply(`managed policy ${policy.PolicyName} detached`, "iam:DetachRolePolicy", () => iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policy.PolicyArn })), "detaching a managed policy from");
  }
  // A first write is "created"; what else changed is the drift.
  const drift = changes.list.filter((l) => l !== "policy");
  return {
    resource: "IAM role policy",
    name: label,
    action: current === undefined ? "created" : drift.length ? "updated" : "unchanged",
    ...(drift.length ? { detail: drift.join(", ") } : {}),
    outputs: { policyName },
  };
}

/** Deletes the role's inline and attached policies (IAM refuses to delete a role that has any), then the role. */
export async function removeLambdaRole(ctx: DeployContext): Promise<StepReport> {
  const { iam } = ctx.clients;
  const name = ctx.names.roleName;
  if (!(await findRole(ctx))) return { resource: RESOURCE, name, action: "absent" };
  const inline = await step("listing the policies of", RESOURCE, name, "iam:ListRolePolicies", () =>
    listOrEmpty(async () => (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames),
  );
  const attached = await step("listing the policies of", RESOURCE, name, "iam:ListAttachedRolePolicies", () =>
    listOrEmpty(async () => (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies),
  );
  const changes = new Changes(ctx, RESOURCE, name);
  for (const policyName of inline) {
    await changes.apply(`policy ${policyName}`, "iam:DeleteRolePolicy", () => ignoreAbsent("iam", () => iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName }))), "deleting a policy of");
  }
  for (const policy of attached) {
    await changes.apply(`managed policy ${policy.PolicyName}`, "iam:DetachRolePolicy", () => ignoreAbsent("iam", () => iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: policy.PolicyArn }))), "detaching a managed policy from");
  }
  await changes.apply("role", "iam:DeleteRole", () => ignoreAbsent("iam", () => iam.send(new DeleteRoleCommand({ RoleName: name }))), "deleting");
  return { resource: RESOURCE, name, action: "deleted" };
}
