// The project's customer-managed KMS key: encrypts both buckets (SSE-KMS) and
// the trail's log files. Found by its alias, or, when a run stopped between
// CreateKey and CreateAlias, by its stack tags, so a resumed deploy never makes
// a second key. Removed only with the data it protects.
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  paginateListAliases,
  paginateListKeys,
  type KeyMetadata,
} from "@aws-sdk/client-kms";
import { setTimeout as delay } from "node:timers/promises";
import { arn } from "../arns.ts";
import { mutate, type DeployContext, type StepReport } from "../context.ts";
import { errorName, isNotFound, step } from "../errors.ts";
import { stackTags } from "../names.ts";
import { samePolicy } from "../policies/document.ts";
import { kmsKeyPolicy } from "../policies/key-policy.ts";

const RESOURCE = "KMS key";
// KMS key policies have exactly one name; moto refuses any other.
const POLICY_NAME = "default";
/** The shortest waiting period KMS allows before deleting a key. */
export const KEY_DELETION_WINDOW_DAYS = 7;
/** How long KMS may take to see a principal (the new Lambda role) IAM just created. */
export const PRINCIPAL_PROPAGATION_TIMEOUT_MS = 120_000;

const PENDING_DELETION = new Set(["PendingDeletion", "PendingReplicaDeletion"]);

interface FoundKey {
  meta: KeyMetadata & { KeyId: string; Arn: string };
  /** False for a key found by its tags: its alias was never made. */
  aliased: boolean;
}

async function describeKey(ctx: DeployContext, keyId: string): Promise<FoundKey["meta"]> {
  const got = await step("describing", RESOURCE, keyId, "kms:DescribeKey", () => ctx.clients.kms.send(new DescribeKeyCommand({ KeyId: keyId })));
  return got.KeyMetadata as FoundKey["meta"];
}

async function keyTags(ctx: DeployContext, keyId: string): Promise<Record<string, string> | undefined> {
  return step("listing the tags of", RESOURCE, keyId, "kms:ListResourceTags", async () => {
    try {
      const got = await ctx.clients.kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
      return Object.fromEntries((got.Tags ?? []).map((t) => [t.TagKey, t.TagValue]));
    } catch (e) {
      // A key whose policy does not let this account read it (another team's,
      // or AWS-managed) cannot be ours: ours always grants the account kms:List*.
      if (isNotFound(e, "NotFoundException", "AccessDeniedException")) return undefined;
      throw e;
    }
  });
}

/** The key the alias points to; else the oldest live key carrying this stack's tags (a run interrupted before CreateAlias). */
async function findKey(ctx: DeployContext): Promise<FoundKey | undefined> {
  const alias = ctx.names.kmsAlias;
  const targetKeyId = await step("listing aliases for", RESOURCE, alias, "kms:ListAliases", async () => {
    for await (const page of paginateListAliases({ client: ctx.clients.kms }, {})) {
      const found = page.Aliases?.find((a) => a.AliasName === alias);
      if (found) return found.TargetKeyId;
    }
    return undefined;
  });
  if (targetKeyId) return { meta: await describeKey(ctx, targetKeyId), aliased: true };

  const wanted = Object.entries(stackTags(ctx.names.stack));
  const candidates: FoundKey["meta"][] = [];
  const keyIds = await step("listing keys for", RESOURCE, alias, "kms:ListKeys", async () => {
    const ids: string[] = [];
    for await (const page of paginateListKeys({ client: ctx.clients.kms }, {})) ids.push(...(page.Keys ?? []).map((k) => k.KeyId ?? ""));
    return ids.filter(Boolean);
  });
  for (const keyId of keyIds) {
    const tags = await keyTags(ctx, keyId);
    if (!tags || !wanted.every(([k, v]) => tags[k] === v)) continue;
    const meta = await describeKey(ctx, keyId);
    if (meta.KeyManager === "CUSTOMER" && !PENDING_DELETION.has(meta.KeyState ?? "")) candidates.push(meta);
  }
  candidates.sort((a, b) => (a.CreationDate?.getTime() ?? 0) - (b.CreationDate?.getTime() ?? 0));
  return candidates[0] ? { meta: candidates[0], aliased: false } : undefined;
}

/**
 * KMS refuses a policy naming a role IAM created moments ago ("invalid
 * principals") until the role has propagated: retry that one error, bounded.
 */
async function retryWhilePrincipalPropagates<T>(call: () => Promise<T>, timeoutMs = PRINCIPAL_PROPAGATION_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const propagating = errorName(e) === "MalformedPolicyDocumentException" && /principal/i.test((e as Error).message ?? "");
      if (!propagating || Date.now() >= deadline) throw e;
      await delay(Math.min(1_000 * 2 ** attempt, 8_000, Math.max(0, deadline - Date.now())));
    }
  }
}

export type KmsKeyReport = StepReport & { outputs: { keyArn: string; keyId: string } };

export async function ensureKmsKey(ctx: DeployContext, deps: { roleArn: string }): Promise<KmsKeyReport> {
  const { kms } = ctx.clients;
  const alias = ctx.names.kmsAlias;
  const policy = JSON.stringify(kmsKeyPolicy(ctx, deps));
  const report = (action: KmsKeyReport["action"], keyArn: string, keyId: string, detail?: string): KmsKeyReport => ({
    resource: RESOURCE,
    name: alias,
    action,
    ...(detail ? { detail } : {}),
    outputs: { keyArn, keyId },
  });
  const createAlias = (keyId: string) =>
    mutate(ctx, () => step("creating the alias of", RESOURCE, alias, "kms:CreateAlias", () => kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }))));
  const enableRotation = (keyId: string) =>
    mutate(ctx, () => step("enabling rotation of", RESOURCE, alias, "kms:EnableKeyRotation", () => kms.send(new EnableKeyRotationCommand({ KeyId: keyId }))));

  const found = await findKey(ctx);
  if (!found) {
    // Policy and tags go with CreateKey, so the one call that can leave an
    // orphan leaves one that findKey recognises by its tags.
    const created = await mutate(ctx, () =>
      step("creating", RESOURCE, alias, "kms:CreateKey", () =>
        retryWhilePrincipalPropagates(() =>
          kms.send(
            new CreateKeyCommand({
              Description: `imgapi ${ctx.names.stack}: images and audit logs`,
              KeyUsage: "ENCRYPT_DECRYPT",
              KeySpec: "SYMMETRIC_DEFAULT",
              Policy: policy,
              Tags: Object.entries(ctx.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
            }),
          ),
        ),
      ),
    );
    const meta = created?.KeyMetadata;
    if (meta?.KeyId) {
      await createAlias(meta.KeyId);
      await enableRotation(meta.KeyId);
    }
    // A dry run has no key id yet: the alias ARN stands in (S3 and CloudTrail accept it).
    return report("created", meta?.Arn ?? arn(ctx, "kms", alias), meta?.KeyId ?? alias, "with alias, rotation and policy");
  }

  const { KeyId: keyId, Arn: keyArn } = found.meta;
  const drifted: string[] = [];
  if (PENDING_DELETION.has(found.meta.KeyState ?? "")) {
    // Only reachable through the alias: objects may still be encrypted with it, so bring it back.
    drifted.push("deletion cancelled");
    await mutate(ctx, () => step("cancelling the deletion of", RESOURCE, alias, "kms:CancelKeyDeletion", () => kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }))));
  }
  if (found.meta.KeyState !== "Enabled") {
    drifted.push("enabled");
    await mutate(ctx, () => step("enabling", RESOURCE, alias, "kms:EnableKey", () => kms.send(new EnableKeyCommand({ KeyId: keyId }))));
  }
  if (!found.aliased) {
    drifted.push("alias");
    await createAlias(keyId);
  }
  const currentPolicy = await step("reading the policy of", RESOURCE, alias, "kms:GetKeyPolicy", () =>
    kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: POLICY_NAME })),
  );
  if (!samePolicy(currentPolicy.Policy, JSON.parse(policy))) {
    drifted.push("policy");
    await mutate(ctx, () =>
      step("writing the policy of", RESOURCE, alias, "kms:PutKeyPolicy", () =>
        retryWhilePrincipalPropagates(() => kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: POLICY_NAME, Policy: policy }))),
      ),
    );
  }
  // A key pending deletion or disabled cannot report rotation; it was just fixed above (or will be, outside a dry run).
  const rotation = drifted.includes("enabled") && ctx.dryRun
    ? { KeyRotationEnabled: false }
    : await step("reading the rotation of", RESOURCE, alias, "kms:GetKeyRotationStatus", () => kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId })));
  if (!rotation.KeyRotationEnabled) {
    drifted.push("rotation");
    await enableRotation(keyId);
  }
  const tags = (await keyTags(ctx, keyId)) ?? {};
  const missing = Object.entries(ctx.tags).filter(([k, v]) => tags[k] !== v);
  if (missing.length) {
    drifted.push("tags");
    await mutate(ctx, () =>
      step("tagging", RESOURCE, alias, "kms:TagResource", () =>
        kms.send(new TagResourceCommand({ KeyId: keyId, Tags: missing.map(([TagKey, TagValue]) => ({ TagKey, TagValue })) })),
      ),
    );
  }
  return report(drifted.length ? "updated" : "unchanged", keyArn, keyId, drifted.join(", ") || undefined);
}

/**
 * Deleting the key makes everything encrypted with it unreadable, for good: it
 * is scheduled only once no bucket of the stack holds data (teardown keeps
 * buckets with objects unless --delete-data empties them). Even then KMS waits
 * (7 days, the minimum) before deleting it, and the wait can be cancelled.
 */
export async function removeKmsKey(ctx: DeployContext, opts: { dataRemains: boolean }): Promise<StepReport> {
  const { kms } = ctx.clients;
  const alias = ctx.names.kmsAlias;
  const report = (action: StepReport["action"], detail?: string): StepReport => ({ resource: RESOURCE, name: alias, action, ...(detail ? { detail } : {}) });
  const found = await findKey(ctx);
  if (!found) return report("absent");
  const { KeyId: keyId } = found.meta;
  if (PENDING_DELETION.has(found.meta.KeyState ?? "")) {
    return report("absent", `${keyId} is already scheduled for deletion on ${found.meta.DeletionDate?.toISOString().slice(0, 10) ?? "(unknown)"}`);
  }
  if (opts.dataRemains) {
    return report("kept", `${keyId} kept: the buckets still hold images or audit logs encrypted with it, which would become unreadable; rerun with --delete-data to delete them and schedule the key's deletion`);
  }
  if (found.aliased) {
    await mutate(ctx, () =>
      step("deleting the alias of", RESOURCE, alias, "kms:DeleteAlias", async () => {
        try {
          await kms.send(new DeleteAliasCommand({ AliasName: alias }));
        } catch (e) {
          if (!isNotFound(e, "NotFoundException")) throw e;
        }
      }),
    );
  }
  const scheduled = await mutate(ctx, () =>
    step("scheduling the deletion of", RESOURCE, alias, "kms:ScheduleKeyDeletion", () =>
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: KEY_DELETION_WINDOW_DAYS })),
    ),
  );
  const when = scheduled?.DeletionDate ? ` (on ${scheduled.DeletionDate.toISOString().slice(0, 10)})` : "";
  return report(
    "deleted",
    `${keyId} ${ctx.dryRun ? "would be" : "is"} scheduled for deletion in ${KEY_DELETION_WINDOW_DAYS} days${when}, the minimum KMS allows; until then \`aws kms cancel-key-deletion --key-id ${keyId}\` undoes it`,
  );
}
