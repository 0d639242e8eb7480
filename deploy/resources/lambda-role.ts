// The Lambda function's IAM role. Deploy makes it in two steps: first the role
// with its trust policy only (the KMS key policy names the role, and KMS
// refuses principals that do not exist), then, once the key exists, the one
// inline policy naming exactly the objects, key and log group the handler uses
// (the documents themselves are in ../policies/function-role.ts).
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from "@aws-sdk/client-iam";
import { setTimeout as delay } from "node:timers/promises";
import { lambdaRolePolicy, lambdaTrustPolicy } from "../policies/function-role.ts";
import { samePolicy } from "../policies/document.ts";
import { functionRoleArn } from "../arns.ts";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { DeployError, errorName, isNotFound, step } from "../errors.ts";

const RESOURCE = "IAM role";

export const lambdaRolePolicyName = (ctx: Pick<DeployContext, "names">) => `${ctx.names.stack}-fn-policy`;

async function findRole(ctx: DeployContext): Promise<Role | undefined> {
  return step("reading", RESOURCE, ctx.names.roleName, "iam:GetRole", async () => {
    try {
      return (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: ctx.names.roleName }))).Role;
    } catch (e) {
      if (isNotFound(e, "NoSuchEntityException", "NoSuchEntity")) return undefined;
      throw e;
    }
  });
}

export type LambdaRoleReport = StepReport & { outputs: { roleArn: string; roleName: string } };

/** The role with its trust policy (Lambda only) and tags; no permissions yet. */
export async function ensureLambdaRole(ctx: DeployContext): Promise<LambdaRoleReport> {
  const { iam } = ctx.clients;
  const name = ctx.names.roleName;
  const trust = lambdaTrustPolicy();
  const report = (action: LambdaRoleReport["action"], roleArn: string, detail?: string): LambdaRoleReport => ({
    resource: RESOURCE,
    name,
    action,
    ...(detail ? { detail } : {}),
    outputs: { roleArn, roleName: name },
  });

  const role = await findRole(ctx);
  if (!role) {
    // Trust and tags go with CreateRole: one call, so there is no half-made role to resume.
    const created = await mutate(ctx, () =>
      step("creating", RESOURCE, name, "iam:CreateRole", () =>
        iam.send(
          new CreateRoleCommand({
            RoleName: name,
            AssumeRolePolicyDocument: JSON.stringify(trust),
            Description: `Execution role of the ${ctx.names.functionName} image API function`,
            Tags: Object.entries(ctx.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      ),
    );
    return report("created", created?.Role?.Arn ?? functionRoleArn(ctx));
  }

  const drifted: string[] = [];
  const actualTrust = role.AssumeRolePolicyDocument ? decodeURIComponent(role.AssumeRolePolicyDocument) : undefined;
  if (!samePolicy(actualTrust, trust)) {
    drifted.push("trust policy");
    await mutate(ctx, () =>
      step("updating the trust policy of", RESOURCE, name, "iam:UpdateAssumeRolePolicy", () =>
        iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) })),
      ),
    );
  }
  const actualTags = Object.fromEntries((role.Tags ?? []).map((t) => [t.Key, t.Value]));
  const missingTags = Object.entries(ctx.tags).filter(([k, v]) => actualTags[k] !== v);
  if (missingTags.length > 0) {
    drifted.push("tags");
    await mutate(ctx, () =>
      step("tagging", RESOURCE, name, "iam:TagRole", () =>
        iam.send(new TagRoleCommand({ RoleName: name, Tags: missingTags.map(([Key, Value]) => ({ Key, Value })) })),
      ),
    );
  }
  return report(drifted.length ? "updated" : "unchanged", role.Arn ?? functionRoleArn(ctx), drifted.join(", ") || undefined);
}

// ---- the role's permissions ---------------------------------------------------

async function listOrEmpty<T>(call: () => Promise<T[] | undefined>): Promise<T[]> {
  try {
    return (await call()) ?? [];
  } catch (e) {
    if (isNotFound(e, "NoSuchEntityException", "NoSuchEntity")) return []; // the role is not there yet (dry run)
    throw e;
  }
}

export type LambdaRolePolicyReport = StepReport & { outputs: { policyName: string } };

/**
 * The role's one inline policy. Any other inline or attached managed policy is
 * drift (it would widen what the function may do) and is removed.
 */
export async function ensureLambdaRolePolicy(ctx: DeployContext, deps: { keyArn: string }): Promise<LambdaRolePolicyReport> {
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

  const drifted: string[] = [];
  if (!samePolicy(current, desired)) {
    if (current !== undefined) drifted.push("inline policy");
    await mutate(ctx, () =>
      step("writing the policy of", RESOURCE, label, "iam:PutRolePolicy", () =>
        iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(desired) })),
      ),
    );
  }
  for (const extra of inline.filter((n) => n !== policyName)) {
    drifted.push(`extra inline policy ${extra} removed`);
    await mutate(ctx, () =>
      step("deleting an extra policy of", RESOURCE, `${roleName}/${extra}`, "iam:DeleteRolePolicy", () =>
        iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: extra })),
      ),
    );
  }
  for (const policy of attached) {
    drifted.push(`managed policy ${policy.PolicyName} detached`);
    await mutate(ctx, () =>
      step("detaching a managed policy from", RESOURCE, roleName, "iam:DetachRolePolicy", () =>
        iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: policy.PolicyArn })),
      ),
    );
  }
  const action = current === undefined ? "created" : drifted.length ? "updated" : "unchanged";
  return {
    resource: "IAM role policy",
    name: label,
    action,
    ...(drifted.length ? { detail: drifted.join(", ") } : {}),
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
  const ignoreGone = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (e) {
      if (!isNotFound(e, "NoSuchEntityException", "NoSuchEntity")) throw e;
    }
  };
  for (const policyName of inline) {
    await mutate(ctx, () =>
      step("deleting a policy of", RESOURCE, `${name}/${policyName}`, "iam:DeleteRolePolicy", () =>
        ignoreGone(() => iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName }))),
      ),
    );
  }
  for (const policy of attached) {
    await mutate(ctx, () =>
      step("detaching a managed policy from", RESOURCE, name, "iam:DetachRolePolicy", () =>
        ignoreGone(() => iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: policy.PolicyArn }))),
      ),
    );
  }
  await mutate(ctx, () =>
    step("deleting", RESOURCE, name, "iam:DeleteRole", () => ignoreGone(() => iam.send(new DeleteRoleCommand({ RoleName: name })))),
  );
  return { resource: RESOURCE, name, action: "deleted" };
}

// ---- IAM propagation ----------------------------------------------------------

/** How long a fresh role may take to become assumable by Lambda (IAM is eventually consistent). */
export const ROLE_PROPAGATION_TIMEOUT_MS = 60_000;

const isRoleNotAssumable = (e: unknown) =>
  errorName(e) === "InvalidParameterValueException" && /cannot be assumed/i.test((e as Error).message ?? "");

/**
 * Runs a Lambda call that names the role (CreateFunction, UpdateFunctionConfiguration)
 * and retries it, with backoff, while Lambda answers that the role "cannot be
 * assumed": a new or just-updated role takes seconds to propagate. Any other
 * error propagates at once; past the timeout it becomes a DeployError.
 */
export async function retryWhileRoleNotAssumable<T>(
  fn: () => Promise<T>,
  { timeoutMs = ROLE_PROPAGATION_TIMEOUT_MS, roleName = "the function's role", firstDelayMs = 1_000 }: { timeoutMs?: number; roleName?: string; firstDelayMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const left = deadline - Date.now();
      if (!isRoleNotAssumable(e)) throw e;
      if (left <= 0) {
        throw new DeployError(
          "waiting for Lambda to accept",
          RESOURCE,
          roleName,
          "RolePropagationTimeout",
          `Lambda still says the role cannot be assumed after ${Math.round(timeoutMs / 1000)} s. Check that its trust policy allows lambda.amazonaws.com (sts:AssumeRole), then run the same command again.`,
          { cause: e },
        );
      }
      await delay(Math.min(firstDelayMs * 2 ** attempt, 8_000, left));
    }
  }
}
