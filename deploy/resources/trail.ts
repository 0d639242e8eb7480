// The CloudTrail trail: management events of every region (IAM is global: a
// change to the function's role made from any region must be on record) and,
// with config.trail.dataEvents, every read and write of an image object,
// delivered encrypted with the audit key to the trail bucket, with digest
// files to prove the logs were not altered.
//
// Two account facts moto does not have are read first (checkTrailQuota): a
// region holds at most 5 trails, not adjustable, and only the first copy of
// management events is free: where another trail (often an organisation or
// Control Tower trail) already records them, ours records data events only
// (config trail.managementEvents "auto") and says which trail it leaves them to.
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html
// https://aws.amazon.com/cloudtrail/pricing/
import {
  AddTagsCommand,
  CreateTrailCommand,
  DeleteTrailCommand,
  DescribeTrailsCommand,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  ListTagsCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  UpdateTrailCommand,
  type EventSelector,
  type Trail,
} from "@aws-sdk/client-cloudtrail";
import { trailArn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, missingTags, orAbsent, PROPAGATION, retryWhilePropagating, tagList } from "../toolkit/index.ts";

const RESOURCE = "CloudTrail trail";
/** CloudTrail's quota of trails per region, counting multi-region trails in every region (not adjustable). */
export const TRAILS_PER_REGION = 5;

/** The settings UpdateTrail can change, as GetTrail reports them. */
function desiredSettings(ctx: DeployContext, keyArn: string) {
  return {
    S3BucketName: ctx.names.trailBucket,
    KmsKeyId: keyArn,
    LogFileValidationEnabled: true,
    IsMultiRegionTrail: true,
    IncludeGlobalServiceEvents: true,
  };
}

/** Every other trail this region sees (its own and multi-region ones from elsewhere). */
async function otherTrails(ctx: DeployContext): Promise<Trail[]> {
  const got = await step("listing the trails of", "CloudTrail", ctx.region, "cloudtrail:DescribeTrails", () =>
    ctx.clients.cloudtrail.send(new DescribeTrailsCommand({ includeShadowTrails: true })),
  );
  return (got.trailList ?? []).filter((t) => t.Name !== ctx.names.trail && t.TrailARN !== trailArn(ctx));
}

/** Before any change: a new trail must fit CloudTrail's quota, or the deploy would stop at its last step. */
export async function checkTrailQuota(ctx: DeployContext): Promise<void> {
  if (await findTrail(ctx)) return;
  const others = await otherTrails(ctx);
  if (others.length < TRAILS_PER_REGION) return;
  throw new DeployError(
    "planning",
    RESOURCE,
    ctx.names.trail,
    "MaximumNumberOfTrailsExceeded",
    `${ctx.region} already has ${others.length} trails (${others.map((t) => t.Name).join(", ")}), CloudTrail's limit per region, which cannot be raised. Delete a trail you no longer need (aws cloudtrail delete-trail --name NAME), then run the same command again.`,
  );
}

/** Whether our trail records management events, and why not when it does not. */
async function managementEvents(ctx: DeployContext): Promise<{ on: boolean; note?: string }> {
  const wanted = ctx.config.trail.managementEvents;
  if (wanted !== "auto") return { on: wanted };
  const recording = (await otherTrails(ctx)).filter((t) => t.IsMultiRegionTrail || t.HomeRegion === ctx.region);
  for (const trail of recording) {
    const selectors = await step("reading the event selectors of", "CloudTrail trail", trail.Name ?? "?", "cloudtrail:GetEventSelectors", () =>
      orAbsent("cloudtrail", () => ctx.clients.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: trail.TrailARN }))),
    );
    // A trail without selectors records all management events (AWS's default; moto reports an empty list).
    const basic = selectors?.EventSelectors?.length ? selectors.EventSelectors : [{ IncludeManagementEvents: true }];
    const logsManagement = (selectors?.AdvancedEventSelectors?.length ?? 0) > 0 || basic.some((s) => s.IncludeManagementEvents !== false);
    if (logsManagement) return { on: false, note: `management events left to the account's trail ${trail.Name} (a second copy is billed)` };
  }
  return { on: true };
}

/** Management events as decided; S3 object events of the images bucket when config.trail.dataEvents. */
export function trailEventSelectors(ctx: Pick<DeployContext, "partition" | "names" | "config">, management = true): EventSelector[] {
  return [
    {
      ReadWriteType: "All",
      IncludeManagementEvents: management,
      DataResources: ctx.config.trail.dataEvents ? [{ Type: "AWS::S3::Object", Values: [`arn:${ctx.partition}:s3:::${ctx.names.imagesBucket}/`] }] : [],
    },
  ];
}

function sameSelectors(actual: { EventSelectors?: EventSelector[]; AdvancedEventSelectors?: unknown[] }, desired: EventSelector[]): boolean {
  if (actual.AdvancedEventSelectors?.length) return false;
  // A trail without selectors records all management events: AWS's default, and moto's empty list.
  const current: EventSelector[] = actual.EventSelectors?.length ? actual.EventSelectors : [{ ReadWriteType: "All", IncludeManagementEvents: true, DataResources: [] }];
  const canonical = (list: EventSelector[]) =>
    JSON.stringify(
      list.map((s) => ({
        rw: s.ReadWriteType ?? "All",
        mgmt: s.IncludeManagementEvents ?? true,
        excluded: [...(s.ExcludeManagementEventSources ?? [])].sort(),
        data: (s.DataResources ?? []).map((d) => `${d.Type}=${[...(d.Values ?? [])].sort().join(",")}`).sort(),
      })),
    );
  return canonical(current) === canonical(desired);
}

const findTrail = (ctx: DeployContext): Promise<Trail | undefined> =>
  step("reading", RESOURCE, ctx.names.trail, "cloudtrail:GetTrail", () =>
    orAbsent("cloudtrail", async () => (await ctx.clients.cloudtrail.send(new GetTrailCommand({ Name: ctx.names.trail }))).Trail),
  );

export type TrailReport = StepReport & { outputs: { trailArn: string } };

export async function ensureTrail(ctx: DeployContext, deps: { keyArn: string }): Promise<TrailReport> {
  const { cloudtrail } = ctx.clients;
  const name = ctx.names.trail;
  const desired = desiredSettings(ctx, deps.keyArn);
  const management = await managementEvents(ctx);
  const selectors = trailEventSelectors(ctx, management.on);
  const changes = new Changes(ctx, RESOURCE, name);
  const putSelectors = (label: string) =>
    changes.apply(label, "cloudtrail:PutEventSelectors", () => cloudtrail.send(new PutEventSelectorsCommand({ TrailName: name, EventSelectors: selectors })), "setting the event selectors of");
  const startLogging = (label: string) => changes.apply(label, "cloudtrail:StartLogging", () => cloudtrail.send(new StartLoggingCommand({ Name: name })), "starting");
  const what = [management.on ? "management events of every region" : undefined, ctx.config.trail.dataEvents ? "S3 data events" : undefined].filter(Boolean).join(" and ") || "nothing (management events and data events are both off)";

  const trail = await findTrail(ctx);
  if (!trail) {
    // CloudTrail checks the bucket and key policies written moments before, which S3 and KMS may not have propagated.
    const created = await changes.apply("trail", "cloudtrail:CreateTrail", () =>
      createOrAdopt(
        "cloudtrail",
        async (): Promise<Pick<Trail, "TrailARN">> =>
          retryWhilePropagating(ctx, PROPAGATION.policiesToCloudTrail, () =>
            cloudtrail.send(
              new CreateTrailCommand({
                Name: name,
                S3BucketName: desired.S3BucketName,
                KmsKeyId: desired.KmsKeyId,
                EnableLogFileValidation: desired.LogFileValidationEnabled,
                IsMultiRegionTrail: desired.IsMultiRegionTrail,
                IncludeGlobalServiceEvents: desired.IncludeGlobalServiceEvents,
                TagsList: tagList(ctx.tags),
              }),
            ),
          ),
        () => findTrail(ctx),
      ), "creating");
    // A trail is created stopped: an interruption before StartLogging is caught by the status check on the next run.
    await putSelectors("event selectors");
    await startLogging("logging");
    const outputs = { trailArn: created?.value.TrailARN ?? trailArn(ctx) };
    return { ...changes.report(true, `${what}${management.note ? `; ${management.note}` : ""}`), outputs };
  }

  const arnOfTrail = trail.TrailARN ?? trailArn(ctx);
  const drift = (Object.keys(desired) as (keyof typeof desired)[]).filter((field) => trail[field] !== desired[field]);
  if (drift.length) {
    const update = {
      ...(drift.includes("S3BucketName") ? { S3BucketName: desired.S3BucketName } : {}),
      ...(drift.includes("KmsKeyId") ? { KmsKeyId: desired.KmsKeyId } : {}),
      ...(drift.includes("LogFileValidationEnabled") ? { EnableLogFileValidation: desired.LogFileValidationEnabled } : {}),
      ...(drift.includes("IsMultiRegionTrail") ? { IsMultiRegionTrail: desired.IsMultiRegionTrail } : {}),
      ...(drift.includes("IncludeGlobalServiceEvents") ? { IncludeGlobalServiceEvents: desired.IncludeGlobalServiceEvents } : {}),
    };
    await changes.apply(drift.join(", "), "cloudtrail:UpdateTrail", () =>
      retryWhilePropagating(ctx, PROPAGATION.policiesToCloudTrail, () => cloudtrail.send(new UpdateTrailCommand({ Name: name, ...update }))), "updating");
  }
  const current = await step("reading the event selectors of", RESOURCE, name, "cloudtrail:GetEventSelectors", () => cloudtrail.send(new GetEventSelectorsCommand({ TrailName: name })));
  if (!sameSelectors(current, selectors)) await putSelectors("EventSelectors");
  const tagged = await step("listing the tags of", RESOURCE, name, "cloudtrail:ListTags", () => cloudtrail.send(new ListTagsCommand({ ResourceIdList: [arnOfTrail] })));
  const missing = missingTags(tagged.ResourceTagList?.[0]?.TagsList, ctx.tags);
  if (Object.keys(missing).length) await changes.apply("tags", "cloudtrail:AddTags", () => cloudtrail.send(new AddTagsCommand({ ResourceId: arnOfTrail, TagsList: tagList(missing) })), "tagging");
  const status = await step("reading the status of", RESOURCE, name, "cloudtrail:GetTrailStatus", () => cloudtrail.send(new GetTrailStatusCommand({ Name: name })));
  if (!status.IsLogging) await startLogging("logging");
  const note = changes.changed ? undefined : management.note;
  return { ...changes.report(false, note), outputs: { trailArn: arnOfTrail } };
}

export async function removeTrail(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.trail;
  if (!(await findTrail(ctx))) return { resource: RESOURCE, name, action: "absent" };
  const changes = new Changes(ctx, RESOURCE, name);
  await changes.apply("trail", "cloudtrail:DeleteTrail", () => ignoreAbsent("cloudtrail", () => ctx.clients.cloudtrail.send(new DeleteTrailCommand({ Name: name }))), "deleting");
  return { resource: RESOURCE, name, action: "deleted" };
}
