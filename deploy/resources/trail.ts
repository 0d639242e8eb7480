// The CloudTrail trail: management events of this region, plus (config.trail.
// dataEvents) every read and write of an image object, delivered encrypted with
// the project key to the trail bucket, with digest files to prove the logs were
// not altered.
import {
  AddTagsCommand,
  CreateTrailCommand,
  DeleteTrailCommand,
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
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { isNotFound, step } from "../errors.ts";

const RESOURCE = "CloudTrail trail";
const NOT_FOUND = ["TrailNotFoundException"];


/** The settings UpdateTrail can change, as GetTrail reports them. */
function desiredSettings(ctx: DeployContext, keyArn: string) {
  return {
    S3BucketName: ctx.names.trailBucket,
    KmsKeyId: keyArn,
    LogFileValidationEnabled: true,
    // Single-region: the stack lives in one region, and a multi-region trail per
    // stack would copy every other region's events (and two stacks would record
    // them twice). An account-wide trail, if wanted, belongs to the account, not to
    // this API. Global events (IAM, STS) still arrive when the stack is in us-east-1.
    IsMultiRegionTrail: false,
    IncludeGlobalServiceEvents: true,
  };
}

/** Management events always; S3 object events of the images bucket when config.trail.dataEvents. */
export function trailEventSelectors(ctx: Pick<DeployContext, "partition" | "names" | "config">): EventSelector[] {
  return [
    {
      ReadWriteType: "All",
      IncludeManagementEvents: true,
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

async function findTrail(ctx: DeployContext): Promise<Trail | undefined> {
  return step("reading", RESOURCE, ctx.names.trail, "cloudtrail:GetTrail", async () => {
    try {
      return (await ctx.clients.cloudtrail.send(new GetTrailCommand({ Name: ctx.names.trail }))).Trail;
    } catch (e) {
      if (isNotFound(e, ...NOT_FOUND)) return undefined;
      throw e;
    }
  });
}

export type TrailReport = StepReport & { outputs: { trailArn: string } };

export async function ensureTrail(ctx: DeployContext, deps: { keyArn: string }): Promise<TrailReport> {
  const { cloudtrail } = ctx.clients;
  const name = ctx.names.trail;
  const desired = desiredSettings(ctx, deps.keyArn);
  const selectors = trailEventSelectors(ctx);
  const call = <T>(action: string, permission: string, fn: () => Promise<T>) => mutate(ctx, () => step(action, RESOURCE, name, permission, fn));
  const putSelectors = () =>
    call("setting the event selectors of", "cloudtrail:PutEventSelectors", () => cloudtrail.send(new PutEventSelectorsCommand({ TrailName: name, EventSelectors: selectors })));
  const startLogging = () => call("starting", "cloudtrail:StartLogging", () => cloudtrail.send(new StartLoggingCommand({ Name: name })));

  const trail = await findTrail(ctx);
  if (!trail) {
    const created = await call("creating", "cloudtrail:CreateTrail", () =>
      cloudtrail.send(
        new CreateTrailCommand({
          Name: name,
          S3BucketName: desired.S3BucketName,
          KmsKeyId: desired.KmsKeyId,
          EnableLogFileValidation: desired.LogFileValidationEnabled,
          IsMultiRegionTrail: desired.IsMultiRegionTrail,
          IncludeGlobalServiceEvents: desired.IncludeGlobalServiceEvents,
          TagsList: Object.entries(ctx.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    );
    // A trail is created stopped: an interruption before StartLogging is caught by the status check on the next run.
    await putSelectors();
    await startLogging();
    return { resource: RESOURCE, name, action: "created", detail: ctx.config.trail.dataEvents ? "with S3 data events" : "management events only", outputs: { trailArn: created?.TrailARN ?? trailArn(ctx) } };
  }

  const arnOfTrail = trail.TrailARN ?? trailArn(ctx);
  const settingsDrift = (Object.keys(desired) as (keyof typeof desired)[]).filter((field) => trail[field] !== desired[field]);
  const drifted: string[] = [...settingsDrift];
  if (settingsDrift.length) {
    await call("updating", "cloudtrail:UpdateTrail", () =>
      cloudtrail.send(
        new UpdateTrailCommand({
          Name: name,
          ...(settingsDrift.includes("S3BucketName") ? { S3BucketName: desired.S3BucketName } : {}),
          ...(settingsDrift.includes("KmsKeyId") ? { KmsKeyId: desired.KmsKeyId } : {}),
          ...(settingsDrift.includes("LogFileValidationEnabled") ? { EnableLogFileValidation: desired.LogFileValidationEnabled } : {}),
          ...(settingsDrift.includes("IsMultiRegionTrail") ? { IsMultiRegionTrail: desired.IsMultiRegionTrail } : {}),
          ...(settingsDrift.includes("IncludeGlobalServiceEvents") ? { IncludeGlobalServiceEvents: desired.IncludeGlobalServiceEvents } : {}),
        }),
      ),
    );
  }
  const current = await step("reading the event selectors of", RESOURCE, name, "cloudtrail:GetEventSelectors", () => cloudtrail.send(new GetEventSelectorsCommand({ TrailName: name })));
  if (!sameSelectors(current, selectors)) {
    drifted.push("EventSelectors");
    await putSelectors();
  }
  const tagged = await step("listing the tags of", RESOURCE, name, "cloudtrail:ListTags", () => cloudtrail.send(new ListTagsCommand({ ResourceIdList: [arnOfTrail] })));
  const tags = Object.fromEntries((tagged.ResourceTagList?.[0]?.TagsList ?? []).map((t) => [t.Key, t.Value]));
  const missing = Object.entries(ctx.tags).filter(([k, v]) => tags[k] !== v);
  if (missing.length) {
    drifted.push("tags");
    await call("tagging", "cloudtrail:AddTags", () => cloudtrail.send(new AddTagsCommand({ ResourceId: arnOfTrail, TagsList: missing.map(([Key, Value]) => ({ Key, Value })) })));
  }
  const status = await step("reading the status of", RESOURCE, name, "cloudtrail:GetTrailStatus", () => cloudtrail.send(new GetTrailStatusCommand({ Name: name })));
  if (!status.IsLogging) {
    drifted.push("logging");
    await startLogging();
  }
  return { resource: RESOURCE, name, action: drifted.length ? "updated" : "unchanged", ...(drifted.length ? { detail: drifted.join(", ") } : {}), outputs: { trailArn: arnOfTrail } };
}

export async function removeTrail(ctx: DeployContext): Promise<StepReport> {
  const name = ctx.names.trail;
  if (!(await findTrail(ctx))) return { resource: RESOURCE, name, action: "absent" };
  await mutate(ctx, () =>
    step("deleting", RESOURCE, name, "cloudtrail:DeleteTrail", async () => {
      try {
        await ctx.clients.cloudtrail.send(new DeleteTrailCommand({ Name: name }));
      } catch (e) {
        if (!isNotFound(e, ...NOT_FOUND)) throw e;
      }
    }),
  );
  return { resource: RESOURCE, name, action: "deleted" };
}
