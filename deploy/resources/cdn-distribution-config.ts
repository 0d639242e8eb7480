// The distribution as the design (notes: CDN design, issue 13) wants it, and
// the comparison a redeploy makes: every field deploy owns, whatever order or
// defaults CloudFront reports them in. Pure, for the module and its tests.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html
import type { CacheBehavior, DefaultCacheBehavior, DistributionConfig, Origin } from "@aws-sdk/client-cloudfront";
import { CDN_ORIGIN_HEADER } from "../../function/cdn/cdn-env.ts";
import { RESIZED_PREFIX } from "../../function/storage/key-layout.ts";
import { dnsSuffix } from "../arns.ts";
import type { DeployContext } from "../context.ts";
import { cdnNames, list } from "./cdn-names.ts";

/** AWS's managed CachingOptimized: no query string in the key (CloudFront checks the signed URL before the cache). */
export const CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6";
export const API_ORIGIN = "api";
export const BUCKET_ORIGIN = "bucket";
export const PUBLIC_PATH = "/public/images/*";
export const RESIZED_PATH = `/${RESIZED_PREFIX}*`;

export interface DistributionDeps {
  restApiId: string;
  oacId: string;
  cachePolicyId: string;
  edgeFunctionArn: string;
  keyGroupId: string;
  /** From the certificate step (cdn.domain), and the CLOUDFRONT web ACL (cdn.rateLimitPerIp). */
  certificateArn?: string;
  webAclArn?: string;
}

const GET_HEAD = { Quantity: 2, Items: ["GET", "HEAD"], CachedMethods: { Quantity: 2, Items: ["GET", "HEAD"] } } as const;

function behavior(origin: string, cachePolicyId: string, extra: Partial<CacheBehavior>): DefaultCacheBehavior {
  return {
    TargetOriginId: origin,
    ViewerProtocolPolicy: "https-only",
    AllowedMethods: { ...GET_HEAD, Items: [...GET_HEAD.Items], CachedMethods: { ...GET_HEAD.CachedMethods, Items: [...GET_HEAD.CachedMethods.Items] } },
    // Images are compressed already.
    Compress: false,
    CachePolicyId: cachePolicyId,
    SmoothStreaming: false,
    FieldLevelEncryptionId: "",
    TrustedSigners: { Enabled: false, Quantity: 0 },
    TrustedKeyGroups: { Enabled: false, Quantity: 0 },
    LambdaFunctionAssociations: { Quantity: 0 },
    FunctionAssociations: { Quantity: 0 },
    ...extra,
  };
}

export function desiredDistribution(ctx: Pick<DeployContext, "names" | "region" | "partition" | "config">, deps: DistributionDeps, originSecret: string, callerReference: string): DistributionConfig {
  const suffix = dnsSuffix(ctx.partition);
  const api: Origin = {
    Id: API_ORIGIN,
    DomainName: `${deps.restApiId}.execute-api.${ctx.region}.${suffix}`,
    OriginPath: `/${ctx.names.stage}`,
    CustomHeaders: list([{ HeaderName: CDN_ORIGIN_HEADER, HeaderValue: originSecret }]),
    CustomOriginConfig: { HTTPPort: 80, HTTPSPort: 443, OriginProtocolPolicy: "https-only", OriginSslProtocols: list(["TLSv1.2"]), OriginReadTimeout: 30, OriginKeepaliveTimeout: 5 },
    ConnectionAttempts: 3,
    ConnectionTimeout: 10,
    OriginAccessControlId: "",
  };
  const bucket: Origin = {
    Id: BUCKET_ORIGIN,
    DomainName: `${ctx.names.imagesBucket}.s3.${ctx.region}.${suffix}`,
    OriginPath: "",
    CustomHeaders: { Quantity: 0 },
    // With Origin Access Control the identity stays empty.
    S3OriginConfig: { OriginAccessIdentity: "" },
    OriginAccessControlId: deps.oacId,
    ConnectionAttempts: 3,
    ConnectionTimeout: 10,
  };
  const edge = list([{ FunctionARN: deps.edgeFunctionArn, EventType: "viewer-request" as const }]);
  const domain = ctx.config.cdn.domain;
  const custom = domain !== undefined && deps.certificateArn !== undefined;
  return {
    CallerReference: callerReference,
    Comment: cdnNames(ctx).comment,
    Enabled: true,
    Aliases: custom ? list([domain]) : { Quantity: 0 },
    DefaultRootObject: "",
    Origins: list([api, bucket]),
    DefaultCacheBehavior: behavior(API_ORIGIN, deps.cachePolicyId, { FunctionAssociations: edge }),
    CacheBehaviors: list([
      { PathPattern: PUBLIC_PATH, ...behavior(API_ORIGIN, deps.cachePolicyId, { FunctionAssociations: edge }) },
      { PathPattern: RESIZED_PATH, ...behavior(BUCKET_ORIGIN, CACHING_OPTIMIZED, { TrustedKeyGroups: { Enabled: true, Quantity: 1, Items: [deps.keyGroupId] } }) },
    ]),
    PriceClass: "PriceClass_100",
    HttpVersion: "http2and3",
    IsIPV6Enabled: true,
    ViewerCertificate: custom
      ? { ACMCertificateArn: deps.certificateArn, SSLSupportMethod: "sni-only", MinimumProtocolVersion: "TLSv1.2_2021", CloudFrontDefaultCertificate: false }
      : { CloudFrontDefaultCertificate: true },
    WebACLId: deps.webAclArn ?? "",
  };
}

/** The origin secret an existing distribution sends to the API (read back: it lives nowhere else). */
export const originSecretOf = (config: DistributionConfig | undefined) =>
  config?.Origins?.Items?.find((o) => o.Id === API_ORIGIN)?.CustomHeaders?.Items?.find((h) => h.HeaderName?.toLowerCase() === CDN_ORIGIN_HEADER)?.HeaderValue;

const sorted = (items: readonly string[] | undefined) => [...(items ?? [])].sort();

function ownedBehavior(b: (DefaultCacheBehavior & { PathPattern?: string }) | undefined) {
  return {
    path: b?.PathPattern ?? "default",
    origin: b?.TargetOriginId,
    viewers: b?.ViewerProtocolPolicy,
    methods: [sorted(b?.AllowedMethods?.Items), sorted(b?.AllowedMethods?.CachedMethods?.Items)],
    compress: b?.Compress ?? false,
    cachePolicy: b?.CachePolicyId,
    functions: sorted((b?.FunctionAssociations?.Items ?? []).map((f) => `${f.EventType} ${f.FunctionARN}`)),
    lambdas: b?.LambdaFunctionAssociations?.Quantity ?? 0,
    keyGroups: b?.TrustedKeyGroups?.Enabled ? sorted(b.TrustedKeyGroups.Items) : [],
    signers: b?.TrustedSigners?.Enabled ?? false,
  };
}

function ownedOrigin(o: Origin) {
  const custom = o.CustomOriginConfig;
  return {
    id: o.Id,
    domain: o.DomainName,
    path: o.OriginPath ?? "",
    headers: sorted((o.CustomHeaders?.Items ?? []).map((h) => `${h.HeaderName?.toLowerCase()}=${h.HeaderValue}`)),
    custom: custom && { policy: custom.OriginProtocolPolicy, tls: sorted(custom.OriginSslProtocols?.Items), https: custom.HTTPSPort },
    s3: o.S3OriginConfig && (o.S3OriginConfig.OriginAccessIdentity ?? ""),
    oac: o.OriginAccessControlId ?? "",
  };
}

/** Every field deploy owns, as one comparable string (behaviors in order: their order is their precedence). */
export function ownedFields(c: DistributionConfig | undefined): string {
  const cert = c?.ViewerCertificate;
  const custom = cert?.ACMCertificateArn !== undefined && cert.ACMCertificateArn !== "";
  return JSON.stringify({
    comment: c?.Comment,
    enabled: c?.Enabled,
    aliases: sorted(c?.Aliases?.Items),
    origins: (c?.Origins?.Items ?? []).map(ownedOrigin).sort((a, b) => String(a.id).localeCompare(String(b.id))),
    default: ownedBehavior(c?.DefaultCacheBehavior),
    behaviors: (c?.CacheBehaviors?.Items ?? []).map(ownedBehavior),
    priceClass: c?.PriceClass,
    http: c?.HttpVersion,
    ipv6: c?.IsIPV6Enabled,
    // With the default certificate CloudFront reports its own TLS floor: only a custom one's is ours.
    certificate: custom ? [cert.ACMCertificateArn, cert.SSLSupportMethod, cert.MinimumProtocolVersion] : "default",
    webAcl: c?.WebACLId ?? "",
  });
}

/** The owned fields that differ, by name, for the report. */
export function driftedFields(actual: DistributionConfig, desired: DistributionConfig): string[] {
  const a = JSON.parse(ownedFields(actual)) as Record<string, unknown>;
  const d = JSON.parse(ownedFields(desired)) as Record<string, unknown>;
  return Object.keys(d).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(d[k]));
}
