// The deploy's resource modules against moto: each ensure creates its resource
// with every security setting (read back here with the SDK), a second ensure
// sends no mutating call, drift is fixed field by field, a dry run changes
// nothing, a run interrupted at any mutating call is finished by the next one,
// and remove keeps data unless told otherwise.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  CloudTrailClient,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  ListTagsCommand,
  StopLoggingCommand,
  UpdateTrailCommand,
} from "@aws-sdk/client-cloudtrail";
import { CloudWatchLogsClient, DescribeLogGroupsCommand, ListTagsForResourceCommand, PutRetentionPolicyCommand } from "@aws-sdk/client-cloudwatch-logs";
import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from "@aws-sdk/client-iam";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import {
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetBucketCorsCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { parseConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createClients, destroyClients, isReadOnly, type AwsClients } from "../deploy/aws-clients.ts";
import type { DeployContext, StepReport } from "../deploy/context.ts";
import { DeployError } from "../deploy/errors.ts";
import { resourceNames, stackTags } from "../deploy/names.ts";
import { bucketHasData, ensureImagesBucket, removeImagesBucket } from "../deploy/resources/images-bucket.ts";
import { ensureAuditKey, ensureKmsKey, removeKmsKey } from "../deploy/resources/kms-key.ts";
import {
  ensureLambdaRole,
  ensureLambdaRolePolicy,
  lambdaRolePolicyName,
  removeLambdaRole,
} from "../deploy/resources/lambda-role.ts";
import type { PolicyStatement } from "../deploy/policies/document.ts";
import { ensureLogGroups, removeLogGroups } from "../deploy/resources/log-groups.ts";
import { ensureTrail, removeTrail } from "../deploy/resources/trail.ts";
import { ensureTrailBucket, removeTrailBucket } from "../deploy/resources/trail-bucket.ts";
import { virtualClock } from "./support/clock.ts";
import { MOTO_CREDENTIALS, clientConfig, s3ClientConfig, startMoto, type Moto } from "./support/moto.ts";
import { interruptionPoints } from "./support/interruptions.ts";

const ACCOUNT = "123456789012"; // moto's
const REGION = "us-east-1";
const config = parseConfig(JSON.parse(readFileSync(new URL("../config.example.json", import.meta.url), "utf8")));
const names = resourceNames(config.stackName, ACCOUNT, REGION);
// A tag beyond the stack's own, to see ctx.tags (not just stackTags) applied.
const TAGS = { ...stackTags(config.stackName), team: "images" };

let moto: Moto;
let clients: AwsClients;
/** What the modules sent; the assertions below read with their own clients, not recorded. */
const sent: { service: string; command: string }[] = [];
/** When set, the n-th mutating command (1-based) throws, as a crash would stop the run there. */
let failAtMutation: number | undefined;
let aws: { s3: S3Client; iam: IAMClient; kms: KMSClient; logs: CloudWatchLogsClient; cloudtrail: CloudTrailClient };

const mutating = () => sent.filter((c) => !isReadOnly(c.command)).map((c) => c.command.replace(/Command$/, ""));

function context(opts: { dryRun?: boolean; config?: Config } = {}): DeployContext {
  return {
    config: opts.config ?? config,
    clients,
    names,
    account: ACCOUNT,
    region: REGION,
    partition: "aws",
    tags: TAGS,
    dryRun: opts.dryRun ?? false,
    clock: virtualClock(),
    progress: () => {},
  };
}

before(async () => {
  moto = await startMoto();
  clients = createClients({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: MOTO_CREDENTIALS,
    maxAttempts: 1,
    observer: (service, command) => {
      sent.push({ service, command });
      if (failAtMutation !== undefined && !isReadOnly(command) && sent.filter((c) => !isReadOnly(c.command)).length === failAtMutation) {
        throw Object.assign(new Error(`interrupted before ${command}`), { name: "Interrupted" });
      }
    },
  });
  aws = {
    s3: new S3Client(s3ClientConfig(moto)),
    iam: new IAMClient(clientConfig(moto)),
    kms: new KMSClient(clientConfig(moto)),
    logs: new CloudWatchLogsClient(clientConfig(moto)),
    cloudtrail: new CloudTrailClient(clientConfig(moto)),
  };
});

after(async () => {
  destroyClients(clients);
  for (const client of Object.values(aws)) client.destroy();
  await moto.stop();
});

beforeEach(async () => {
  await moto.reset();
  sent.length = 0;
  failAtMutation = undefined;
});

/** The role's permissions boundary (deploy makes the policy first; these tests only name it). */
const BOUNDARY = { boundaryArn: `arn:aws:iam::${ACCOUNT}:policy/${names.boundaryPolicy}` };

/** Runs an ensure and returns its report with the mutating commands it sent. */
async function run<R extends StepReport>(ensure: () => Promise<R>): Promise<{ report: R; mutations: string[] }> {
  sent.length = 0;
  const report = await ensure();
  return { report, mutations: mutating() };
}

/** The resources the trail and role policy need, in deploy order. */
async function deployFoundation(ctx = context()) {
  const { outputs: role } = await ensureLambdaRole(ctx, BOUNDARY);
  const { outputs: key } = await ensureKmsKey(ctx, { roleArn: role.roleArn });
  const { outputs: audit } = await ensureAuditKey(ctx);
  await ensureImagesBucket(ctx, { keyArn: key.keyArn });
  await ensureTrailBucket(ctx, { keyArn: audit.keyArn });
  return { roleArn: role.roleArn, ...key, auditKeyArn: audit.keyArn };
}

/** The whole sequence this file's modules make, in the orchestrator's order. */
async function deployAll(ctx: DeployContext): Promise<StepReport[]> {
  const role = await ensureLambdaRole(ctx, BOUNDARY);
  const key = await ensureKmsKey(ctx, { roleArn: role.outputs.roleArn });
  const audit = await ensureAuditKey(ctx);
  const images = await ensureImagesBucket(ctx, { keyArn: key.outputs.keyArn });
  const trailBucket = await ensureTrailBucket(ctx, { keyArn: audit.outputs.keyArn });
  const logs = await ensureLogGroups(ctx);
  const policy = await ensureLambdaRolePolicy(ctx, { keyArn: key.outputs.keyArn });
  const trail = await ensureTrail(ctx, { keyArn: audit.outputs.keyArn });
  return [role, key, audit, images, trailBucket, logs, policy, trail];
}

async function liveTaggedKeys(): Promise<string[]> {
  const live: string[] = [];
  for (const key of (await aws.kms.send(new ListKeysCommand({}))).Keys ?? []) {
    const tags = (await aws.kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags ?? [];
    if (!tags.some((t) => t.TagKey === "imgapi:stack" && t.TagValue === config.stackName)) continue;
    const meta = (await aws.kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata;
    if (meta?.KeyState !== "PendingDeletion") live.push(key.KeyId!);
  }
  return live;
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const statement = (policy: string | undefined, sid: string): PolicyStatement => {
  const found = (JSON.parse(policy ?? "{}").Statement as PolicyStatement[]).find((s) => s.Sid === sid);
  assert.ok(found, `statement ${sid} in ${policy}`);
  return found;
};

describe("lambda role", () => {
  test("is created trusted by Lambda only, tagged, then left alone", async () => {
    const { report, mutations } = await run(() => ensureLambdaRole(context(), BOUNDARY));
    assert.equal(report.action, "created");
    assert.deepEqual(mutations, ["CreateRole"]);
    assert.equal(report.outputs.roleArn, `arn:aws:iam::${ACCOUNT}:role/${names.roleName}`);

    const role = (await aws.iam.send(new GetRoleCommand({ RoleName: names.roleName }))).Role!;
    const trust = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!));
    assert.deepEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    assert.deepEqual(Object.fromEntries(role.Tags!.map((t) => [t.Key, t.Value])), TAGS);

    const again = await run(() => ensureLambdaRole(context(), BOUNDARY));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, []);
  });

  test("a widened trust policy is put back, and only that", async () => {
    await ensureLambdaRole(context(), BOUNDARY);
    const wider = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: ["lambda.amazonaws.com", "ec2.amazonaws.com"] }, Action: "sts:AssumeRole" }] };
    await aws.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: names.roleName, PolicyDocument: JSON.stringify(wider) }));

    const { report, mutations } = await run(() => ensureLambdaRole(context(), BOUNDARY));
    assert.equal(report.action, "updated");
    assert.equal(report.detail, "trust policy");
    assert.deepEqual(mutations, ["UpdateAssumeRolePolicy"]);
  });

  test("its inline policy has no wildcard action or resource and names exactly what the handler uses", async () => {
    const { keyArn } = await deployFoundation();
    const { report } = await run(() => ensureLambdaRolePolicy(context(), { keyArn }));
    assert.equal(report.action, "created");

    const got = await aws.iam.send(new GetRolePolicyCommand({ RoleName: names.roleName, PolicyName: lambdaRolePolicyName(context()) }));
    const doc = JSON.parse(decodeURIComponent(got.PolicyDocument!)) as { Statement: PolicyStatement[] };
    const actions = doc.Statement.flatMap((s) => list(s.Action));
    const resources = doc.Statement.flatMap((s) => list(s.Resource));
    assert.ok(actions.every((a) => !a.includes("*")), `wildcard action in ${actions}`);
    assert.ok(resources.every((r) => r !== "*"), `"*" resource in ${resources}`);
    assert.ok(doc.Statement.every((s) => s.Effect === "Allow" && !("NotAction" in s) && !("NotResource" in s)));
    // What each statement allows and denies is proved by the policy-engine tests (test/policy-*.test.ts).
    assert.ok(resources.every((r) => r.includes(names.imagesBucket) || r.includes(names.functionLogGroup)), `only the images bucket and the function's log group: ${resources}`);
  });

  test("a changed inline policy is rewritten and an extra one removed", async () => {
    const { keyArn } = await deployFoundation();
    await ensureLambdaRolePolicy(context(), { keyArn });
    const policyName = lambdaRolePolicyName(context());
    const broad = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] });
    await aws.iam.send(new PutRolePolicyCommand({ RoleName: names.roleName, PolicyName: policyName, PolicyDocument: broad }));
    await aws.iam.send(new PutRolePolicyCommand({ RoleName: names.roleName, PolicyName: "added-by-hand", PolicyDocument: broad }));

    const { report, mutations } = await run(() => ensureLambdaRolePolicy(context(), { keyArn }));
    assert.equal(report.action, "updated");
    assert.equal(report.detail, "inline policy, extra inline policy added-by-hand removed");
    assert.deepEqual(mutations, ["PutRolePolicy", "DeleteRolePolicy"]);
    const left = await aws.iam.send(new ListRolePoliciesCommand({ RoleName: names.roleName }));
    assert.deepEqual(left.PolicyNames, [policyName]);
  });

  test("remove deletes its policies and the role, then finds it absent", async () => {
    const { keyArn } = await deployFoundation();
    await ensureLambdaRolePolicy(context(), { keyArn });
    assert.equal((await removeLambdaRole(context())).action, "deleted");
    await assert.rejects(aws.iam.send(new GetRoleCommand({ RoleName: names.roleName })), { name: "NoSuchEntityException" });
    assert.equal((await removeLambdaRole(context())).action, "absent");
  });
});

describe("KMS key", () => {
  test("is created with alias, rotation, tags and its policy, then left alone", async () => {
    const { outputs: role } = await ensureLambdaRole(context(), BOUNDARY);
    const { report, mutations } = await run(() => ensureKmsKey(context(), { roleArn: role.roleArn }));
    assert.equal(report.action, "created");
    assert.deepEqual(mutations, ["CreateKey", "CreateAlias", "EnableKeyRotation"]);
    const { keyArn, keyId } = report.outputs;
    assert.match(keyArn, new RegExp(`^arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}$`));

    const aliases = (await aws.kms.send(new ListAliasesCommand({}))).Aliases ?? [];
    assert.equal(aliases.find((a) => a.AliasName === names.kmsAlias)?.TargetKeyId, keyId);
    assert.equal((await aws.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled, true);
    const tags = (await aws.kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags ?? [];
    assert.deepEqual(Object.fromEntries(tags.map((t) => [t.TagKey, t.TagValue])), { ...TAGS, "imgapi:key": "images" });

    const { Policy: policy } = await aws.kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: "default" }));
    // What the policy allows and denies is proved by the policy-engine tests; here, that it is the images key's.
    assert.ok(JSON.parse(policy!).Statement.some((st: PolicyStatement) => JSON.stringify(st.Principal).includes(role.roleArn)), "the policy names the function's role");
    const again = await run(() => ensureKmsKey(context(), { roleArn: role.roleArn }));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, []);
    assert.deepEqual(again.report.outputs, report.outputs);
  });

  test("disabled rotation and a changed policy are fixed, nothing else", async () => {
    const { roleArn, keyId } = await deployFoundation();
    await aws.kms.send(new DisableKeyRotationCommand({ KeyId: keyId }));
    const rotation = await run(() => ensureKmsKey(context(), { roleArn }));
    assert.equal(rotation.report.action, "updated");
    assert.equal(rotation.report.detail, "rotation");
    assert.deepEqual(rotation.mutations, ["EnableKeyRotation"]);

    // The same policy for another role: a principal drifted.
    const other = await run(() => ensureKmsKey(context(), { roleArn: `arn:aws:iam::${ACCOUNT}:role/someone-else` }));
    assert.equal(other.report.detail, "policy");
    assert.deepEqual(other.mutations, ["PutKeyPolicy"]);
    assert.equal((await run(() => ensureKmsKey(context(), { roleArn }))).report.detail, "policy");
    assert.equal((await run(() => ensureKmsKey(context(), { roleArn }))).report.action, "unchanged");
  });

  test("a key left without its alias by an interrupted run is found by its tags and reused", async () => {
    const { outputs: role } = await ensureLambdaRole(context(), BOUNDARY);
    const tags = Object.entries(TAGS).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    // A key of an earlier teardown, pending deletion: never to be picked up again.
    const old = await aws.kms.send(new CreateKeyCommand({ Tags: tags }));
    await aws.kms.send(new ScheduleKeyDeletionCommand({ KeyId: old.KeyMetadata!.KeyId, PendingWindowInDays: 7 }));
    const orphan = await aws.kms.send(new CreateKeyCommand({ Tags: tags }));

    const { report, mutations } = await run(() => ensureKmsKey(context(), { roleArn: role.roleArn }));
    assert.equal(report.action, "updated");
    assert.equal(report.outputs.keyId, orphan.KeyMetadata!.KeyId);
    // The key of an older run carries no purpose tag yet: it counts as the images key, and gets the tag.
    assert.equal(report.detail, "alias, policy, rotation, tags");
    assert.ok(!mutations.includes("CreateKey"));
    assert.deepEqual(await liveTaggedKeys(), [orphan.KeyMetadata!.KeyId]);
    const aliases = (await aws.kms.send(new ListAliasesCommand({}))).Aliases ?? [];
    assert.equal(aliases.find((a) => a.AliasName === names.kmsAlias)?.TargetKeyId, orphan.KeyMetadata!.KeyId);
  });

  test("remove keeps the key without --delete-data or while data remains, else schedules its deletion in 7 days", async () => {
    const { keyId } = await deployFoundation();
    const kept = await removeKmsKey(context(), { dataRemains: true });
    assert.equal(kept.action, "kept");
    assert.match(kept.detail ?? "", /still hold images or audit logs.*unreadable.*--delete-data/);
    assert.equal((await aws.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState, "Enabled");

    sent.length = 0;
    const removed = await removeKmsKey(context(), { dataRemains: false });
    assert.equal(removed.action, "deleted");
    assert.match(removed.detail ?? "", /scheduled for deletion in 7 days/);
    assert.deepEqual(mutating(), ["DeleteAlias", "ScheduleKeyDeletion"]);
    const meta = (await aws.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    assert.equal(meta?.KeyState, "PendingDeletion");
    const days = (meta!.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `deletion in ${days} days`);
    assert.ok(!((await aws.kms.send(new ListAliasesCommand({}))).Aliases ?? []).some((a) => a.AliasName === names.kmsAlias));
    assert.equal((await removeKmsKey(context(), { dataRemains: false })).action, "absent");
  });

  test("remove interrupted after deleting the alias finishes on the next run", async () => {
    const { keyId } = await deployFoundation();
    sent.length = 0;
    failAtMutation = 2; // DeleteAlias goes through, ScheduleKeyDeletion does not
    await assert.rejects(removeKmsKey(context(), { dataRemains: false }), /interrupted before ScheduleKeyDeletion/);
    failAtMutation = undefined;
    assert.equal((await removeKmsKey(context(), { dataRemains: false })).action, "deleted");
    assert.equal((await aws.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState, "PendingDeletion");
  });
});

describe("buckets", () => {
  test("the images bucket is created hardened: no public access, owner-enforced, SSE-KMS with bucket key, TLS only, multipart cleanup, tags", async () => {
    const { outputs: role } = await ensureLambdaRole(context(), BOUNDARY);
    const { outputs: key } = await ensureKmsKey(context(), { roleArn: role.roleArn });
    const { report, mutations } = await run(() => ensureImagesBucket(context(), { keyArn: key.keyArn }));
    assert.equal(report.action, "created");
    assert.deepEqual(report.outputs, { bucketName: names.imagesBucket, bucketArn: `arn:aws:s3:::${names.imagesBucket}` });
    assert.deepEqual(mutations, [
      "CreateBucket",
      "PutPublicAccessBlock",
      "PutBucketOwnershipControls",
      "PutBucketEncryption",
      "PutBucketTagging",
      "PutBucketPolicy",
      "PutBucketLifecycleConfiguration",
      "PutBucketCors",
    ]);

    const Bucket = names.imagesBucket;
    const pab = (await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration;
    assert.deepEqual(pab, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    const ownership = (await aws.s3.send(new GetBucketOwnershipControlsCommand({ Bucket }))).OwnershipControls?.Rules;
    assert.deepEqual(ownership, [{ ObjectOwnership: "BucketOwnerEnforced" }]);
    const sse = (await aws.s3.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration?.Rules?.[0];
    assert.equal(sse?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, "aws:kms");
    assert.equal(sse?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID, key.keyArn);
    assert.equal(sse?.BucketKeyEnabled, true);
    const lifecycle = (await aws.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules ?? [];
    assert.deepEqual(lifecycle.map((r) => [r.ID, r.Status, r.Filter?.Prefix ?? "", r.AbortIncompleteMultipartUpload?.DaysAfterInitiation, r.Expiration?.Days]).sort(), [
      ["abort-incomplete-multipart-uploads", "Enabled", "", 1, undefined],
      ["expire-unchecked-uploads", "Enabled", "uploads/", undefined, 1],
    ]);
    // Browsers PUT through presigned URLs and follow redirects to large variants from the configured origins.
    const cors = (await aws.s3.send(new GetBucketCorsCommand({ Bucket }))).CORSRules ?? [];
    assert.deepEqual(cors.map((r) => [r.AllowedOrigins, [...(r.AllowedMethods ?? [])].sort(), r.AllowedHeaders, r.ExposeHeaders]), [[config.cors.origins, ["GET", "HEAD", "PUT"], ["Content-Type"], ["ETag"]]]);
    const tags = (await aws.s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet ?? [];
    assert.deepEqual(Object.fromEntries(tags.map((t) => [t.Key, t.Value])), TAGS);
    // Asserted on the document: moto enforces a Deny but ignores its Condition, so objects cannot be written here now.
    const { Policy } = await aws.s3.send(new GetBucketPolicyCommand({ Bucket }));
    const deny = statement(Policy, "DenyInsecureTransport");
    assert.equal(deny.Effect, "Deny");
    assert.equal(deny.Principal, "*");
    assert.deepEqual(list(deny.Action), ["s3:*"]);
    assert.deepEqual(list(deny.Resource).sort(), [`arn:aws:s3:::${Bucket}`, `arn:aws:s3:::${Bucket}/*`]);
    assert.deepEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
    assert.equal(JSON.parse(Policy!).Statement.length, 1);

    const again = await run(() => ensureImagesBucket(context(), { keyArn: key.keyArn }));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, []);
  });

  test("the trail bucket is encrypted with the audit key without a Bucket Key, versioned and object-locked, with CloudTrail's grants and no lifecycle rule", async () => {
    const { auditKeyArn } = await deployFoundation();
    const Bucket = names.trailBucket;
    const sse = (await aws.s3.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration?.Rules?.[0];
    assert.equal(sse?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID, auditKeyArn);
    // With a Bucket Key CloudTrail would need kms:Decrypt to create the trail (CloudTrail user guide, KMS key policies).
    assert.equal(sse?.BucketKeyEnabled ?? false, false);
    assert.equal((await aws.s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, "Enabled");
    // Governance-mode Object Lock: no log file can be deleted or overwritten for trail.retentionDays without a bypass the deployer is denied.
    const lock = (await aws.s3.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration;
    assert.deepEqual([lock?.ObjectLockEnabled, lock?.Rule?.DefaultRetention?.Mode, lock?.Rule?.DefaultRetention?.Days], ["Enabled", "GOVERNANCE", config.trail.retentionDays]);
    // The deployer may not put an expiry on audit logs: the trail bucket carries no lifecycle rule.
    await assert.rejects(aws.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })), { name: "NoSuchLifecycleConfiguration" });
    const { Policy } = await aws.s3.send(new GetBucketPolicyCommand({ Bucket }));
    assert.deepEqual(JSON.parse(Policy!).Statement.map((st: PolicyStatement) => st.Sid).sort(), ["CloudTrailChecksBucketAcl", "CloudTrailWritesLogs", "DenyInsecureTransport"]);
    assert.equal((await run(() => ensureTrailBucket(context(), { keyArn: auditKeyArn }))).mutations.length, 0);
  });

  test("a deleted public access block and changed encryption are restored, nothing else", async () => {
    const { keyArn } = await deployFoundation();
    await aws.s3.send(new DeletePublicAccessBlockCommand({ Bucket: names.imagesBucket }));
    await aws.s3.send(new PutBucketEncryptionCommand({ Bucket: names.imagesBucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] } }));

    const { report, mutations } = await run(() => ensureImagesBucket(context(), { keyArn }));
    assert.equal(report.action, "updated");
    assert.equal(report.detail, "public access block, default encryption");
    assert.deepEqual(mutations, ["PutPublicAccessBlock", "PutBucketEncryption"]);
    assert.equal((await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: names.imagesBucket }))).PublicAccessBlockConfiguration?.BlockPublicPolicy, true);
  });

  test("a bucket created by a run that stopped there is hardened by the next", async () => {
    const { outputs: role } = await ensureLambdaRole(context(), BOUNDARY);
    const { outputs: key } = await ensureKmsKey(context(), { roleArn: role.roleArn });
    await aws.s3.send(new CreateBucketCommand({ Bucket: names.imagesBucket }));

    const { report, mutations } = await run(() => ensureImagesBucket(context(), { keyArn: key.keyArn }));
    assert.equal(report.action, "updated");
    assert.ok(!mutations.includes("CreateBucket"));
    for (const put of ["PutPublicAccessBlock", "PutBucketEncryption", "PutBucketLifecycleConfiguration", "PutBucketTagging", "PutBucketPolicy"]) {
      assert.ok(mutations.includes(put), `${put} in ${mutations}`);
    }
    assert.equal((await run(() => ensureImagesBucket(context(), { keyArn: key.keyArn }))).report.action, "unchanged");
  });

  test("a bucket holding an object is kept without deleteData, emptied and deleted with it", async () => {
    // A bare bucket: moto would refuse object calls under the TLS-only deny (it ignores the condition).
    await aws.s3.send(new CreateBucketCommand({ Bucket: names.imagesBucket }));
    await aws.s3.send(new PutObjectCommand({ Bucket: names.imagesBucket, Key: "originals/abc", Body: "image" }));
    assert.equal(await bucketHasData(context(), names.imagesBucket), true);

    const kept = await removeImagesBucket(context(), { deleteData: false });
    assert.deepEqual(kept, { resource: "S3 bucket (images)", name: names.imagesBucket, action: "kept", detail: "holds 1 object; rerun with --delete-data to delete them" });
    await aws.s3.send(new HeadObjectCommand({ Bucket: names.imagesBucket, Key: "originals/abc" }));

    const dry = await removeImagesBucket(context({ dryRun: true }), { deleteData: true });
    assert.equal(dry.action, "deleted");
    await aws.s3.send(new HeadObjectCommand({ Bucket: names.imagesBucket, Key: "originals/abc" }));

    const removed = await removeImagesBucket(context(), { deleteData: true });
    assert.equal(removed.action, "deleted");
    assert.equal(removed.detail, "deleted 1 object");
    await assert.rejects(aws.s3.send(new HeadBucketCommand({ Bucket: names.imagesBucket })), { name: "NotFound" });
    assert.equal(await bucketHasData(context(), names.imagesBucket), false);
    assert.equal((await removeImagesBucket(context(), { deleteData: true })).action, "absent");
  });

  test("empty hardened buckets are deleted without deleteData", async () => {
    await deployFoundation();
    assert.equal((await removeImagesBucket(context(), { deleteData: false })).action, "deleted");
    assert.equal((await removeTrailBucket(context(), { deleteData: false })).action, "deleted");
    assert.equal((await removeTrailBucket(context(), { deleteData: false })).action, "absent");
  });
});

describe("log groups", () => {
  test("are created with the configured retention and tags, a changed retention is put back", async () => {
    const { report, mutations } = await run(() => ensureLogGroups(context()));
    assert.equal(report.action, "created");
    assert.deepEqual(mutations, ["CreateLogGroup", "PutRetentionPolicy", "CreateLogGroup", "PutRetentionPolicy"]);
    assert.deepEqual(report.outputs, {
      functionLogGroupArn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${names.functionName}`,
      accessLogGroupArn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${names.accessLogGroup}`,
    });
    for (const name of [names.functionLogGroup, names.accessLogGroup]) {
      const group = (await aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))).logGroups?.find((g) => g.logGroupName === name);
      assert.equal(group?.retentionInDays, config.logs.retentionDays);
      const tags = await aws.logs.send(new ListTagsForResourceCommand({ resourceArn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}` }));
      assert.deepEqual(tags.tags, TAGS);
    }
    const again = await run(() => ensureLogGroups(context()));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, []);

    await aws.logs.send(new PutRetentionPolicyCommand({ logGroupName: names.accessLogGroup, retentionInDays: 3653 }));
    const drift = await run(() => ensureLogGroups(context()));
    assert.equal(drift.report.action, "updated");
    assert.equal(drift.report.detail, `${names.accessLogGroup}: retention 3653 -> 14 days`);
    assert.deepEqual(drift.mutations, ["PutRetentionPolicy"]);
  });

  test("remove deletes both, then finds them absent", async () => {
    await ensureLogGroups(context());
    const kept = await removeLogGroups(context(), { deleteData: false });
    assert.equal(kept.action, "kept", "request logs are kept without --delete-data");
    assert.ok((await aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: names.functionLogGroup }))).logGroups?.length);
    assert.equal((await removeLogGroups(context(), { deleteData: true })).action, "deleted");
    assert.deepEqual((await aws.logs.send(new DescribeLogGroupsCommand({}))).logGroups, []);
    assert.equal((await removeLogGroups(context(), { deleteData: true })).action, "absent");
  });
});

describe("trail", () => {
  test("is created logging, encrypted with the key, validated, with S3 data events of the images bucket", async () => {
    const { auditKeyArn: keyArn } = await deployFoundation();
    const { report, mutations } = await run(() => ensureTrail(context(), { keyArn }));
    assert.equal(report.action, "created");
    assert.deepEqual(mutations, ["CreateTrail", "PutEventSelectors", "StartLogging"]);
    const trailArn = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/${names.trail}`;
    assert.equal(report.outputs.trailArn, trailArn);

    const trail = (await aws.cloudtrail.send(new GetTrailCommand({ Name: names.trail }))).Trail!;
    assert.equal(trail.S3BucketName, names.trailBucket);
    assert.equal(trail.KmsKeyId, keyArn);
    assert.equal(trail.LogFileValidationEnabled, true);
    // Multi-region: IAM is global, and a change to the function's role made from any region must be on record.
    assert.equal(trail.IsMultiRegionTrail, true);
    assert.equal(trail.IncludeGlobalServiceEvents, true);
    assert.equal((await aws.cloudtrail.send(new GetTrailStatusCommand({ Name: names.trail }))).IsLogging, true);
    const selectors = await aws.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: names.trail }));
    assert.deepEqual(selectors.EventSelectors, [
      { ReadWriteType: "All", IncludeManagementEvents: true, DataResources: [{ Type: "AWS::S3::Object", Values: [`arn:aws:s3:::${names.imagesBucket}/`] }] },
    ]);
    const tags = (await aws.cloudtrail.send(new ListTagsCommand({ ResourceIdList: [trailArn] }))).ResourceTagList?.[0]?.TagsList ?? [];
    assert.deepEqual(Object.fromEntries(tags.map((t) => [t.Key, t.Value])), TAGS);

    const again = await run(() => ensureTrail(context(), { keyArn }));
    assert.equal(again.report.action, "unchanged");
    assert.deepEqual(again.mutations, []);
  });

  test("stopped logging and disabled validation are fixed; without dataEvents only management events are kept", async () => {
    const { auditKeyArn: keyArn } = await deployFoundation();
    await ensureTrail(context(), { keyArn });
    await aws.cloudtrail.send(new StopLoggingCommand({ Name: names.trail }));
    await aws.cloudtrail.send(new UpdateTrailCommand({ Name: names.trail, EnableLogFileValidation: false }));

    const drift = await run(() => ensureTrail(context(), { keyArn }));
    assert.equal(drift.report.action, "updated");
    assert.equal(drift.report.detail, "LogFileValidationEnabled, logging");
    assert.deepEqual(drift.mutations, ["UpdateTrail", "StartLogging"]);
    assert.equal((await aws.cloudtrail.send(new GetTrailCommand({ Name: names.trail }))).Trail?.LogFileValidationEnabled, true);

    const noData = context({ config: { ...config, trail: { ...config.trail, dataEvents: false } } });
    const off = await run(() => ensureTrail(noData, { keyArn }));
    assert.equal(off.report.detail, "EventSelectors");
    assert.deepEqual(off.mutations, ["PutEventSelectors"]);
    const selectors = await aws.cloudtrail.send(new GetEventSelectorsCommand({ TrailName: names.trail }));
    assert.deepEqual(selectors.EventSelectors?.[0]?.DataResources, []);
    assert.equal((await run(() => ensureTrail(noData, { keyArn }))).report.action, "unchanged");
  });

  test("remove deletes it, then finds it absent", async () => {
    const { auditKeyArn: keyArn } = await deployFoundation();
    await ensureTrail(context(), { keyArn });
    assert.equal((await removeTrail(context())).action, "deleted");
    await assert.rejects(aws.cloudtrail.send(new GetTrailCommand({ Name: names.trail })), { name: "TrailNotFoundException" });
    assert.equal((await removeTrail(context())).action, "absent");
  });
});

describe("all of them", () => {
  test("a dry run on an empty account sends no mutating call and reports every resource created", async () => {
    const reports = await deployAll(context({ dryRun: true }));
    assert.deepEqual(mutating(), []);
    assert.deepEqual(
      reports.map((r) => r.action),
      reports.map(() => "created"),
    );
    const key = reports[1] as StepReport & { outputs: { keyArn: string } };
    // Both keys: the images key and the audit key.
    assert.equal(key.outputs.keyArn, `arn:aws:kms:${REGION}:${ACCOUNT}:alias/${config.stackName}`);
    assert.equal((await aws.kms.send(new ListKeysCommand({}))).Keys?.length, 0);
  });

  test("a dry run on a deployed stack with drift reports it without fixing it", async () => {
    await deployAll(context());
    await aws.kms.send(new DisableKeyRotationCommand({ KeyId: (await liveTaggedKeys())[0] }));
    sent.length = 0;
    const reports = await deployAll(context({ dryRun: true }));
    assert.deepEqual(mutating(), []);
    assert.deepEqual(reports.map((r) => `${r.resource}:${r.action}`).filter((r) => !r.endsWith(":unchanged")), ["KMS key:updated"]);
  });

  test("a deploy interrupted at any of its mutating calls (a sample: support/interruptions.ts) is finished by the next run, with one key of each kind", async () => {
    sent.length = 0;
    await deployAll(context());
    const calls = mutating();
    assert.ok(calls.length >= 20, `${calls.length} mutating calls`);
    // failAtMutation k stops before the k-th call: before the call at index k-1.
    for (const k of interruptionPoints(calls).map((i) => i + 1)) {
      await moto.reset();
      sent.length = 0;
      failAtMutation = k;
      await assert.rejects(deployAll(context()), (e: unknown) => e instanceof DeployError && /interrupted/.test(e.message), `interrupted at call ${k}`);
      failAtMutation = undefined;
      await deployAll(context());
      sent.length = 0;
      const third = await deployAll(context());
      assert.deepEqual(mutating(), [], `after an interruption at call ${k}, a third run sends nothing`);
      assert.ok(third.every((r) => r.action === "unchanged"), `interrupted at call ${k}: ${JSON.stringify(third)}`);
      assert.equal((await liveTaggedKeys()).length, 2, `interrupted at call ${k}: one images key and one audit key`);
    }
  });
});
