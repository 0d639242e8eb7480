// The two log groups of the stack: the function's (/aws/lambda/FN, which
// Lambda would otherwise create itself, without retention, keeping logs
// forever) and the API's access log. Both keep config.logs.retentionDays.
// They are records of who did what: teardown keeps them unless --delete-data.
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
import type { DeployContext, EnsureAction, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, missingTags } from "../toolkit/index.ts";

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
  const changes = new Changes(ctx, RESOURCE, name);
  const setRetention = (label: string) =>
    changes.apply(label, "logs:PutRetentionPolicy", () => logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: days })), "setting the retention of");

  const group = await findLogGroup(ctx, name);
  if (!group) {
    // Tags go with CreateLogGroup; retention cannot, and is checked again on the next run if this one stops in between.
    await changes.apply("log group", "logs:CreateLogGroup", () =>
      createOrAdopt("logs", async () => (await logs.send(new CreateLogGroupCommand({ logGroupName: name, tags: ctx.tags })), undefined), () => findLogGroup(ctx, name)), "creating");
    await setRetention("retention");
    return { action: "created", drifted: [] };
  }
  if (group.retentionInDays !== days) await setRetention(`retention ${group.retentionInDays ?? "never expire"} -> ${days} days`);
  const tagged = await step("listing the tags of", RESOURCE, name, "logs:ListTagsForResource", () => logs.send(new ListTagsForResourceCommand({ resourceArn })));
  const missing = missingTags(tagged.tags, ctx.tags);
  if (Object.keys(missing).length) await changes.apply("tags", "logs:TagResource", () => logs.send(new TagResourceCommand({ resourceArn, tags: missing })), "tagging");
  return { action: changes.changed ? "updated" : "unchanged", drifted: changes.list };
}

export type LogGroupsReport = StepReport & { outputs: { functionLogGroupArn: string; accessLogGroupArn: string } };

const groupNames = (ctx: DeployContext) => [ctx.names.functionLogGroup, ctx.names.accessLogGroup];

/** One report for both groups: created if either was, else updated if either drifted. */
export async function ensureLogGroups(ctx: DeployContext): Promise<LogGroupsReport> {
  const names = groupNames(ctx);
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

/** Deleted only with deleteData: the logs are the record of every request; they expire on their own after retentionDays. */
export async function removeLogGroups(ctx: DeployContext, opts: { deleteData: boolean }): Promise<StepReport> {
  const names = groupNames(ctx);
  const present: string[] = [];
  for (const name of names) if (await findLogGroup(ctx, name)) present.push(name);
  const report = (action: StepReport["action"], detail?: string): StepReport => ({ resource: "log groups", name: names.join(", "), action, ...(detail ? { detail } : {}) });
  if (present.length === 0) return report("absent");
  if (!opts.deleteData) return report("kept", `the request logs expire on their own after ${ctx.config.logs.retentionDays} days; --delete-data deletes them now`);
  for (const name of present) {
    const changes = new Changes(ctx, RESOURCE, name);
    await changes.apply("log group", "logs:DeleteLogGroup", () => ignoreAbsent("logs", () => ctx.clients.logs.send(new DeleteLogGroupCommand({ logGroupName: name }))), "deleting");
  }
  return report("deleted", present.join(", "));
}
