// Finding the stack's key: by its alias, or, when a run stopped between
// CreateKey and CreateAlias, by the stack's tags and the key's purpose tag,
// so a resumed deploy never makes a second key (kms-key.ts).
import { DescribeKeyCommand, ListResourceTagsCommand, paginateListAliases, paginateListKeys, type KeyMetadata } from "@aws-sdk/client-kms";
import type { DeployContext } from "../context.ts";
import { errorName, step } from "../errors.ts";
import { PROPAGATION, retryWhilePropagating, tagMap } from "../toolkit/index.ts";

const RESOURCE = "KMS key";
/** Which of the stack's keys a key is: set at creation, so an unaliased key is recognised. */
export const KEY_PURPOSE_TAG = "imgapi:key";

/** What names a key of the stack: its alias, and what it is for. */
export interface KeyIdentity {
  alias: string;
  purpose: "images" | "audit";
}

export const PENDING_DELETION = new Set(["PendingDeletion", "PendingReplicaDeletion"]);
export type Meta = KeyMetadata & { KeyId: string; Arn: string };

export interface FoundKey {
  meta: Meta;
  /** Where the alias points, if it exists (maybe at another key). */
  aliasTarget?: string;
  /** Other live keys of this stack and purpose, left by lost CreateKey answers. */
  orphans: Meta[];
}

/** The key was listed or aliased, so it exists: a NotFoundException is KMS catching up with a key made moments ago. */
export const describeKey = async (ctx: DeployContext, keyId: string) =>
  (await step("describing", RESOURCE, keyId, "kms:DescribeKey", () => retryWhilePropagating(ctx, PROPAGATION.newKey, () => ctx.clients.kms.send(new DescribeKeyCommand({ KeyId: keyId }))))).KeyMetadata as Meta;

export async function keyTags(ctx: DeployContext, keyId: string): Promise<Record<string, string> | undefined> {
  // ListKeys lists a key KMS may not yet answer for (a key made moments ago by
  // a run that then stopped): its NotFoundException is KMS catching up, not
  // absence, or a resumed run would not recognise its own key and make a
  // second. A key whose policy does not let this account read it (another
  // team's, or AWS-managed) cannot be ours: ours always lets the account read its tags.
  const got = await step("listing the tags of", RESOURCE, keyId, "kms:ListResourceTags", () =>
    retryWhilePropagating(ctx, PROPAGATION.newKey, async () => {
      try {
        return await ctx.clients.kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
      } catch (e) {
        if (errorName(e) === "AccessDeniedException") return undefined;
        throw e;
      }
    }),
  );
  return got === undefined ? undefined : tagMap(got.Tags);
}

export async function aliasTarget(ctx: DeployContext, alias: string): Promise<string | undefined> {
  return step("listing aliases for", RESOURCE, alias, "kms:ListAliases", async () => {
    for await (const page of paginateListAliases({ client: ctx.clients.kms }, {})) {
      const found = page.Aliases?.find((a) => a.AliasName === alias);
      if (found) return found.TargetKeyId;
    }
    return undefined;
  });
}

/** Live customer keys carrying this stack's tags for this purpose (a key made before purposes existed counts as "images"), oldest first. */
async function taggedKeys(ctx: DeployContext, spec: KeyIdentity): Promise<Meta[]> {
  const keyIds = await step("listing keys for", RESOURCE, spec.alias, "kms:ListKeys", async () => {
    const ids: string[] = [];
    for await (const page of paginateListKeys({ client: ctx.clients.kms }, {})) ids.push(...(page.Keys ?? []).map((k) => k.KeyId ?? ""));
    return ids.filter(Boolean);
  });
  const found: Meta[] = [];
  for (const keyId of keyIds) {
    const tags = await keyTags(ctx, keyId);
    if (!tags || !Object.entries(ctx.tags).every(([k, v]) => tags[k] === v)) continue;
    if ((tags[KEY_PURPOSE_TAG] ?? "images") !== spec.purpose) continue;
    const meta = await describeKey(ctx, keyId);
    if (meta.KeyManager === "CUSTOMER" && !PENDING_DELETION.has(meta.KeyState ?? "")) found.push(meta);
  }
  return found.sort((a, b) => (a.CreationDate?.getTime() ?? 0) - (b.CreationDate?.getTime() ?? 0));
}

/** The key the alias points to; else the oldest live key with this stack's tags (a run interrupted before CreateAlias). */
export async function findKey(ctx: DeployContext, spec: KeyIdentity): Promise<FoundKey | undefined> {
  const target = await aliasTarget(ctx, spec.alias);
  const tagged = await taggedKeys(ctx, spec);
  if (target !== undefined) {
    const meta = await describeKey(ctx, target);
    return { meta, aliasTarget: target, orphans: tagged.filter((k) => k.KeyId !== meta.KeyId) };
  }
  const [oldest, ...others] = tagged;
  return oldest === undefined ? undefined : { meta: oldest, orphans: others };
}

