// What makes a bucket of the stack safe, as a table of settings, each read,
// compared and written on its own: a bucket created by a run that stopped
// before hardening it is hardened by the next. What differs between the images
// and the trail bucket (Bucket Key, CORS, versioning, lifecycle rules, the
// policy's extra statements) comes in the BucketSpec.
import {
  GetBucketCorsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  PutBucketCorsCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type CORSRule,
  type LifecycleRule,
  type PublicAccessBlockConfiguration,
} from "@aws-sdk/client-s3";
import type { DeployContext, StepReport } from "../context.ts";
import { bucketPolicy } from "../policies/bucket-policies.ts";
import { samePolicy, type PolicyStatement } from "../policies/document.ts";
import { orAbsent, type Setting } from "../toolkit/index.ts";

export interface BucketSpec {
  /** "S3 bucket (images)": how reports and errors name it. */
  resource: string;
  bucket: string;
  keyArn: string;
  /**
   * S3 Bucket Key: S3 reuses a data key instead of calling KMS per object.
   * Worth it for the images bucket; the trail bucket gets a few objects an
   * hour, and with a Bucket Key CloudTrail would need kms:Decrypt as well
   * (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html).
   */
  bucketKey: boolean;
  /**
   * Rules besides aborting incomplete multipart uploads; undefined: the bucket
   * gets no lifecycle configuration at all (the trail bucket: nothing may expire audit logs).
   */
  lifecycleRules?: LifecycleRule[];
  cors?: CORSRule[];
  /** Keep every version: what is overwritten or deleted stays recoverable. */
  versioning?: boolean;
  /**
   * S3 Object Lock in governance mode: each new object version can be neither
   * deleted nor overwritten for this many days, except by an identity with
   * s3:BypassGovernanceRetention (the deployer policy denies it). Needs versioning.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
   */
  lockDays?: number;
  /** Statements the bucket policy adds to the TLS-only deny (the trail bucket's CloudTrail grants). */
  extraStatements?: PolicyStatement[];
}

export type BucketReport = StepReport & { outputs: { bucketName: string; bucketArn: string } };

export const PUBLIC_ACCESS_BLOCK: Required<PublicAccessBlockConfiguration> = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

export const ABORT_MULTIPART_RULE: LifecycleRule = {
  ID: "abort-incomplete-multipart-uploads",
  Status: "Enabled",
  Filter: { Prefix: "" },
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
};

/** A lifecycle rule as the fields we set, so a rule read back compares equal to the one written. */
function canonicalRule(r: LifecycleRule): string {
  return JSON.stringify({
    id: r.ID,
    status: r.Status,
    prefix: r.Filter?.Prefix ?? r.Prefix ?? "",
    tag: r.Filter?.Tag ?? r.Filter?.And ?? null,
    expireDays: r.Expiration?.Days ?? null,
    abortDays: r.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? null,
    noncurrentDays: r.NoncurrentVersionExpiration?.NoncurrentDays ?? null,
    transitions: (r.Transitions?.length ?? 0) + (r.NoncurrentVersionTransitions?.length ?? 0),
  });
}

const sameRules = (actual: LifecycleRule[] | undefined, desired: LifecycleRule[]) =>
  JSON.stringify((actual ?? []).map(canonicalRule).sort()) === JSON.stringify(desired.map(canonicalRule).sort());

const canonicalCors = (rules: CORSRule[] | undefined) =>
  JSON.stringify(
    (rules ?? []).map((r) => ({
      origins: [...(r.AllowedOrigins ?? [])].sort(),
      methods: [...(r.AllowedMethods ?? [])].sort(),
      headers: [...(r.AllowedHeaders ?? [])].map((h) => h.toLowerCase()).sort(),
      expose: [...(r.ExposeHeaders ?? [])].map((h) => h.toLowerCase()).sort(),
      maxAge: r.MaxAgeSeconds ?? null,
    })),
  );

export function bucketSettings(ctx: DeployContext, spec: BucketSpec): Setting[] {
  const { s3 } = ctx.clients;
  const Bucket = spec.bucket;
  const policy = bucketPolicy(ctx, spec);
  const rules = spec.lifecycleRules === undefined ? undefined : [ABORT_MULTIPART_RULE, ...spec.lifecycleRules];
  const tagsOf = async () => {
    const got = await orAbsent("s3", () => s3.send(new GetBucketTaggingCommand({ Bucket })), "NoSuchTagSet");
    return Object.fromEntries((got?.TagSet ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  };
  const settings: Setting[] = [
    {
      field: "public access block",
      readPermission: "s3:GetBucketPublicAccessBlock",
      permission: "s3:PutBucketPublicAccessBlock",
      matches: async () => {
        const got = await orAbsent("s3", () => s3.send(new GetPublicAccessBlockCommand({ Bucket })), "NoSuchPublicAccessBlockConfiguration");
        const actual = got?.PublicAccessBlockConfiguration ?? {};
        return Object.entries(PUBLIC_ACCESS_BLOCK).every(([k, v]) => actual[k as keyof PublicAccessBlockConfiguration] === v);
      },
      write: () => s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: PUBLIC_ACCESS_BLOCK })),
    },
    {
      field: "object ownership",
      readPermission: "s3:GetBucketOwnershipControls",
      permission: "s3:PutBucketOwnershipControls",
      matches: async () => {
        const got = await orAbsent("s3", () => s3.send(new GetBucketOwnershipControlsCommand({ Bucket })), "OwnershipControlsNotFoundError");
        const owned = got?.OwnershipControls?.Rules ?? [];
        return owned.length === 1 && owned[0]?.ObjectOwnership === "BucketOwnerEnforced";
      },
      write: () => s3.send(new PutBucketOwnershipControlsCommand({ Bucket, OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] } })),
    },
    {
      field: "default encryption",
      readPermission: "s3:GetEncryptionConfiguration",
      permission: "s3:PutEncryptionConfiguration",
      matches: async () => {
        const got = await orAbsent("s3", () => s3.send(new GetBucketEncryptionCommand({ Bucket })), "ServerSideEncryptionConfigurationNotFoundError");
        const encryption = got?.ServerSideEncryptionConfiguration?.Rules ?? [];
        const rule = encryption[0];
        return (
          encryption.length === 1 &&
          rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm === "aws:kms" &&
          rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID === spec.keyArn &&
          (rule.BucketKeyEnabled ?? false) === spec.bucketKey
        );
      },
      write: () =>
        s3.send(
          new PutBucketEncryptionCommand({
            Bucket,
            ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: spec.keyArn }, BucketKeyEnabled: spec.bucketKey }] },
          }),
        ),
    },
    {
      field: "tags",
      readPermission: "s3:GetBucketTagging",
      permission: "s3:PutBucketTagging",
      matches: async () => {
        const actual = await tagsOf();
        return Object.entries(ctx.tags).every(([k, v]) => actual[k] === v);
      },
      // PutBucketTagging replaces the whole set: keep tags others added.
      write: async () => s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: Object.entries({ ...(await tagsOf()), ...ctx.tags }).map(([Key, Value]) => ({ Key, Value })) } })),
    },
    {
      field: "policy",
      readPermission: "s3:GetBucketPolicy",
      permission: "s3:PutBucketPolicy",
      matches: async () => samePolicy((await orAbsent("s3", () => s3.send(new GetBucketPolicyCommand({ Bucket })), "NoSuchBucketPolicy"))?.Policy, policy),
      write: () => s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(policy) })),
    },
  ];
  if (rules !== undefined) {
    settings.push({
      field: "lifecycle",
      readPermission: "s3:GetLifecycleConfiguration",
      permission: "s3:PutLifecycleConfiguration",
      matches: async () => sameRules((await orAbsent("s3", () => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })), "NoSuchLifecycleConfiguration"))?.Rules, rules),
      write: () => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: rules } })),
    });
  }
  if (spec.cors !== undefined) {
    const cors = spec.cors;
    settings.push({
      field: "CORS",
      readPermission: "s3:GetBucketCORS",
      permission: "s3:PutBucketCORS",
      matches: async () => canonicalCors((await orAbsent("s3", () => s3.send(new GetBucketCorsCommand({ Bucket })), "NoSuchCORSConfiguration"))?.CORSRules) === canonicalCors(cors),
      write: () => s3.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: cors } })),
    });
  }
  if (spec.versioning) {
    settings.push({
      field: "versioning",
      readPermission: "s3:GetBucketVersioning",
      permission: "s3:PutBucketVersioning",
      matches: async () => (await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status === "Enabled",
      write: () => s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: "Enabled" } })),
    });
  }
  if (spec.lockDays !== undefined) {
    const lock = { ObjectLockEnabled: "Enabled" as const, Rule: { DefaultRetention: { Mode: "GOVERNANCE" as const, Days: spec.lockDays } } };
    settings.push({
      field: "object lock",
      readPermission: "s3:GetBucketObjectLockConfiguration",
      permission: "s3:PutBucketObjectLockConfiguration",
      matches: async () => {
        const got = (await orAbsent("s3", () => s3.send(new GetObjectLockConfigurationCommand({ Bucket })), "ObjectLockConfigurationNotFoundError"))?.ObjectLockConfiguration;
        const retention = got?.Rule?.DefaultRetention;
        return got?.ObjectLockEnabled === "Enabled" && retention?.Mode === "GOVERNANCE" && retention.Days === spec.lockDays && !retention.Years;
      },
      write: () => s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: lock })),
    });
  }
  return settings;
}
