// The optional S3 trigger (config resizeOnUpload): every object created under
// originals/ in the images bucket, by any route (POST /images, a presigned PUT,
// the console, `aws s3 cp`), invokes the function, which writes only under
// resized/. The filter on originals/ is what makes a loop impossible: the
// function's own outputs never match it. Two parts, made in this order and
// removed in the reverse one: the function's permission for s3.amazonaws.com
// (this bucket, this account), then the bucket's notification configuration,
// which S3 refuses while it cannot validate that it may invoke the function.
// Any other notification a user configured on the bucket is kept as it is.
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  type LambdaFunctionConfiguration,
  type NotificationConfiguration,
} from "@aws-sdk/client-s3";
import { setTimeout as delay } from "node:timers/promises";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { errorName, isNotFound, step } from "../errors.ts";
import { bucketArn } from "../arns.ts";
import { ensureInvokeStatement, removeInvokeStatement } from "./lambda-permission.ts";

const RESOURCE = "S3 trigger (resizeOnUpload)";
/** Fixed ids, so every run finds what an earlier one made and nothing else. */
export const NOTIFICATION_ID = "imgapi-resize-on-upload";
export const S3_STATEMENT_ID = "imgapi-s3-invoke";
/** The only prefix that triggers the function; it writes under resized/, never here. */
export const TRIGGER_PREFIX = "originals/";
export const TRIGGER_EVENTS = ["s3:ObjectCreated:*"] as const;
/** How long S3 may take to see the permission Lambda just added (it validates the destination). */
export const PERMISSION_PROPAGATION_TIMEOUT_MS = 30_000;

const displayName = (ctx: DeployContext) => `s3://${ctx.names.imagesBucket}/${TRIGGER_PREFIX}`;

export function triggerConfiguration(functionArn: string): LambdaFunctionConfiguration {
  return {
    Id: NOTIFICATION_ID,
    LambdaFunctionArn: functionArn,
    Events: [...TRIGGER_EVENTS],
    Filter: { Key: { FilterRules: [{ Name: "prefix", Value: TRIGGER_PREFIX }] } },
  };
}

/** The bucket's whole notification configuration; empty when the bucket does not exist yet (dry run). */
async function readNotifications(ctx: DeployContext): Promise<NotificationConfiguration> {
  const got = await step("reading the notifications of", RESOURCE, displayName(ctx), "s3:GetBucketNotification", async () => {
    try {
      return await ctx.clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: ctx.names.imagesBucket }));
    } catch (e) {
      if (isNotFound(e, "NoSuchBucket")) return undefined;
      throw e;
    }
  });
  return {
    ...(got?.TopicConfigurations?.length ? { TopicConfigurations: got.TopicConfigurations } : {}),
    ...(got?.QueueConfigurations?.length ? { QueueConfigurations: got.QueueConfigurations } : {}),
    ...(got?.LambdaFunctionConfigurations?.length ? { LambdaFunctionConfigurations: got.LambdaFunctionConfigurations } : {}),
    ...(got?.EventBridgeConfiguration ? { EventBridgeConfiguration: got.EventBridgeConfiguration } : {}),
  };
}

/** Which fields of our configuration differ (S3 reports the filter rule's name as "Prefix"; case is not meaningful). */
function triggerDrift(actual: LambdaFunctionConfiguration, functionArn: string): string[] {
  const fields: string[] = [];
  if (actual.LambdaFunctionArn !== functionArn) fields.push("function");
  if ([...(actual.Events ?? [])].sort().join() !== [...TRIGGER_EVENTS].join()) fields.push("events");
  const rules = (actual.Filter?.Key?.FilterRules ?? []).map((r) => `${String(r.Name).toLowerCase()}=${r.Value}`);
  if (rules.length !== 1 || rules[0] !== `prefix=${TRIGGER_PREFIX}`) fields.push("filter");
  return fields;
}

const withoutOurs = (config: NotificationConfiguration): NotificationConfiguration => {
  const others = (config.LambdaFunctionConfigurations ?? []).filter((c) => c.Id !== NOTIFICATION_ID);
  const { LambdaFunctionConfigurations: _ours, ...rest } = config;
  return { ...rest, ...(others.length ? { LambdaFunctionConfigurations: others } : {}) };
};

const isDestinationNotValidated = (e: unknown) => errorName(e) === "InvalidArgument" && /unable to validate/i.test((e as Error).message ?? "");

async function putNotifications(ctx: DeployContext, config: NotificationConfiguration, what: string): Promise<void> {
  const deadline = Date.now() + PERMISSION_PROPAGATION_TIMEOUT_MS;
  await mutate(ctx, () =>
    step(what, RESOURCE, displayName(ctx), "s3:PutBucketNotification", async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await ctx.clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: ctx.names.imagesBucket, NotificationConfiguration: config }));
        } catch (e) {
          // S3 checks it may invoke the function; a permission added a moment ago may not be visible yet.
          if (!isDestinationNotValidated(e) || Date.now() >= deadline) throw e;
          await delay(Math.min(1_000 * 2 ** attempt, 8_000, Math.max(0, deadline - Date.now())));
        }
      }
    }),
  );
}

export interface BucketNotificationDeps {
  functionArn: string;
}

/** With resizeOnUpload: the permission, then the notification. Without: removes both if present. */
export async function ensureBucketNotification(ctx: DeployContext, deps: BucketNotificationDeps): Promise<StepReport> {
  const name = displayName(ctx);
  if (!ctx.config.resizeOnUpload) {
    const removed = await removeBucketNotification(ctx);
    return removed.action === "absent" ? { resource: RESOURCE, name, action: "unchanged", detail: "off (resizeOnUpload is false)" } : { ...removed, detail: `turned off: ${removed.detail}` };
  }

  const permission = await ensureInvokeStatement(ctx, {
    sid: S3_STATEMENT_ID,
    principal: "s3.amazonaws.com",
    sourceArn: bucketArn(ctx, ctx.names.imagesBucket),
    sourceAccount: ctx.account,
    resource: RESOURCE,
  });
  const current = await readNotifications(ctx);
  const ours = current.LambdaFunctionConfigurations?.find((c) => c.Id === NOTIFICATION_ID);
  const drifted = ours === undefined ? [] : triggerDrift(ours, deps.functionArn);
  if (ours === undefined || drifted.length > 0) {
    const others = withoutOurs(current);
    const desired = { ...others, LambdaFunctionConfigurations: [...(others.LambdaFunctionConfigurations ?? []), triggerConfiguration(deps.functionArn)] };
    await putNotifications(ctx, desired, "adding the trigger to");
  }

  const notification: StepReport["action"] = ours === undefined ? "created" : drifted.length ? "updated" : "unchanged";
  if (permission.action === "unchanged" && notification === "unchanged") return { resource: RESOURCE, name, action: "unchanged" };
  if (permission.action === "created" && notification === "created") {
    return { resource: RESOURCE, name, action: "created", detail: `${TRIGGER_EVENTS.join()} under ${TRIGGER_PREFIX} invokes ${ctx.names.functionName}` };
  }
  const detail = [
    ...(permission.action === "unchanged" ? [] : [`permission ${permission.action}${permission.detail && permission.action === "updated" ? ` (${permission.detail})` : ""}`]),
    ...(notification === "unchanged" ? [] : [`notification ${notification}${drifted.length ? ` (${drifted.join(", ")})` : ""}`]),
  ].join(", ");
  return { resource: RESOURCE, name, action: "updated", detail };
}

/** The notification first (so S3 stops sending events), then the permission. Other notifications stay. */
export async function removeBucketNotification(ctx: DeployContext): Promise<StepReport> {
  const name = displayName(ctx);
  const removed: string[] = [];
  const current = await readNotifications(ctx);
  if (current.LambdaFunctionConfigurations?.some((c) => c.Id === NOTIFICATION_ID)) {
    await putNotifications(ctx, withoutOurs(current), "removing the trigger from");
    removed.push("notification");
  }
  if ((await removeInvokeStatement(ctx, S3_STATEMENT_ID, RESOURCE)).action === "deleted") removed.push("permission");
  return removed.length ? { resource: RESOURCE, name, action: "deleted", detail: removed.join(" and ") } : { resource: RESOURCE, name, action: "absent" };
}

