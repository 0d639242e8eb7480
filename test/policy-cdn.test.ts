// The CDN's grants (cdn.enabled) evaluated by a real IAM policy engine
// (test/support/policy-eval.ts): the bucket's variants and the images key are
// usable by CloudFront only for this stack's distribution, nothing else of the
// bucket is, not over plain HTTP either; the function purges only this
// distribution and decrypts the URL-signing key only with its context.
// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
import assert from "node:assert/strict";
import { test } from "node:test";
import { arn, bucketArn, functionRoleArn } from "../deploy/arns.ts";
import { bucketPolicy, cdnBucketStatement } from "../deploy/policies/bucket-policies.ts";
import { functionBoundaryPolicy, lambdaRolePolicy } from "../deploy/policies/function-role.ts";
import { imagesKeyPolicy } from "../deploy/policies/key-policy.ts";
import { distributionArn } from "../deploy/resources/cdn-distribution.ts";
import { CDN_SIGNING_KEY_CONTEXT } from "../function/cdn/cdn-env.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../function/storage/key-layout.ts";
import { evaluate, type Decision } from "./support/policy-eval.ts";
import { scopeOf } from "./support/policy-stack.ts";

const ctx = scopeOf("imgapi-dev");
const ours = distributionArn(ctx, "E1OURS0000000");
const theirs = distributionArn(ctx, "E2THEIRS00000");
const bucket = bucketArn(ctx, ctx.names.imagesBucket);
const bucketDoc = bucketPolicy(ctx, { bucket: ctx.names.imagesBucket, extraStatements: [cdnBucketStatement(ctx, ctx.names.imagesBucket, "resized/", ours)] });
const roleArn = functionRoleArn(ctx);
const keyArn = arn(ctx, "kms", "key/0b6f5c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f");
const keyDoc = imagesKeyPolicy(ctx, { roleArn, cdn: { distributionArn: ours } });
const CLOUDFRONT = "cloudfront.amazonaws.com";
const TLS = { "aws:SecureTransport": "true" };

const read = (principal: string, key: string, context: Record<string, string>) =>
  evaluate({ principal, action: "s3:GetObject", resource: `${bucket}/${key}`, resourceAccount: ctx.account, resourcePolicy: bucketDoc, context });

const BUCKET: Array<[string, () => Promise<Decision>, Decision]> = [
  ["CloudFront for this distribution reads a variant", () => read(CLOUDFRONT, "resized/abc/thumbnail.webp", { ...TLS, "aws:SourceArn": ours, "aws:SourceAccount": ctx.account }), "Allow"],
  ["CloudFront for another distribution", () => read(CLOUDFRONT, "resized/abc/thumbnail.webp", { ...TLS, "aws:SourceArn": theirs, "aws:SourceAccount": ctx.account }), "ImplicitDeny"],
  ["CloudFront for this distribution over plain HTTP", () => read(CLOUDFRONT, "resized/abc/thumbnail.webp", { "aws:SecureTransport": "false", "aws:SourceArn": ours }), "ExplicitDeny"],
  ["CloudFront for this distribution, an original", () => read(CLOUDFRONT, "originals/abc", { ...TLS, "aws:SourceArn": ours }), "ImplicitDeny"],
  ["CloudFront for this distribution, the URL-signing key", () => read(CLOUDFRONT, CDN_SIGNING_KEY_OBJECT, { ...TLS, "aws:SourceArn": ours }), "ImplicitDeny"],
  ["anyone of another account", () => read("arn:aws:iam::999999999999:root", "resized/abc/thumbnail.webp", TLS), "ImplicitDeny"],
];

for (const [name, decide, expected] of BUCKET) {
  test(`bucket: ${name} -> ${expected}`, async () => assert.equal(await decide(), expected));
}

const decrypt = (principal: string, context: Record<string, string>, extra: { identityPolicies?: never[] } = {}) =>
  evaluate({ principal, action: "kms:Decrypt", resource: keyArn, resourceAccount: ctx.account, resourcePolicy: keyDoc, context, ...extra });
const signingContext = Object.fromEntries(Object.entries(CDN_SIGNING_KEY_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]));

test("key: CloudFront decrypts for this distribution only", async () => {
  assert.equal(await decrypt(CLOUDFRONT, { "aws:SourceArn": ours, "aws:SourceAccount": ctx.account }), "Allow");
  assert.equal(await decrypt(CLOUDFRONT, { "aws:SourceArn": theirs, "aws:SourceAccount": ctx.account }), "ImplicitDeny");
});

test("key and boundary: the function decrypts the URL-signing key with its context only", async () => {
  const boundary = functionBoundaryPolicy(ctx, { cdn: true });
  const asRole = (context: Record<string, string>) => evaluate({ principal: roleArn, action: "kms:Decrypt", resource: keyArn, resourceAccount: ctx.account, resourcePolicy: keyDoc, permissionsBoundary: boundary, context });
  assert.equal(await asRole(signingContext), "Allow");
  assert.equal(await asRole({ "kms:EncryptionContext:imgapi:purpose": "something-else" }), "ImplicitDeny");
  assert.equal(await evaluate({ principal: roleArn, action: "kms:Decrypt", resource: keyArn, resourceAccount: ctx.account, resourcePolicy: keyDoc, permissionsBoundary: functionBoundaryPolicy(ctx), context: signingContext }), "ImplicitDeny", "without the CDN the boundary allows no such use");
});

test("role: the function invalidates this distribution only, and reads the URL-signing key's object", async () => {
  const identityPolicies = [lambdaRolePolicy(ctx, { keyArn, cdnDistributionArn: ours })];
  const permissionsBoundary = functionBoundaryPolicy(ctx, { cdn: true });
  const asRole = (action: string, resource: string, context: Record<string, string> = {}) => evaluate({ principal: roleArn, action, resource, resourceAccount: ctx.account, identityPolicies, permissionsBoundary, context });
  assert.equal(await asRole("cloudfront:CreateInvalidation", ours), "Allow");
  assert.equal(await asRole("cloudfront:CreateInvalidation", theirs), "ImplicitDeny");
  assert.equal(await asRole("s3:GetObject", `${bucket}/${CDN_SIGNING_KEY_OBJECT}`, TLS), "Allow");
});
