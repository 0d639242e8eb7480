// The key pair that signs CloudFront URLs for /resized/* (variants too large
// for a Lambda response): RSA-2048 made here (node:crypto), the public half
// a CloudFront public key in the stack's key group (the behavior's trusted
// signers), the private half (PKCS#8 PEM) encrypted with the images key under
// CDN_SIGNING_KEY_CONTEXT and stored as CDN_SIGNING_KEY_OBJECT in the images
// bucket, where the function reads it. Made once and kept by redeploys. The
// object carries its public half (SPKI, base64) as metadata: a run stopped
// after storing it makes the public key from it, and the public key is named
// by its fingerprint, so a retried create adopts its own key.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-trusted-signers.html
import { createHash, generateKeyPairSync } from "node:crypto";
import { EncryptCommand } from "@aws-sdk/client-kms";
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  CreateKeyGroupCommand,
  CreatePublicKeyCommand,
  DeleteKeyGroupCommand,
  DeletePublicKeyCommand,
  GetKeyGroupCommand,
  GetPublicKeyCommand,
  ListKeyGroupsCommand,
  ListPublicKeysCommand,
  UpdateKeyGroupCommand,
  type KeyGroupConfig,
} from "@aws-sdk/client-cloudfront";
import { CDN_SIGNING_KEY_CONTEXT } from "../../function/cdn/cdn-env.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../../function/storage/key-layout.ts";
import type { DeployContext, StepReport } from "../context.ts";
import { DeployError, step } from "../errors.ts";
import { Changes, createOrAdopt, ignoreAbsent, orAbsent } from "../toolkit/index.ts";
import { cdnNames } from "./cdn-names.ts";

const RESOURCE = "CDN URL-signing key";
/** Object metadata (x-amz-meta-public-key): the public half, so it can be registered from the object alone. */
export const PUBLIC_KEY_METADATA = "public-key";

const pemOf = (spkiBase64: string) => `-----BEGIN PUBLIC KEY-----\n${spkiBase64.match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`;
const fingerprint = (spkiBase64: string) => createHash("sha256").update(Buffer.from(spkiBase64, "base64")).digest("hex").slice(0, 16);

async function storedPublicKey(ctx: DeployContext): Promise<string | undefined> {
  const Bucket = ctx.names.imagesBucket;
  return step("reading", RESOURCE, `s3://${Bucket}/${CDN_SIGNING_KEY_OBJECT}`, "s3:GetObject", async () => {
    const head = await orAbsent("s3", () => ctx.clients.s3.send(new HeadObjectCommand({ Bucket, Key: CDN_SIGNING_KEY_OBJECT })), "NoSuchKey");
    return head?.Metadata?.[PUBLIC_KEY_METADATA] || undefined;
  });
}

/** A new pair: the private half leaves this function only KMS-encrypted. */
async function storeNewPair(ctx: DeployContext, keyArn: string): Promise<string> {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "der" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  const plaintext = Buffer.from(privateKey, "utf8");
  const context = Object.entries(CDN_SIGNING_KEY_CONTEXT).map(([k, v]) => `${k}=${v}`).join(", ");
  try {
    const out = await step("encrypting", RESOURCE, CDN_SIGNING_KEY_OBJECT, `kms:Encrypt (with the encryption context ${context})`, () =>
      ctx.clients.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: plaintext, EncryptionContext: { ...CDN_SIGNING_KEY_CONTEXT } })));
    if (!out.CiphertextBlob?.length) throw new DeployError("encrypting", RESOURCE, CDN_SIGNING_KEY_OBJECT, "EmptyCiphertext", "KMS returned no ciphertext. Run the same command again.");
    const spki = publicKey.toString("base64");
    await step("storing", RESOURCE, CDN_SIGNING_KEY_OBJECT, "s3:PutObject", () =>
      ctx.clients.s3.send(new PutObjectCommand({ Bucket: ctx.names.imagesBucket, Key: CDN_SIGNING_KEY_OBJECT, Body: out.CiphertextBlob, ContentType: "application/octet-stream", Metadata: { [PUBLIC_KEY_METADATA]: spki } })));
    return spki;
  } finally {
    plaintext.fill(0);
  }
}

async function findPublicKeys(ctx: DeployContext) {
  const prefix = cdnNames(ctx).publicKeyPrefix;
  return step("finding", RESOURCE, `${prefix}*`, "cloudfront:ListPublicKeys", async () => {
    const found: { id: string; name: string }[] = [];
    let Marker: string | undefined;
    do {
      const page = (await ctx.clients.cloudfront.send(new ListPublicKeysCommand({ ...(Marker ? { Marker } : {}) }))).PublicKeyList;
      for (const k of page?.Items ?? []) if (k.Id && k.Name?.startsWith(prefix)) found.push({ id: k.Id, name: k.Name });
      Marker = page?.NextMarker || undefined;
    } while (Marker);
    return found;
  });
}

export async function findKeyGroup(ctx: DeployContext): Promise<{ id: string; config: KeyGroupConfig } | undefined> {
  const name = cdnNames(ctx).keyGroup;
  return step("finding", RESOURCE, name, "cloudfront:ListKeyGroups", async () => {
    let Marker: string | undefined;
    do {
      const page = (await ctx.clients.cloudfront.send(new ListKeyGroupsCommand({ ...(Marker ? { Marker } : {}) }))).KeyGroupList;
      const hit = page?.Items?.find((i) => i.KeyGroup?.KeyGroupConfig?.Name === name)?.KeyGroup;
      if (hit?.Id !== undefined && hit.KeyGroupConfig) return { id: hit.Id, config: hit.KeyGroupConfig };
      Marker = page?.NextMarker || undefined;
    } while (Marker);
    return undefined;
  });
}

export type SigningKeyReport = StepReport & { keyGroupId: string; publicKeyId: string };

export async function ensureCdnSigningKey(ctx: DeployContext, deps: { keyArn: string }): Promise<SigningKeyReport> {
  const names = cdnNames(ctx);
  const { cloudfront } = ctx.clients;
  const changes = new Changes(ctx, RESOURCE, names.keyGroup);
  let spki = await storedPublicKey(ctx);
  const created = spki === undefined;
  if (spki === undefined) {
    changes.note("RSA-2048 key pair (private half KMS-encrypted in the images bucket)");
    if (!ctx.dryRun) spki = await storeNewPair(ctx, deps.keyArn);
  }
  const keyName = spki === undefined ? `${names.publicKeyPrefix}(new)` : `${names.publicKeyPrefix}${fingerprint(spki)}`;
  let publicKeyId = (await findPublicKeys(ctx)).find((k) => k.name === keyName)?.id;
  if (publicKeyId === undefined && spki !== undefined) {
    const key = spki;
    const made = await changes.apply("public key", "cloudfront:CreatePublicKey", () =>
      createOrAdopt(
        "cloudfront",
        async () => (await cloudfront.send(new CreatePublicKeyCommand({ PublicKeyConfig: { CallerReference: keyName, Name: keyName, EncodedKey: pemOf(key), Comment: `imgapi ${ctx.names.stack}: signs /resized/* URLs` } }))).PublicKey?.Id,
        async () => (await findPublicKeys(ctx)).find((k) => k.name === keyName)?.id,
      ), "creating");
    publicKeyId = made?.value;
  } else if (publicKeyId === undefined) {
    changes.note("public key");
  }
  const group = await findKeyGroup(ctx);
  const Items = publicKeyId === undefined ? [] : [publicKeyId];
  const desired: KeyGroupConfig = { Name: names.keyGroup, Items, Comment: `imgapi ${ctx.names.stack}: trusted signers of /resized/*` };
  let keyGroupId = group?.id;
  if (group === undefined) {
    const made = await changes.apply("key group", "cloudfront:CreateKeyGroup", () =>
      createOrAdopt("cloudfront", async () => (await cloudfront.send(new CreateKeyGroupCommand({ KeyGroupConfig: desired }))).KeyGroup?.Id, async () => (await findKeyGroup(ctx))?.id), "creating");
    keyGroupId = made?.value;
  } else if (JSON.stringify(group.config.Items ?? []) !== JSON.stringify(Items)) {
    await changes.apply("key group's keys", "cloudfront:UpdateKeyGroup", async () => {
      const { ETag } = await cloudfront.send(new GetKeyGroupCommand({ Id: group.id }));
      return cloudfront.send(new UpdateKeyGroupCommand({ Id: group.id, IfMatch: ETag, KeyGroupConfig: desired }));
    }, "updating");
  }
  return { ...changes.report(created, created ? `RSA-2048; public key ${keyName} in key group ${names.keyGroup}` : undefined), keyGroupId: keyGroupId ?? "(new)", publicKeyId: publicKeyId ?? "(new)" };
}

/** After the distribution (a key group a behavior trusts cannot go): the key group, the public keys, and the private key. */
export async function removeCdnSigningKey(ctx: DeployContext): Promise<StepReport> {
  const names = cdnNames(ctx);
  const { cloudfront } = ctx.clients;
  const changes = new Changes(ctx, RESOURCE, names.keyGroup);
  const group = await findKeyGroup(ctx);
  if (group !== undefined) {
    await changes.apply("key group", "cloudfront:DeleteKeyGroup", async () => {
      const got = await orAbsent("cloudfront", () => cloudfront.send(new GetKeyGroupCommand({ Id: group.id })));
      if (got !== undefined) await ignoreAbsent("cloudfront", () => cloudfront.send(new DeleteKeyGroupCommand({ Id: group.id, IfMatch: got.ETag })));
    }, "deleting");
  }
  for (const key of await findPublicKeys(ctx)) {
    await changes.apply(`public key ${key.name}`, "cloudfront:DeletePublicKey", async () => {
      const got = await orAbsent("cloudfront", () => cloudfront.send(new GetPublicKeyCommand({ Id: key.id })));
      if (got !== undefined) await ignoreAbsent("cloudfront", () => cloudfront.send(new DeletePublicKeyCommand({ Id: key.id, IfMatch: got.ETag })));
    }, "deleting");
  }
  // The object is stored before the public key and group are made: only a stack that has them has it
  // (a run stopped in between leaves it, encrypted, until the next deploy uses it or teardown --delete-data).
  if (changes.changed && (await storedPublicKey(ctx)) !== undefined) {
    await changes.apply("private key object", "s3:DeleteObject", () => ctx.clients.s3.send(new DeleteObjectCommand({ Bucket: ctx.names.imagesBucket, Key: CDN_SIGNING_KEY_OBJECT })), "deleting");
  }
  if (!changes.changed) return { resource: RESOURCE, name: names.keyGroup, action: "absent" };
  return { resource: RESOURCE, name: names.keyGroup, action: "deleted", detail: changes.list.join(", ") };
}
