// The CDN's companions as AWS documents them, where moto 5.2.1 differs (each
// checked against moto_server 5.2.1 by hand):
// - moto takes WAF calls of scope CLOUDFRONT in any region (and files the ACL
//   under us-east-1); AWS serves that scope from us-east-1 only.
// - moto's DescribeCertificate has the validation record at once; AWS gives it
//   "several seconds" after RequestCertificate.
// - moto never validates a certificate (PENDING_VALIDATION for ever); ACM
//   issues it once the validation CNAME resolves. Here: once the record is in
//   a Route 53 zone of the account (a user's own DNS is a zone in the tests too).
// - moto's CloudFront takes a viewer certificate from any region; CloudFront
//   takes ACM certificates from us-east-1 only.
import { DescribeCertificateCommand, ListCertificatesCommand } from "@aws-sdk/client-acm";
import { ListHostedZonesCommand, ListResourceRecordSetsCommand } from "@aws-sdk/client-route-53";
import { jsonError, queryError } from "../aws-errors.ts";
import type { ProxiedRequest, UpstreamAnswer } from "../fault-proxy.ts";
import { Countdown, jsonBody, ok, type AwsRule, type RuleContext } from "./kit.ts";

const CDN_REGION = "us-east-1";
const regionOf = (req: ProxiedRequest) => /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";

/**
 * "To work with CloudFront, you must also specify the Region US East (N.
 * Virginia) ... API and SDKs - For all calls, use the Region endpoint
 * us-east-1." Elsewhere AWS answers WAFInvalidParameterException for the scope.
 * https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html
 */
export function wafCloudFrontScopeRegion(): AwsRule {
  const name = "waf-cloudfront-scope-us-east-1";
  return {
    name,
    source: "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html",
    install({ proxy }) {
      proxy.inject({
        name,
        match: { service: "wafv2", where: (req) => jsonBody(req).Scope === "CLOUDFRONT" && regionOf(req) !== CDN_REGION },
        fault: jsonError(400, "WAFInvalidParameterException", "Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: CLOUDFRONT"),
        times: Infinity,
      });
    },
  };
}

const rewriteJson = (answer: UpstreamAnswer, edit: (doc: Record<string, unknown>) => void): UpstreamAnswer => {
  const doc = JSON.parse(answer.body.toString("utf8")) as Record<string, unknown>;
  edit(doc);
  const body = Buffer.from(JSON.stringify(doc));
  return { ...answer, headers: { ...answer.headers, "content-length": String(body.length) }, body };
};
type Detail = { CertificateArn?: string; Status?: string; DomainValidationOptions?: Array<{ ValidationStatus?: string; ResourceRecord?: unknown }> };

/**
 * "After successful completion of the RequestCertificate action, there is a
 * delay of several seconds before you can retrieve information about the new
 * certificate": the first `describes` DescribeCertificate of a new certificate
 * come without its validation record.
 * https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
 */
export function acmValidationRecordDelay({ describes = 2 } = {}): AwsRule {
  const name = "acm-validation-record-delay";
  return {
    name,
    source: "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html",
    install({ proxy }) {
      const fresh = new Countdown();
      proxy.observe({ name, match: { service: "acm", operation: "RequestCertificate" }, seen: (_req, answer) => {
          if (ok(answer.status)) fresh.arm(String((JSON.parse(answer.body.toString("utf8")) as Detail).CertificateArn), describes);
        },
      });
      proxy.inject({
        name,
        match: { service: "acm", operation: "DescribeCertificate" },
        fault: (req) => (fresh.take(String(jsonBody(req).CertificateArn)) ? { kind: "rewrite", rewrite: (a) => (ok(a.status) ? rewriteJson(a, (d) => (d.Certificate as Detail).DomainValidationOptions?.forEach((o) => delete o.ResourceRecord)) : a) } : undefined),
        times: Infinity,
      });
    },
  };
}

/** Whether the certificate's validation CNAME is in any zone of the account, with its value. */
async function validated(ctx: RuleContext, arn: string): Promise<boolean> {
  const cert = (await ctx.upstream.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))).Certificate;
  const want = cert?.DomainValidationOptions?.[0]?.ResourceRecord;
  if (cert?.Status !== "PENDING_VALIDATION" || want?.Name === undefined) return false;
  for (const zone of (await ctx.upstream.route53.send(new ListHostedZonesCommand({}))).HostedZones ?? []) {
    const sets = await ctx.upstream.route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id, StartRecordName: want.Name, StartRecordType: "CNAME", MaxItems: 1 }));
    const set = sets.ResourceRecordSets?.[0];
    if (set?.Name?.toLowerCase() === want.Name.toLowerCase() && set.Type === "CNAME" && set.ResourceRecords?.some((r) => r.Value === want.Value)) return true;
  }
  return false;
}

/**
 * ACM issues a DNS-validated certificate once its CNAME resolves ("ACM
 * automatically validates the domain once the record is found"); until then
 * PENDING_VALIDATION. Both DescribeCertificate and ListCertificates report it.
 * https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html
 */
export function acmDnsValidation(): AwsRule {
  const name = "acm-dns-validation";
  return {
    name,
    source: "https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html",
    install(ctx) {
      const issue = (c: Detail) => {
        c.Status = "ISSUED";
        c.DomainValidationOptions?.forEach((o) => (o.ValidationStatus = "SUCCESS"));
      };
      ctx.proxy.inject({
        name,
        match: { service: "acm", operation: "DescribeCertificate" },
        fault: async (req) => ((await validated(ctx, String(jsonBody(req).CertificateArn))) ? { kind: "rewrite", rewrite: (a) => (ok(a.status) ? rewriteJson(a, (d) => issue(d.Certificate as Detail)) : a) } : undefined),
        times: Infinity,
      });
      ctx.proxy.inject({
        name,
        match: { service: "acm", operation: "ListCertificates" },
        fault: async () => {
          const listed = (await ctx.upstream.acm.send(new ListCertificatesCommand({}))).CertificateSummaryList ?? [];
          const issued = new Set<string>();
          for (const c of listed) if (c.CertificateArn && (await validated(ctx, c.CertificateArn))) issued.add(c.CertificateArn);
          if (issued.size === 0) return undefined;
          return { kind: "rewrite", rewrite: (a) => (ok(a.status) ? rewriteJson(a, (d) => (d.CertificateSummaryList as Detail[]).forEach((c) => issued.has(c.CertificateArn ?? "") && (c.Status = "ISSUED"))) : a) };
        },
        times: Infinity,
      });
    },
  };
}

/**
 * "CloudFront only supports ACM certificates in the US East (N. Virginia)
 * Region (us-east-1)": a distribution naming one from elsewhere is refused.
 * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html
 */
export function cloudFrontCertificateRegion(): AwsRule {
  const name = "cloudfront-certificate-us-east-1";
  return {
    name,
    source: "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html",
    install({ proxy }) {
      proxy.inject({
        name,
        match: { service: "cloudfront", where: (req) => /<ACMCertificateArn>arn:[^:]+:acm:(?!us-east-1:)/.test(req.body.toString("utf8")) },
        fault: queryError(400, "InvalidViewerCertificate", "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain."),
        times: Infinity,
      });
    },
  };
}
