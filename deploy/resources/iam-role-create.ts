// CreateRole as both of the stack's roles make it: trust, description,
// boundary and tags in one call, so there is no half-made role to resume,
// and a lost answer leaves a role the SDK's retry is told exists, adopted here.
import { CreateRoleCommand, type Role } from "@aws-sdk/client-iam";
import type { DeployContext } from "../context.ts";
import type { PolicyDocument } from "../policies/document.ts";
import { createOrAdopt, tagList, type Adopted } from "../toolkit/index.ts";

export interface RoleSpec {
  name: string;
  trust: PolicyDocument;
  description: string;
  boundaryArn?: string;
}

export function createRole(ctx: DeployContext, spec: RoleSpec, find: () => Promise<Role | undefined>): Promise<Adopted<Role | undefined>> {
  const create = async () =>
    (
      await ctx.clients.iam.send(
        new CreateRoleCommand({
          RoleName: spec.name,
          AssumeRolePolicyDocument: JSON.stringify(spec.trust),
          Description: spec.description,
          ...(spec.boundaryArn === undefined ? {} : { PermissionsBoundary: spec.boundaryArn }),
          Tags: tagList(ctx.tags),
        }),
      )
    ).Role;
  return createOrAdopt("iam", create, find);
}
