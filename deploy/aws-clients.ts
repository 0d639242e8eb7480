// One client per service, created once from the CLI's flags and passed to every
// resource module. An observer sees each command before it is sent: the CLI
// uses it for nothing, tests use it to count mutating calls and to inject a
// failure after the k-th one.
import { ACMClient } from "@aws-sdk/client-acm";
import { APIGatewayClient } from "@aws-sdk/client-api-gateway";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { CloudTrailClient } from "@aws-sdk/client-cloudtrail";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { IAMClient } from "@aws-sdk/client-iam";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { Route53Client } from "@aws-sdk/client-route-53";
import { ResourceGroupsTaggingAPIClient } from "@aws-sdk/client-resource-groups-tagging-api";
import { S3Client } from "@aws-sdk/client-s3";
import { STSClient } from "@aws-sdk/client-sts";
import { WAFV2Client } from "@aws-sdk/client-wafv2";
import type { RetryStrategyV2 } from "@smithy/types";

export interface AwsClients {
  s3: S3Client;
  iam: IAMClient;
  kms: KMSClient;
  lambda: LambdaClient;
  apigw: APIGatewayClient;
  logs: CloudWatchLogsClient;
  cloudtrail: CloudTrailClient;
  sts: STSClient;
  /** Finds the stack's API keys by tag (no GetApiKeys, which can return every key's value). */
  tagging: ResourceGroupsTaggingAPIClient;
  /** The optional per-IP rate limit (api.rateLimitPerIp). */
  wafv2: WAFV2Client;
  /** The CDN's certificate: CloudFront takes ACM certificates from us-east-1 only, whatever the stack's region. */
  acm: ACMClient;
  /** The CDN's per-IP rate limit: WAF's CLOUDFRONT scope is served by the us-east-1 endpoint only. */
  wafv2Cdn: WAFV2Client;
  /** cdn.hostedZoneId: the certificate's validation record and the domain's alias (a global service). */
  route53: Route53Client;
  /** The CDN (cdn.enabled): a global service, signed for us-east-1 whatever the stack's region. */
  cloudfront: CloudFrontClient;
}

/**
 * The region of CloudFront's companions: "To use an ACM certificate with Amazon
 * CloudFront, you must request or import the certificate in the US East (N.
 * Virginia) region" (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html);
 * WAF: "for CLOUDFRONT ... API and SDKs - For all calls, use the Region endpoint
 * us-east-1" (https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html).
 */
export const CDN_REGION = "us-east-1";

/** Called with the service and command name before each request is sent; may throw. */
export type CommandObserver = (service: string, command: string, input: unknown) => void;

export interface ClientOptions {
  region: string;
  profile?: string;
  /** Any AWS-compatible endpoint (moto, LocalStack); S3 then uses path-style URLs. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  observer?: CommandObserver;
  /** Attempts per call; throttling and 5xx are retried by the SDK with backoff. */
  maxAttempts?: number;
  /**
   * The SDK's retry strategy; its standard one by default. Tests that inject
   * dozens of throttling answers pass the same retries with a millisecond
   * backoff: the backoff's length is the SDK's concern, not the deploy's.
   * A factory: each client keeps its own retry quota, as by default.
   */
  retryStrategy?: () => RetryStrategyV2;
}

/** Commands that only read. Everything else counts as a mutating call. */
export function isReadOnly(command: string): boolean {
  return /^(Get|List|Describe|Head|Lookup)/.test(command.replace(/Command$/, ""));
}

export function createClients(options: ClientOptions): AwsClients {
  const common = {
    region: options.region,
    // AWS_MAX_ATTEMPTS is honoured as the AWS CLI honours it.
    maxAttempts: options.maxAttempts ?? (Number(process.env.AWS_MAX_ATTEMPTS) || 8),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  const each = () => (options.retryStrategy ? { ...common, retryStrategy: options.retryStrategy() } : common);
  const clients: AwsClients = {
    s3: new S3Client({ ...each(), ...(options.endpoint ? { forcePathStyle: true } : {}) }),
    iam: new IAMClient(each()),
    kms: new KMSClient(each()),
    lambda: new LambdaClient(each()),
    apigw: new APIGatewayClient(each()),
    logs: new CloudWatchLogsClient(each()),
    cloudtrail: new CloudTrailClient(each()),
    sts: new STSClient(each()),
    tagging: new ResourceGroupsTaggingAPIClient(each()),
    wafv2: new WAFV2Client(each()),
    acm: new ACMClient({ ...each(), region: CDN_REGION }),
    wafv2Cdn: new WAFV2Client({ ...each(), region: CDN_REGION }),
    route53: new Route53Client({ ...each(), region: CDN_REGION }),
    cloudfront: new CloudFrontClient(each()),
  };
  const observer = options.observer;
  if (observer) {
    for (const [service, client] of Object.entries(clients)) {
      type Args = { input: unknown };
      const middleware = (next: (args: Args) => Promise<unknown>, context: { commandName?: string }) => async (args: Args) => {
        observer(service, String(context.commandName ?? "Unknown"), args.input);
        return next(args);
      };
      // The stacks of the clients have distinct generic types; the
      // middleware only reads the command name and input, common to all.
      (client.middlewareStack as unknown as { add(m: typeof middleware, o: { step: string; name: string }): void }).add(middleware, {
        step: "initialize",
        name: "imgapiObserver",
      });
    }
  }
  return clients;
}

export function destroyClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy();
}
