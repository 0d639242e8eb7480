// The stack's customer-managed KMS key(s). Found by alias, or, when a run
// stopped between CreateKey and CreateAlias, by the stack's tags, so a
// resumed deploy never makes a second key; a key a lost CreateKey answer left
// behind (the SDK's retry made another) is scheduled for deletion. Each
// setting (state, alias, policy, rotation, tags) is read and written on its
// own. Removed only with the data it protects.
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import { arn } from "../arns.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { samePolicy, type PolicyDocument } from "../policies/document.ts";
import { auditKeyPolicy, imagesKeyPolicy } from "../policies/key-policy.ts";
import { Changes, ignoreAbsent, isAlreadyExists, kmsTagList, missingTags, PROPAGATION, reconcileSettings, retryWhilePropagating, type Setting } from "../toolkit/index.ts";
import { aliasTarget, findKey, KEY_PURPOSE_TAG, keyTags, PENDING_DELETION, type FoundKey, type KeyIdentity, type Meta } from "./kms-key-lookup.ts";

export { KEY_PURPOSE_TAG } from "./kms-key-lookup.ts";

const RESOURCE = "KMS key";
// KMS key policies have exactly one name; moto refuses any other.
const POLICY_NAME = "default";
/** The shortest waiting period KMS allows before deleting a key. */
export const KEY_DELETION_WINDOW_DAYS = 7;

/** One key of the stack: its alias, what it is for, and its policy. */
export interface KeySpec extends KeyIdentity {
  description: string;
  policy: PolicyDocument;
}

export const imagesKey = (ctx: DeployContext, deps: { roleArn: string; cdnDistributionArn?: string }): KeySpec => ({
  alias: ctx.names.kmsAlias,
  purpose: "images",
  description: `imgapi ${ctx.names.stack}: images, the function's environment and its URL-signing secret`,
  policy: imagesKeyPolicy(ctx, { roleArn: deps.roleArn, ...(ctx.config.cdn.enabled ? { cdn: { distributionArn: deps.cdnDistributionArn } } : {}) }),
});

/** A key of its own for the audit logs: whoever may use the images key gains nothing on them, and an auditor reading logs nothing on images. */
export const auditKey = (ctx: DeployContext): KeySpec => ({
  alias: ctx.names.auditKmsAlias,
  purpose: "audit",
  description: `imgapi ${ctx.names.stack}: CloudTrail log and digest files`,
  policy: auditKeyPolicy(ctx),
});

export type KmsKeyReport = StepReport & { outputs: { keyArn: string; keyId: string } };

function settings(ctx: DeployContext, spec: KeySpec, found: FoundKey): Setting[] {
  const { kms } = ctx.clients;
  const KeyId = found.meta.KeyId;
  const policy = JSON.stringify(spec.policy);
  const state = found.meta.KeyState ?? "";
  const wantedTags = { ...ctx.tags, [KEY_PURPOSE_TAG]: spec.purpose };
  return [
    {
      // Only reachable through the alias: objects may still be encrypted with it, so bring it back.
      field: "deletion cancelled",
      readPermission: "kms:DescribeKey",
      permission: "kms:CancelKeyDeletion",
      matches: async () => !PENDING_DELETION.has(state),
      write: () => kms.send(new CancelKeyDeletionCommand({ KeyId })),
    },
    {
      field: "enabled",
      readPermission: "kms:DescribeKey",
      permission: "kms:EnableKey",
      matches: async () => state === "Enabled",
      write: () => kms.send(new EnableKeyCommand({ KeyId })),
    },
    {
      field: "alias",
      readPermission: "kms:ListAliases",
      permission: found.aliasTarget === undefined ? "kms:CreateAlias" : "kms:UpdateAlias",
      matches: async () => found.aliasTarget === KeyId,
      write: () =>
        found.aliasTarget === undefined
          ? createAlias(ctx, spec.alias, KeyId)
          : kms.send(new UpdateAliasCommand({ AliasName: spec.alias, TargetKeyId: KeyId })),
    },
    {
      field: "policy",
      readPermission: "kms:GetKeyPolicy",
      permission: "kms:PutKeyPolicy",
      matches: async () => samePolicy((await kms.send(new GetKeyPolicyCommand({ KeyId, PolicyName: POLICY_NAME }))).Policy, spec.policy),
      write: () => retryWhilePropagating(ctx, PROPAGATION.principalToKms, () => kms.send(new PutKeyPolicyCommand({ KeyId, PolicyName: POLICY_NAME, Policy: policy }))),
    },
    {
      // A key pending deletion or disabled cannot report rotation: in a dry run that fixes neither, it counts as off.
      field: "rotation",
      readPermission: "kms:GetKeyRotationStatus",
      permission: "kms:EnableKeyRotation",
      matches: async () => (ctx.dryRun && state !== "Enabled" ? false : (await kms.send(new GetKeyRotationStatusCommand({ KeyId }))).KeyRotationEnabled === true),
      write: () => kms.send(new EnableKeyRotationCommand({ KeyId })),
    },
    {
      field: "tags",
      readPermission: "kms:ListResourceTags",
      permission: "kms:TagResource",
      matches: async () => Object.keys(missingTags(await keyTags(ctx, KeyId), wantedTags)).length === 0,
      write: async () => kms.send(new TagResourceCommand({ KeyId, Tags: kmsTagList(missingTags(await keyTags(ctx, KeyId), wantedTags)) })),
    },
  ];
}

/** CreateAlias, adopting an alias a lost answer already made (checked by the alias setting on the next read). */
async function createAlias(ctx: DeployContext, alias: string, keyId: string): Promise<void> {
  await retryWhilePropagating(ctx, PROPAGATION.newKey, async () => {
    try {
      await ctx.clients.kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
    } catch (e) {
      if (!(isAlreadyExists(e, "kms") && (await aliasTarget(ctx, alias)) === keyId)) throw e;
    }
  });
}

export async function ensureKey(ctx: DeployContext, spec: KeySpec): Promise<KmsKeyReport> {
  const { kms } = ctx.clients;
  const changes = new Changes(ctx, RESOURCE, spec.alias);
  const found = await findKey(ctx, spec);
  const done = (keyArn: string, keyId: string, created: boolean, detail?: string): KmsKeyReport => ({ ...changes.report(created, detail), outputs: { keyArn, keyId } });

  if (found === undefined) {
    // Policy and tags go with CreateKey, so the one call that can leave an
    // orphan leaves one that findKey recognises by its tags.
    const created = await changes.apply("key", "kms:CreateKey", () =>
      retryWhilePropagating(ctx, PROPAGATION.principalToKms, () =>
        kms.send(
          new CreateKeyCommand({
            Description: spec.description,
            KeyUsage: "ENCRYPT_DECRYPT",
            KeySpec: "SYMMETRIC_DEFAULT",
            Policy: JSON.stringify(spec.policy),
            Tags: kmsTagList({ ...ctx.tags, [KEY_PURPOSE_TAG]: spec.purpose }),
          }),
        ),
      ), "creating");
    const meta = created?.KeyMetadata as Meta | undefined;
    if (meta !== undefined) {
      await changes.apply("alias", "kms:CreateAlias", () => createAlias(ctx, spec.alias, meta.KeyId), "creating the alias of");
      await changes.apply("rotation", "kms:EnableKeyRotation", () =>
        retryWhilePropagating(ctx, PROPAGATION.newKey, () => kms.send(new EnableKeyRotationCommand({ KeyId: meta.KeyId }))), "enabling rotation of");
    }
    // A dry run has no key id yet: the alias ARN stands in (S3 and CloudTrail accept it).
    return done(meta?.Arn ?? arn(ctx, "kms", spec.alias), meta?.KeyId ?? spec.alias, true, "with alias, rotation and policy");
  }

  await reconcileSettings(changes, settings(ctx, spec, found));
  for (const orphan of found.orphans) await scheduleDeletion(ctx, changes, orphan, `orphan ${orphan.KeyId} (left by a lost CreateKey answer) scheduled for deletion`);
  return done(found.meta.Arn, found.meta.KeyId, false);
}

async function scheduleDeletion(ctx: DeployContext, changes: Changes, key: Meta, label: string) {
  return changes.apply(label, "kms:ScheduleKeyDeletion", () =>
    ctx.clients.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: KEY_DELETION_WINDOW_DAYS })), "scheduling the deletion of");
}

export const ensureKmsKey = (ctx: DeployContext, deps: { roleArn: string; cdnDistributionArn?: string }) => ensureKey(ctx, imagesKey(ctx, deps));
export const ensureAuditKey = (ctx: DeployContext) => ensureKey(ctx, auditKey(ctx));

/**
 * Deleting a key makes everything encrypted with it unreadable, for good: it
 * is scheduled only once no bucket of the stack holds data (teardown keeps
 * buckets with objects unless --delete-data empties them). Even then KMS waits
 * (7 days, the minimum) before deleting it, and the wait can be cancelled.
 */
export async function removeKey(ctx: DeployContext, spec: Pick<KeySpec, "alias" | "purpose">, opts: { dataRemains: boolean }): Promise<StepReport> {
  const changes = new Changes(ctx, RESOURCE, spec.alias);
  const found = await findKey(ctx, spec);
  if (found === undefined) return { resource: RESOURCE, name: spec.alias, action: "absent" };
  const { meta } = found;
  if (PENDING_DELETION.has(meta.KeyState ?? "")) {
    return { resource: RESOURCE, name: spec.alias, action: "absent", detail: `${meta.KeyId} is already scheduled for deletion on ${meta.DeletionDate?.toISOString().slice(0, 10) ?? "(unknown)"}` };
  }
  if (opts.dataRemains) {
    return { resource: RESOURCE, name: spec.alias, action: "kept", detail: `${meta.KeyId} kept: the buckets still hold images or audit logs encrypted with it, which would become unreadable; rerun with --delete-data to delete them and schedule the key's deletion` };
  }
  if (found.aliasTarget !== undefined) {
    await changes.apply("alias", "kms:DeleteAlias", () => ignoreAbsent("kms", () => ctx.clients.kms.send(new DeleteAliasCommand({ AliasName: spec.alias }))), "deleting the alias of");
  }
  for (const key of [meta, ...found.orphans]) await scheduleDeletion(ctx, changes, key, key.KeyId);
  return {
    resource: RESOURCE,
    name: spec.alias,
    action: "deleted",
    detail: `${[meta, ...found.orphans].map((k) => k.KeyId).join(", ")} ${ctx.dryRun ? "would be" : "is"} scheduled for deletion in ${KEY_DELETION_WINDOW_DAYS} days, the minimum KMS allows; until then \`aws kms cancel-key-deletion --key-id ${meta.KeyId}\` undoes it`,
  };
}

export const removeKmsKey = (ctx: DeployContext, opts: { dataRemains: boolean }) => removeKey(ctx, { alias: ctx.names.kmsAlias, purpose: "images" as const }, opts);
/**
 * The audit key outlives the stack unless --delete-audit-logs: every log file
 * delivered, wherever it was copied, stays readable and verifiable.
 */
export async function removeAuditKey(ctx: DeployContext, opts: { dataRemains: boolean; requested: boolean }): Promise<StepReport> {
  const spec = { alias: ctx.names.auditKmsAlias, purpose: "audit" as const };
  if (opts.requested) return removeKey(ctx, spec, opts);
  const found = await findKey(ctx, spec);
  if (found === undefined || PENDING_DELETION.has(found.meta.KeyState ?? "")) return { resource: RESOURCE, name: spec.alias, action: "absent" };
  return { resource: RESOURCE, name: spec.alias, action: "kept", detail: `${found.meta.KeyId} decrypts the audit logs; --delete-audit-logs schedules its deletion` };
}
