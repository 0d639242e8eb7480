// Drift, resource by resource: after a deploy, each row changes one setting
// the deploy owns out of band (as a person in the console would), runs that
// resource's step of the stack table again, and expects exactly the call that
// restores it, then nothing on the run after. A setting whose drift went
// unnoticed would fail its row. (API Gateway's rows live in deploy-api tests.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { PutEventSelectorsCommand, StopLoggingCommand, UpdateTrailCommand, RemoveTagsCommand } from "@aws-sdk/client-cloudtrail";
import { PutRetentionPolicyCommand, UntagResourceCommand as UntagLogGroup } from "@aws-sdk/client-cloudwatch-logs";
import { AttachRolePolicyCommand, CreatePolicyVersionCommand, DeleteRolePermissionsBoundaryCommand, PutRolePolicyCommand, UntagRoleCommand, UpdateAssumeRolePolicyCommand } from "@aws-sdk/client-iam";
import { DisableKeyCommand, DisableKeyRotationCommand, PutKeyPolicyCommand, ScheduleKeyDeletionCommand, UntagResourceCommand as UntagKey } from "@aws-sdk/client-kms";
import { DeleteFunctionConcurrencyCommand, DeleteFunctionEventInvokeConfigCommand, UpdateFunctionConfigurationCommand, UntagResourceCommand as UntagFunction } from "@aws-sdk/client-lambda";
import { DeleteBucketCorsCommand, DeleteBucketLifecycleCommand, DeletePublicAccessBlockCommand, PutBucketVersioningCommand, PutObjectLockConfigurationCommand } from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import { createClients, destroyClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import { contextFor, type DeployContext } from "../deploy/context.ts";
import { STACK, type Built } from "../deploy/stack.ts";
import { virtualClock } from "./support/clock.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type Moto } from "./support/moto.ts";
import { fakeZip } from "./support/fake-zip.ts";

const ACCOUNT = "123456789012"; // moto's
const example = JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8"));
const config = parseConfig({ ...example, resizeOnUpload: true });

const ZIP = fakeZip();

let moto: Moto;
let clients: AwsClients;
let direct: AwsClients;
let ctx: DeployContext;
let built: Partial<Built>;
let sent: string[] = [];

before(async () => {
  moto = await startMoto();
  clients = createClients({
    region: MOTO_REGION,
    endpoint: moto.endpoint,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 1,
    observer: (service, command) => {
      if (!isReadOnly(command.replace(/Command$/, ""))) sent.push(`${service}:${command.replace(/Command$/, "")}`);
    },
  });
  direct = createClients({ region: MOTO_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
  ctx = await contextFor({ config, clients, clock: virtualClock() });
  built = {};
  for (const step of STACK) await step.ensure(ctx, built, { zip: ZIP });
});

after(async () => {
  if (clients) destroyClients(clients);
  if (direct) destroyClients(direct);
  await moto?.stop();
});

/** Runs one step of the stack table again; the mutating calls it sent. */
async function rerun(title: string): Promise<{ action: string; detail?: string; calls: string[] }> {
  const step = STACK.find((s) => s.title === title);
  assert.ok(step, `no step ${title}`);
  sent = [];
  const report = await step.ensure(ctx, built, { zip: ZIP });
  return { action: report.action, ...(report.detail ? { detail: report.detail } : {}), calls: sent };
}

interface Row {
  step: string;
  what: string;
  drift(aws: AwsClients): Promise<unknown>;
  restores: string[];
}

const keyId = () => built.imagesKeyArn!.split("/").pop()!;
const names = () => ctx.names;

// Each row leaves the stack as the deploy wants it (its own rerun restores it), so rows run in order on one stack.
const ROWS: Row[] = [
  { step: "images key", what: "rotation disabled", drift: (a) => a.kms.send(new DisableKeyRotationCommand({ KeyId: keyId() })), restores: ["kms:EnableKeyRotation"] },
  { step: "images key", what: "the key disabled", drift: (a) => a.kms.send(new DisableKeyCommand({ KeyId: keyId() })), restores: ["kms:EnableKey"] },
  {
    step: "images key",
    what: "the key pending deletion",
    drift: (a) => a.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId(), PendingWindowInDays: 7 })),
    restores: ["kms:CancelKeyDeletion", "kms:EnableKey"],
  },
  {
    step: "images key",
    what: "its policy replaced",
    drift: (a) => a.kms.send(new PutKeyPolicyCommand({ KeyId: keyId(), PolicyName: "default", Policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "All", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" }] }) })),
    restores: ["kms:PutKeyPolicy"],
  },
  { step: "images key", what: "a stack tag removed", drift: (a) => a.kms.send(new UntagKey({ KeyId: keyId(), TagKeys: ["imgapi:managed-by"] })), restores: ["kms:TagResource"] },
  {
    step: "permissions boundary",
    what: "the boundary widened",
    drift: (a) => a.iam.send(new CreatePolicyVersionCommand({ PolicyArn: built.boundaryArn!, SetAsDefault: true, PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }) })),
    restores: ["iam:CreatePolicyVersion"],
  },
  { step: "function role", what: "its boundary removed", drift: (a) => a.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: names().roleName })), restores: ["iam:PutRolePermissionsBoundary"] },
  {
    step: "function role",
    what: "its trust widened",
    drift: (a) => a.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: names().roleName, PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: ["lambda.amazonaws.com", "ec2.amazonaws.com"] }, Action: "sts:AssumeRole" }] }) })),
    restores: ["iam:UpdateAssumeRolePolicy"],
  },
  { step: "function role", what: "a tag removed", drift: (a) => a.iam.send(new UntagRoleCommand({ RoleName: names().roleName, TagKeys: ["imgapi:managed-by"] })), restores: ["iam:TagRole"] },
  {
    step: "function role policy",
    what: "an extra inline policy and a managed policy added",
    drift: async (a) => {
      await a.iam.send(new PutRolePolicyCommand({ RoleName: names().roleName, PolicyName: "extra", PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] }) }));
      await a.iam.send(new AttachRolePolicyCommand({ RoleName: names().roleName, PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }));
    },
    restores: ["iam:DeleteRolePolicy", "iam:DetachRolePolicy"],
  },
  { step: "images bucket", what: "public access block deleted", drift: (a) => a.s3.send(new DeletePublicAccessBlockCommand({ Bucket: names().imagesBucket })), restores: ["s3:PutPublicAccessBlock"] },
  { step: "images bucket", what: "lifecycle deleted", drift: (a) => a.s3.send(new DeleteBucketLifecycleCommand({ Bucket: names().imagesBucket })), restores: ["s3:PutBucketLifecycleConfiguration"] },
  { step: "images bucket", what: "CORS deleted", drift: (a) => a.s3.send(new DeleteBucketCorsCommand({ Bucket: names().imagesBucket })), restores: ["s3:PutBucketCors"] },
  {
    step: "trail bucket",
    what: "object lock retention shortened to a day",
    drift: (a) => a.s3.send(new PutObjectLockConfigurationCommand({ Bucket: names().trailBucket, ObjectLockConfiguration: { ObjectLockEnabled: "Enabled", Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 1 } } } })),
    restores: ["s3:PutObjectLockConfiguration"],
  },
  { step: "trail bucket", what: "versioning suspended", drift: (a) => a.s3.send(new PutBucketVersioningCommand({ Bucket: names().trailBucket, VersioningConfiguration: { Status: "Suspended" } })), restores: ["s3:PutBucketVersioning"] },
  {
    step: "log groups",
    what: "retention changed",
    drift: (a) => a.logs.send(new PutRetentionPolicyCommand({ logGroupName: names().accessLogGroup, retentionInDays: 1 })),
    restores: ["logs:PutRetentionPolicy"],
  },
  {
    step: "log groups",
    what: "a tag removed",
    drift: (a) => a.logs.send(new UntagLogGroup({ resourceArn: `arn:aws:logs:${MOTO_REGION}:${ACCOUNT}:log-group:${names().functionLogGroup}`, tagKeys: ["imgapi:managed-by"] })),
    restores: ["logs:TagResource"],
  },
  { step: "function", what: "memory changed", drift: (a) => a.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: names().functionName, MemorySize: 512 })), restores: ["lambda:UpdateFunctionConfiguration"] },
  { step: "function", what: "reserved concurrency removed", drift: (a) => a.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: names().functionName })), restores: ["lambda:PutFunctionConcurrency"] },
  { step: "function", what: "a tag removed", drift: (a) => a.lambda.send(new UntagFunction({ Resource: built.functionArn!, TagKeys: ["imgapi:managed-by"] })), restores: ["lambda:TagResource"] },
  {
    // moto's PutFunctionEventInvokeConfig keeps an existing configuration (AWS replaces it), so the drift is its removal: Lambda's default of two retries.
    step: "S3 trigger",
    what: "asynchronous settings back to Lambda's defaults",
    drift: (a) => a.lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: names().functionName })),
    restores: ["lambda:PutFunctionEventInvokeConfig"],
  },
  { step: "trail", what: "logging stopped", drift: (a) => a.cloudtrail.send(new StopLoggingCommand({ Name: names().trail })), restores: ["cloudtrail:StartLogging"] },
  { step: "trail", what: "log file validation off", drift: (a) => a.cloudtrail.send(new UpdateTrailCommand({ Name: names().trail, EnableLogFileValidation: false })), restores: ["cloudtrail:UpdateTrail"] },
  {
    step: "trail",
    what: "data events dropped",
    drift: (a) => a.cloudtrail.send(new PutEventSelectorsCommand({ TrailName: names().trail, EventSelectors: [{ ReadWriteType: "All", IncludeManagementEvents: true, DataResources: [] }] })),
    restores: ["cloudtrail:PutEventSelectors"],
  },
  {
    step: "trail",
    what: "a tag removed",
    drift: (a) => a.cloudtrail.send(new RemoveTagsCommand({ ResourceId: `arn:aws:cloudtrail:${MOTO_REGION}:${ACCOUNT}:trail/${names().trail}`, TagsList: [{ Key: "imgapi:managed-by" }] })),
    restores: ["cloudtrail:AddTags"],
  },
];

describe("drift is repaired with exactly the call that restores it", () => {
  for (const row of ROWS) {
    test(`${row.step}: ${row.what}`, async () => {
      assert.deepEqual((await rerun(row.step)).calls, [], "in step before the drift");
      await row.drift(direct);
      const repaired = await rerun(row.step);
      assert.equal(repaired.action, "updated");
      assert.deepEqual(repaired.calls, row.restores);
      assert.deepEqual((await rerun(row.step)).calls, [], "a run after the repair sends nothing");
    });
  }
});
