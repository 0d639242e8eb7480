// The optional S3 trigger (config resizeOnUpload): every object created under
// the trigger prefixes (function/storage/key-layout.ts: uploads/ for presigned
// uploads, originals/ for POST /images, the console, `aws s3 cp`) invokes the
// function, which writes only under resized/ (and moves a checked upload to
// originals/, whose event then finds every size made and stops): no loop.
// Three parts, made in this order and removed in the reverse one:
//   - the function's permission for s3.amazonaws.com (this bucket, this account);
//   - how Lambda handles these asynchronous events: one retry, not two (a
//     bad upload fails the same way every time), and records of events that
//     failed every attempt written by Lambda under aws/lambda/async/FUNCTION/
//     in the images bucket, where a user can see them
//     (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html);
//   - the bucket's notification configuration, one entry per prefix, which S3
//     refuses while it cannot validate that it may invoke the function.
// Any other notification a user configured on the bucket is kept as it is.
import {
  DeleteFunctionEventInvokeConfigCommand,
  GetFunctionEventInvokeConfigCommand,
  PutFunctionEventInvokeConfigCommand,
} from "@aws-sdk/client-lambda";
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  type LambdaFunctionConfiguration,
  type NotificationConfiguration,
} from "@aws-sdk/client-s3";
import { FAILED_EVENTS_PREFIX, TRIGGER_PREFIXES } from "../../function/storage/key-layout.ts";
import { bucketArn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { step } from "../errors.ts";
import { Changes, ignoreAbsent, orAbsent, PROPAGATION, retryWhilePropagating } from "../toolkit/index.ts";
import { ensureInvokeStatement, removeInvokeStatement } from "./lambda-permission.ts";

const RESOURCE = "S3 trigger (resizeOnUpload)";
/** Fixed ids, so every run finds what an earlier one made and nothing else: one per prefix. */
export const NOTIFICATION_ID_PREFIX = "imgapi-resize-on-upload";
export const notificationId = (prefix: string) => `${NOTIFICATION_ID_PREFIX}-${prefix.replace(/\/$/, "")}`;
export const S3_STATEMENT_ID = "imgapi-s3-invoke";
export const TRIGGER_EVENTS = ["s3:ObjectCreated:*"] as const;
/** Asynchronous events: Lambda retries twice by default; once is enough for a transient failure. */
export const MAX_RETRY_ATTEMPTS = 1;
/** An upload not handled within an hour is handled on its first GET instead. */
export const MAX_EVENT_AGE_SECONDS = 3600;

const displayName = (ctx: DeployContext) => `s3://${ctx.names.imagesBucket}/{${TRIGGER_PREFIXES.join(",")}}`;
const isOurs = (c: LambdaFunctionConfiguration) => c.Id?.startsWith(NOTIFICATION_ID_PREFIX) === true;

export function triggerConfigurations(functionArn: string): LambdaFunctionConfiguration[] {
  return TRIGGER_PREFIXES.map((prefix) => ({
    Id: notificationId(prefix),
    LambdaFunctionArn: functionArn,
    Events: [...TRIGGER_EVENTS],
    Filter: { Key: { FilterRules: [{ Name: "prefix", Value: prefix }] } },
  }));
}

/** The bucket's whole notification configuration; empty when the bucket does not exist yet (dry run). */
async function readNotifications(ctx: DeployContext): Promise<NotificationConfiguration> {
  const got = await step("reading the notifications of", RESOURCE, displayName(ctx), "s3:GetBucketNotification", () =>
    orAbsent("s3", () => ctx.clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: ctx.names.imagesBucket }))),
  );
  return {
    ...(got?.TopicConfigurations?.length ? { TopicConfigurations: got.TopicConfigurations } : {}),
    ...(got?.QueueConfigurations?.length ? { QueueConfigurations: got.QueueConfigurations } : {}),
    ...(got?.LambdaFunctionConfigurations?.length ? { LambdaFunctionConfigurations: got.LambdaFunctionConfigurations } : {}),
    ...(got?.EventBridgeConfiguration ? { EventBridgeConfiguration: got.EventBridgeConfiguration } : {}),
  };
}

/** Our configurations as comparable text (S3 reports the filter rule's name as "Prefix"; case is not meaningful). */
const canonical = (configs: LambdaFunctionConfiguration[]) =>
  JSON.stringify(
    configs
      .map((c) => ({
        id: c.Id,
        fn: c.LambdaFunctionArn,
        events: [...(c.Events ?? [])].sort(),
        rules: (c.Filter?.Key?.FilterRules ?? []).map((r) => `${String(r.Name).toLowerCase()}=${r.Value}`).sort(),
      }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id))),
  );

const withoutOurs = (config: NotificationConfiguration): NotificationConfiguration => {
  const others = (config.LambdaFunctionConfigurations ?? []).filter((c) => !isOurs(c));
  const { LambdaFunctionConfigurations: _ours, ...rest } = config;
  return { ...rest, ...(others.length ? { LambdaFunctionConfigurations: others } : {}) };
};

function putNotifications(ctx: DeployContext, changes: Changes, label: string, config: NotificationConfiguration) {
  return changes.apply(label, "s3:PutBucketNotification", () =>
    // S3 checks it may invoke the function; a permission added a moment ago may not be visible yet.
    retryWhilePropagating(ctx, PROPAGATION.permissionToS3, () =>
      ctx.clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: ctx.names.imagesBucket, NotificationConfiguration: config })),
    ), "configuring");
}

async function ensureEventInvokeConfig(ctx: DeployContext, changes: Changes): Promise<void> {
  const { lambda } = ctx.clients;
  const FunctionName = ctx.names.functionName;
  const destination = bucketArn(ctx, ctx.names.imagesBucket);
  const current = await step("reading the asynchronous settings of", RESOURCE, FunctionName, "lambda:GetFunctionEventInvokeConfig", () =>
    orAbsent("lambda", () => lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))),
  );
  const same =
    current?.MaximumRetryAttempts === MAX_RETRY_ATTEMPTS &&
    current.MaximumEventAgeInSeconds === MAX_EVENT_AGE_SECONDS &&
    current.DestinationConfig?.OnFailure?.Destination === destination &&
    current.DestinationConfig?.OnSuccess?.Destination === undefined;
  if (same) return;
  await changes.apply("retries and failed-event records", "lambda:PutFunctionEventInvokeConfig", () =>
    lambda.send(
      new PutFunctionEventInvokeConfigCommand({
        FunctionName,
        MaximumRetryAttempts: MAX_RETRY_ATTEMPTS,
        MaximumEventAgeInSeconds: MAX_EVENT_AGE_SECONDS,
        // Lambda names the objects itself (aws/lambda/async/FUNCTION/...): the role may write only there.
        DestinationConfig: { OnFailure: { Destination: destination } },
      }),
    ), "configuring");
}

export interface BucketNotificationDeps {
  functionArn: string;
}

export async function ensureBucketNotification(ctx: DeployContext, deps: BucketNotificationDeps): Promise<StepReport> {
  const changes = new Changes(ctx, RESOURCE, displayName(ctx));
  const permission = await ensureInvokeStatement(ctx, {
    sid: S3_STATEMENT_ID,
    principal: "s3.amazonaws.com",
    sourceArn: bucketArn(ctx, ctx.names.imagesBucket),
    sourceAccount: ctx.account,
    resource: RESOURCE,
  });
  if (permission.action !== "unchanged") changes.note(`permission ${permission.action}${permission.action === "updated" && permission.detail ? ` (${permission.detail})` : ""}`);
  await ensureEventInvokeConfig(ctx, changes);
  const current = await readNotifications(ctx);
  const desired = triggerConfigurations(deps.functionArn);
  const ours = (current.LambdaFunctionConfigurations ?? []).filter(isOurs);
  const created = ours.length === 0 && permission.action === "created";
  if (canonical(ours) !== canonical(desired)) {
    const others = withoutOurs(current);
    await putNotifications(ctx, changes, ours.length === 0 ? "notification" : "notification (drifted)", {
      ...others,
      LambdaFunctionConfigurations: [...(others.LambdaFunctionConfigurations ?? []), ...desired],
    });
  }
  return changes.report(created, created ? `${TRIGGER_EVENTS.join()} under ${TRIGGER_PREFIXES.join(" and ")} invokes ${ctx.names.functionName}; failed events recorded under ${FAILED_EVENTS_PREFIX}${ctx.names.functionName}/` : undefined);
}

/** The notification first (so S3 stops sending events), then the asynchronous settings and the permission. Other notifications stay. */
export async function removeBucketNotification(ctx: DeployContext): Promise<StepReport> {
  const changes = new Changes(ctx, RESOURCE, displayName(ctx));
  const current = await readNotifications(ctx);
  if (current.LambdaFunctionConfigurations?.some(isOurs)) await putNotifications(ctx, changes, "notification", withoutOurs(current));
  const FunctionName = ctx.names.functionName;
  const invokeConfig = await step("reading the asynchronous settings of", RESOURCE, FunctionName, "lambda:GetFunctionEventInvokeConfig", () =>
    orAbsent("lambda", () => ctx.clients.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName }))),
  );
  if (invokeConfig !== undefined) {
    await changes.apply("asynchronous settings", "lambda:DeleteFunctionEventInvokeConfig", () =>
      ignoreAbsent("lambda", () => ctx.clients.lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName }))), "removing");
  }
  if ((await removeInvokeStatement(ctx, S3_STATEMENT_ID, RESOURCE)).action === "deleted") changes.note("permission");
  const name = displayName(ctx);
  return changes.changed ? { resource: RESOURCE, name, action: "deleted", detail: changes.list.join(", ") } : { resource: RESOURCE, name, action: "absent" };
}
