// One client per service, created once from the CLI's flags and passed to every
// resource module. An observer sees each command before it is sent: the CLI
// uses it for nothing, tests use it to count mutating calls and to inject a
// failure after the k-th one.
import { APIGatewayClient } from "@aws-sdk/client-api-gateway";
import { CloudFrontClient } from "@aws-sdk/client-cloudfront";
import { CloudTrailClient } from "@aws-sdk/client-cloudtrail";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { IAMClient } from "@aws-sdk/client-iam";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { ResourceGroupsTaggingAPIClient } from "@aws-sdk/client-resource-groups-tagging-api";
import { S3Client } from "@aws-sdk/client-s3";
import { STSClient } from "@aws-sdk/client-sts";
import { WAFV2Client } from "@aws-sdk/client-wafv2";

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
  /** The CDN (cdn.enabled): a global service, signed for us-east-1 whatever the stack's region. */
  cloudfront: CloudFrontClient;
}

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
  const clients: AwsClients = {
    s3: new S3Client({ ...common, ...(options.endpoint ? { forcePathStyle: true } : {}) }),
    iam: new IAMClient(common),
    kms: new KMSClient(common),
    lambda: new LambdaClient(common),
    apigw: new APIGatewayClient(common),
    logs: new CloudWatchLogsClient(common),
    cloudtrail: new CloudTrailClient(common),
    sts: new STSClient(common),
    tagging: new ResourceGroupsTaggingAPIClient(common),
    wafv2: new WAFV2Client(common),
    cloudfront: new CloudFrontClient(common),
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
