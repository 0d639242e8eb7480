// The deploying identity's CDN rights (deploy/deployer-policy-cdn.json): one
// scenario per statement, the call deploy or teardown makes with the context
// AWS sends, which must be allowed (policy-mutation.test.ts removes each
// statement and expects one of these to fail).
import { bucketArn, functionRoleArn, viaService } from "../../deploy/arns.ts";
import { STACK_TAG } from "../../deploy/names.ts";
import type { PolicyDocument } from "../../deploy/policies/document.ts";
import { imagesKeyPolicy } from "../../deploy/policies/key-policy.ts";
import { CDN_SIGNING_KEY_OBJECT } from "../../function/storage/key-layout.ts";
import type { EvalRequest } from "./policy-eval.ts";
import type { Scenario } from "./policy-scenarios.ts";
import { refs, type StackPolicies } from "./policy-stack.ts";

const DOC = {
  cloudfront: "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudfront.html",
  acm: "https://docs.aws.amazon.com/acm/latest/userguide/authen-apipermissions.html",
  route53: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html",
  waf: "https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html",
  kmsContext: "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context",
} as const;

type Context = Record<string, string | string[]>;
const deployer = (p: StackPolicies, action: string, resource: string, context: Context = {}, resourcePolicy?: PolicyDocument): EvalRequest => ({
  principal: refs(p).deployer,
  action,
  resource,
  resourceAccount: p.ctx.account,
  context,
  identityPolicies: p.docs.deployer,
  ...(resourcePolicy ? { resourcePolicy } : {}),
});
/** KMS always asks the key policy too: the images key's, as deploy writes it with cdn.enabled. */
const cdnKeyPolicy = (p: StackPolicies) => imagesKeyPolicy(p.ctx, { roleArn: functionRoleArn(p.ctx), cdn: {} });
const callerAccount = (p: StackPolicies) => ({ "kms:CallerAccount": p.ctx.account });
const cloudfront = (p: StackPolicies, path: string) => `arn:${p.ctx.partition}:cloudfront::${p.ctx.account}:${path}`;
const certificate = (p: StackPolicies) => `arn:${p.ctx.partition}:acm:us-east-1:${p.ctx.account}:certificate/0a1b2c3d-1111-4222-8333-444455556666`;
const zone = (p: StackPolicies) => `arn:${p.ctx.partition}:route53:::hostedzone/Z0123456789ABCDEFGHIJ`;
const stackTag = (p: StackPolicies) => ({ [`aws:ResourceTag/${STACK_TAG}`]: p.ctx.names.stack });

export const DEPLOYER_CDN_ALLOWED: Scenario[] = [
  {
    name: "creates the CDN's CLOUDFRONT web ACL in us-east-1",
    source: DOC.waf,
    expect: "Allow",
    request: (p) => deployer(p, "wafv2:CreateWebACL", `arn:${p.ctx.partition}:wafv2:us-east-1:${p.ctx.account}:global/webacl/${p.ctx.names.stack}-cdn-rate-limit/1a2b3c`),
  },
  {
    name: "requests the CDN certificate in us-east-1, tagged, DNS-validated",
    source: DOC.acm,
    expect: "Allow",
    request: (p) => deployer(p, "acm:RequestCertificate", "*", { [`aws:RequestTag/${STACK_TAG}`]: p.ctx.names.stack, "aws:RequestedRegion": "us-east-1", "acm:ValidationMethod": "DNS" }),
  },
  { name: "tags the certificate with the stack", source: DOC.acm, expect: "Allow", request: (p) => deployer(p, "acm:AddTagsToCertificate", certificate(p), { [`aws:RequestTag/${STACK_TAG}`]: p.ctx.names.stack }) },
  { name: "finds certificates", source: DOC.acm, expect: "Allow", request: (p) => deployer(p, "acm:ListCertificates", "*") },
  { name: "reads a certificate's validation record", source: DOC.acm, expect: "Allow", request: (p) => deployer(p, "acm:DescribeCertificate", certificate(p)) },
  { name: "deletes the stack's certificate", source: DOC.acm, expect: "Allow", request: (p) => deployer(p, "acm:DeleteCertificate", certificate(p), stackTag(p)) },
  {
    name: "writes the domain's validation CNAME",
    source: DOC.route53,
    expect: "Allow",
    request: (p) => deployer(p, "route53:ChangeResourceRecordSets", zone(p), { "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"], "route53:ChangeResourceRecordSetsActions": ["UPSERT"] }),
  },
  { name: "reads the zone's records", source: DOC.route53, expect: "Allow", request: (p) => deployer(p, "route53:ListResourceRecordSets", zone(p)) },
  { name: "publishes the stack's edge function", source: DOC.cloudfront, expect: "Allow", request: (p) => deployer(p, "cloudfront:PublishFunction", cloudfront(p, `function/${p.ctx.names.stack}-accept`)) },
  { name: "updates its distribution", source: DOC.cloudfront, expect: "Allow", request: (p) => deployer(p, "cloudfront:UpdateDistribution", cloudfront(p, "distribution/E2QWRUHAPOMQZL")) },
  { name: "creates the distribution", source: DOC.cloudfront, expect: "Allow", request: (p) => deployer(p, "cloudfront:CreateDistribution", "*") },
  {
    name: "stores the encrypted URL-signing key in its object",
    source: DOC.cloudfront,
    expect: "Allow",
    request: (p) => deployer(p, "s3:PutObject", `${bucketArn(p.ctx, p.ctx.names.imagesBucket)}/${CDN_SIGNING_KEY_OBJECT}`, { "aws:SecureTransport": "true" }),
  },
  {
    name: "encrypts the URL-signing key with its context",
    source: DOC.kmsContext,
    expect: "Allow",
    request: (p) => deployer(p, "kms:Encrypt", p.imagesKeyArn, { ...stackTag(p), ...callerAccount(p), "kms:EncryptionContext:imgapi:purpose": "cdn-url-signing" }, cdnKeyPolicy(p)),
  },
  {
    name: "S3 encrypts the key's object with the images key for the deployer",
    source: DOC.kmsContext,
    expect: "Allow",
    request: (p) =>
      deployer(
        p,
        "kms:GenerateDataKey",
        p.imagesKeyArn,
        { ...stackTag(p), ...callerAccount(p), "kms:ViaService": viaService(p.ctx, "s3"), "kms:EncryptionContext:aws:s3:arn": `${bucketArn(p.ctx, p.ctx.names.imagesBucket)}/${CDN_SIGNING_KEY_OBJECT}` },
        cdnKeyPolicy(p),
      ),
  },
];

