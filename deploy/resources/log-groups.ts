// The two log groups of the stack: the function's (/aws/lambda/FN, which
// Lambda would otherwise create itself, without retention, keeping logs
// forever) and the API's access log. Both keep config.logs.retentionDays.
import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
  paginateDescribeLogGroups,
  type LogGroup,
} from "@aws-sdk/client-cloudwatch-logs";
import { logGroupArn } from "../arns.ts";
import { mutate, type DeployContext, type EnsureAction, type StepReport } from "../context.ts";
import { isNotFound, step } from "../errors.ts";

const RESOURCE = "log group";


async function findLogGroup(ctx: DeployContext, name: string): Promise<LogGroup | undefined> {
  return step("reading", RESOURCE, name, "logs:DescribeLogGroups", async () => {
    for await (const page of paginateDescribeLogGroups({ client: ctx.clients.logs }, { logGroupNamePrefix: name })) {
      const found = page.logGroups?.find((g) => g.logGroupName === name);
      if (found) return found;
    }
    return undefined;
  });
}

async function ensureLogGroup(ctx: DeployContext, name: string): Promise<{ action: EnsureAction; drifted: string[] }> {
  const { logs } = ctx.clients;
  const days = ctx.config.logs.retentionDays;
  const resourceArn = logGroupArn(ctx, name);
  const setRetention = () =>
    mutate(ctx, () => step("setting the retention of", RESOURCE, name, "logs:PutRetentionPolicy", () => logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: days }))));

  const group = await findLogGroup(ctx, name);
  if (!group) {
    // Tags go with CreateLogGroup; retention cannot, and is checked again on the next run if this one stops in between.
    await mutate(ctx, () => step("creating", RESOURCE, name, "logs:CreateLogGroup", () => logs.send(new CreateLogGroupCommand({ logGroupName: name, tags: ctx.tags }))));
    await setRetention();
    return { action: "created", drifted: [] };
  }
  const drifted: string[] = [];
  if (group.retentionInDays !== days) {
    drifted.push(`retention ${group.retentionInDays ?? "never expire"} -> ${days} days`);
    await setRetention();
  }
  const tagged = await step("listing the tags of", RESOURCE, name, "logs:ListTagsForResource", () => logs.send(new ListTagsForResourceCommand({ resourceArn })));
  const missing = Object.fromEntries(Object.entries(ctx.tags).filter(([k, v]) => tagged.tags?.[k] !== v));
  if (Object.keys(missing).length) {
    drifted.push("tags");
    await mutate(ctx, () => step("tagging", RESOURCE, name, "logs:TagResource", () => logs.send(new TagResourceCommand({ resourceArn, tags: missing }))));
  }
  return { action: drifted.length ? "updated" : "unchanged", drifted };
}

export type LogGroupsReport = StepReport & { outputs: { functionLogGroupArn: string; accessLogGroupArn: string } };

/** One report for both groups: created if either was, else updated if either drifted. */
export async function ensureLogGroups(ctx: DeployContext): Promise<LogGroupsReport> {
  const names = [ctx.names.functionLogGroup, ctx.names.accessLogGroup];
  const results: { name: string; action: EnsureAction; drifted: string[] }[] = [];
  for (const name of names) results.push({ name, ...(await ensureLogGroup(ctx, name)) });
  const action: EnsureAction = results.some((r) => r.action === "created") ? "created" : results.some((r) => r.action === "updated") ? "updated" : "unchanged";
  const detail = results
    .filter((r) => r.action !== "unchanged")
    .map((r) => `${r.name}: ${r.action === "created" ? `created (${ctx.config.logs.retentionDays} days)` : r.drifted.join(", ")}`)
    .join("; ");
  return {
    resource: "log groups",
    name: names.join(", "),
    action,
    ...(detail ? { detail } : {}),
    outputs: { functionLogGroupArn: logGroupArn(ctx, names[0]!), accessLogGroupArn: logGroupArn(ctx, names[1]!) },
  };
}

export async function removeLogGroups(ctx: DeployContext): Promise<StepReport> {
  const names = [ctx.names.functionLogGroup, ctx.names.accessLogGroup];
  const deleted: string[] = [];
  for (const name of names) {
    if (!(await findLogGroup(ctx, name))) continue;
    await mutate(ctx, () =>
      step("deleting", RESOURCE, name, "logs:DeleteLogGroup", async () => {
        try {
          await ctx.clients.logs.send(new DeleteLogGroupCommand({ logGroupName: name }));
        } catch (e) {
          if (!isNotFound(e, "ResourceNotFoundException")) throw e;
        }
      }),
    );
    deleted.push(name);
  }
  return { resource: "log groups", name: names.join(", "), action: deleted.length ? "deleted" : "absent", ...(deleted.length ? { detail: deleted.join(", ") } : {}) };
}
