// The function role's permissions boundary: a customer-managed policy
// (<stack>-fn-boundary) holding the most the function may ever do
// (deploy/policies/function-role.ts). The deployer policy lets the deploying
// identity write the role's own policy only while this boundary is attached,
// and never lets it change or delete the boundary: so whatever it writes into
// the role, or whatever code it deploys, cannot reach past the boundary.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
//
// Made before the role (CreateRole names it). Changed only by an identity
// allowed to (an administrator): a run whose boundary differs from this
// version's asks for that, with the command. Teardown keeps it, for the same reason.
import { CreatePolicyCommand, CreatePolicyVersionCommand, DeletePolicyVersionCommand, GetPolicyCommand, GetPolicyVersionCommand, ListPolicyVersionsCommand } from "@aws-sdk/client-iam";
import { boundaryPolicyArn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { samePolicy } from "../policies/document.ts";
import { functionBoundaryPolicy } from "../policies/function-role.ts";
import { Changes, createOrAdopt, orAbsent, tagList } from "../toolkit/index.ts";

const RESOURCE = "IAM permissions boundary";
/** IAM keeps at most five versions of a managed policy. */
const MAX_VERSIONS = 5;

export type BoundaryReport = StepReport & { outputs: { boundaryArn: string } };

const findPolicy = (ctx: DeployContext) =>
  step("reading", RESOURCE, ctx.names.boundaryPolicy, "iam:GetPolicy", () =>
    orAbsent("iam", async () => (await ctx.clients.iam.send(new GetPolicyCommand({ PolicyArn: boundaryPolicyArn(ctx) }))).Policy),
  );

export async function ensureFunctionBoundary(ctx: DeployContext): Promise<BoundaryReport> {
  const { iam } = ctx.clients;
  const name = ctx.names.boundaryPolicy;
  const PolicyArn = boundaryPolicyArn(ctx);
  const desired = functionBoundaryPolicy(ctx, { cdn: ctx.config.cdn.enabled });
  const changes = new Changes(ctx, RESOURCE, name);
  const outputs = { boundaryArn: PolicyArn };

  const policy = await findPolicy(ctx);
  if (policy === undefined) {
    await changes.apply("policy", "iam:CreatePolicy", () =>
      createOrAdopt(
        "iam",
        async () =>
          (
            await iam.send(
              new CreatePolicyCommand({
                PolicyName: name,
                PolicyDocument: JSON.stringify(desired),
                Description: `The most the ${ctx.names.functionName} image function may ever do (its role's permissions boundary; made by imgapi deploy)`,
                Tags: tagList(ctx.tags),
              }),
            )
          ).Policy,
        () => findPolicy(ctx),
      ), "creating");
    return { ...changes.report(true, "caps the function role: images bucket prefixes, the images key's purposes, its logs; never the audit trail"), outputs };
  }

  const current = await step("reading", RESOURCE, name, "iam:GetPolicyVersion", () =>
    iam.send(new GetPolicyVersionCommand({ PolicyArn, VersionId: policy.DefaultVersionId })),
  );
  const document = current.PolicyVersion?.Document;
  if (!samePolicy(document === undefined ? undefined : decodeURIComponent(document), desired)) {
    // IAM refuses a sixth version: the oldest one that is not the default goes first.
    const versions = await step("listing versions of", RESOURCE, name, "iam:ListPolicyVersions", () => iam.send(new ListPolicyVersionsCommand({ PolicyArn })));
    const old = (versions.Versions ?? []).filter((v) => !v.IsDefaultVersion).sort((a, b) => (a.CreateDate?.getTime() ?? 0) - (b.CreateDate?.getTime() ?? 0));
    if ((versions.Versions?.length ?? 0) >= MAX_VERSIONS && old[0]?.VersionId !== undefined) {
      const VersionId = old[0].VersionId;
      await changes.apply(`oldest version ${VersionId} deleted`, "iam:DeletePolicyVersion", () => iam.send(new DeletePolicyVersionCommand({ PolicyArn, VersionId })), "deleting an old version of");
    }
    await changes.apply("policy", "iam:CreatePolicyVersion (an administrator's right: the deployer policy never lets the deploying identity widen the boundary)", () =>
      iam.send(new CreatePolicyVersionCommand({ PolicyArn, PolicyDocument: JSON.stringify(desired), SetAsDefault: true })), "updating");
  }
  return { ...changes.report(false), outputs };
}

/**
 * Kept: the deploying identity may not delete it (it could then make a wider
 * one), and it grants nothing on its own. An administrator deletes it once
 * the role is gone.
 */
export async function removeFunctionBoundary(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.boundaryPolicy;
  if ((await findPolicy(ctx)) === undefined) return { resource: RESOURCE, name, action: "absent" };
  return {
    resource: RESOURCE,
    name,
    action: "kept",
    detail: `grants nothing by itself, and the deploying identity may not delete it; an administrator can: aws iam delete-policy --policy-arn ${boundaryPolicyArn(ctx)}`,
  };
}
