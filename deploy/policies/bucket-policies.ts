// Bucket policies: every bucket refuses requests without TLS; the trail bucket
// lets CloudTrail (this trail only) check it and write its logs, as
// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
// requires. Pure, for the deploy, the policy-engine tests and the audit.
import type { DeployContext } from "../context.ts";
import { bucketArn, servicePrincipal, trailArn, type NamedScope } from "../arns.ts";
import type { PolicyDocument, PolicyStatement } from "./document.ts";

/**
 * Refuses every request not made over TLS, whoever makes it: an explicit deny,
 * so no other statement, identity policy or grant can let plain HTTP through.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit
 */
export function tlsOnlyStatement(ctx: Pick<DeployContext, "partition">, bucket: string): PolicyStatement {
  const resource = bucketArn(ctx, bucket);
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "s3:*",
    Resource: [resource, `${resource}/*`],
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

export function bucketPolicy(ctx: Pick<DeployContext, "partition">, spec: { bucket: string; extraStatements?: PolicyStatement[] }): PolicyDocument {
  return { Version: "2012-10-17", Statement: [tlsOnlyStatement(ctx, spec.bucket), ...(spec.extraStatements ?? [])] };
}

/** CloudTrail's grants, scoped with aws:SourceArn to this stack's trail (no other trail may write here). */
export function trailBucketStatements(ctx: NamedScope): PolicyStatement[] {
  const bucket = bucketArn(ctx, ctx.names.trailBucket);
  const cloudtrail = { Service: servicePrincipal("cloudtrail") };
  const sourceArn = { "aws:SourceArn": trailArn(ctx) };
  return [
    { Sid: "CloudTrailChecksBucketAcl", Effect: "Allow", Principal: cloudtrail, Action: "s3:GetBucketAcl", Resource: bucket, Condition: { StringEquals: sourceArn } },
    {
      Sid: "CloudTrailWritesLogs",
      Effect: "Allow",
      Principal: cloudtrail,
      Action: "s3:PutObject",
      Resource: `${bucket}/AWSLogs/${ctx.account}/*`,
      Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", ...sourceArn } },
    },
  ];
}

/**
 * The CDN's bucket origin (Origin Access Control): CloudFront may read
 * variants under resized/ only, and only for this stack's distribution
 * (aws:SourceArn), so neither another distribution nor anyone else reads the
 * bucket around the CDN; originals/ and system/ stay private.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
 */
export function cdnBucketStatement(ctx: Pick<DeployContext, "partition">, bucket: string, resizedPrefix: string, distributionArn: string): PolicyStatement {
  return {
    Sid: "CloudFrontReadsVariants",
    Effect: "Allow",
    Principal: { Service: servicePrincipal("cloudfront") },
    Action: "s3:GetObject",
    Resource: `${bucketArn(ctx, bucket)}/${resizedPrefix}*`,
    Condition: { StringEquals: { "AWS:SourceArn": distributionArn } },
  };
}
