// Documented limits and quotas moto does not enforce. Each is state- or
// size-based: the same request is refused on every run.
import { DescribeTrailsCommand } from "@aws-sdk/client-cloudtrail";
import { GetFunctionConcurrencyCommand, paginateListFunctions } from "@aws-sdk/client-lambda";
import { jsonError, restJsonError, s3Error } from "../aws-errors.ts";
import { jsonBody, lambdaCall, lambdaOps, type AwsRule, type RuleContext } from "./kit.ts";

export const MAX_DELETE_OBJECTS_KEYS = 1000;
export const MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema";

/**
 * "The request can contain a list of up to 1,000 keys": DeleteObjects with
 * more gets MalformedXML (AWS's answer, reported in aws/aws-sdk#602 and
 * aws/aws-sdk-java#1293).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
 */
export function deleteObjectsLimit(): AwsRule {
  const name = "s3-delete-objects-1000-keys";
  return {
    name,
    source: "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html",
    install({ proxy }) {
      proxy.inject({
        name,
        match: { service: "s3", method: "POST", where: (r) => r.query.has("delete") },
        fault: (req) => ((req.body.toString("utf8").match(/<Object>/g) ?? []).length > MAX_DELETE_OBJECTS_KEYS ? s3Error(400, "MalformedXML", MALFORMED_XML) : undefined),
        times: Infinity,
      });
    },
  };
}

export const MAX_ENVIRONMENT_BYTES = 4096;
export const environmentTooLarge = (measured: string) =>
  `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${measured}`;

/**
 * "4 KB, for all environment variables associated with the function, in
 * aggregate", measured as the variables' compact JSON (LocalStack measures it
 * the same way, and AWS quotes that string back): CreateFunction /
 * UpdateFunctionConfiguration over it get InvalidParameterValueException.
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export function lambdaEnvironmentLimit(): AwsRule {
  const name = "lambda-environment-4kb";
  return {
    name,
    source: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    install({ proxy }) {
      proxy.inject({
        name,
        match: lambdaOps("CreateFunction", "UpdateFunctionConfiguration"),
        fault: (req) => {
          const variables = (jsonBody(req).Environment as { Variables?: Record<string, string> } | undefined)?.Variables;
          const measured = variables === undefined ? "" : JSON.stringify(variables);
          return Buffer.byteLength(measured) > MAX_ENVIRONMENT_BYTES ? restJsonError(400, "InvalidParameterValueException", environmentTooLarge(measured)) : undefined;
        },
        times: Infinity,
      });
    },
  };
}

export const MAX_SYNC_INVOKE_BYTES = 6_291_456;
export const INVOKE_TOO_LARGE = `Request must be smaller than ${MAX_SYNC_INVOKE_BYTES} bytes for the InvokeFunction operation`;
/** API Gateway's own limit on a REST API request: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html */
export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/**
 * The size of the Invoke payload API Gateway makes of a request body: a binary
 * body is base64 in the proxy event (4 bytes for every 3), plus the event's
 * envelope (headers, requestContext). So a body above about 4.7 MB
 * (6,291,456 x 3/4 = 4,718,592 bytes, less the envelope) passes API Gateway's
 * 10 MB limit yet makes an Invoke Lambda refuses: the client then sees API
 * Gateway's 5xx, never the handler's 413 PAYLOAD_TOO_LARGE.
 */
export const proxyEventBytes = (bodyBytes: number, envelopeBytes = 0) => 4 * Math.ceil(bodyBytes / 3) + envelopeBytes;

/**
 * "Invocation payload (request and response): 6 MB each for synchronous":
 * an Invoke (RequestResponse) whose payload is over 6,291,456 bytes gets
 * 413 RequestEntityTooLargeException.
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export function lambdaInvokePayloadLimit(): AwsRule {
  const name = "lambda-invoke-6mb";
  return {
    name,
    source: "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    install({ proxy }) {
      proxy.inject({
        name,
        match: lambdaOps("Invoke"),
        fault: (req) => {
          const sync = [undefined, "RequestResponse"].includes(req.headers["x-amz-invocation-type"] as string | undefined);
          return sync && req.body.length > MAX_SYNC_INVOKE_BYTES ? restJsonError(413, "RequestEntityTooLargeException", INVOKE_TOO_LARGE) : undefined;
        },
        times: Infinity,
      });
    },
  };
}

export const MAX_TRAILS_PER_REGION = 5;
export const tooManyTrails = (account: string, region: string) => `User: ${account} already has ${MAX_TRAILS_PER_REGION} trails in ${region}.`;

/**
 * "Trails per Region: 5 ... This quota cannot be increased": CreateTrail when
 * the region already has five gets MaximumNumberOfTrailsExceededException.
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html
 */
export function cloudTrailQuota(): AwsRule {
  const name = "cloudtrail-5-trails-per-region";
  return {
    name,
    source: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html",
    install({ proxy, upstream, account, region }) {
      proxy.inject({
        name,
        match: { service: "cloudtrail", operation: "CreateTrail" },
        fault: async () => {
          const trails = (await upstream.cloudtrail.send(new DescribeTrailsCommand({ includeShadowTrails: true }))).trailList ?? [];
          return trails.length >= MAX_TRAILS_PER_REGION ? jsonError(400, "MaximumNumberOfTrailsExceededException", tooManyTrails(account, region)) : undefined;
        },
        times: Infinity,
      });
    },
  };
}

export const belowUnreservedMinimum = (minimum: number) =>
  `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minimum}].`;

/** Each function's reserved concurrency (absent when none), read from the upstream. */
async function reservations({ upstream }: RuleContext): Promise<Map<string, number | undefined>> {
  const reserved = new Map<string, number | undefined>();
  for await (const page of paginateListFunctions({ client: upstream.lambda }, {})) {
    for (const f of page.Functions ?? []) {
      const n = (await upstream.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: f.FunctionName }))).ReservedConcurrentExecutions;
      reserved.set(f.FunctionName!, n === undefined || n === null ? undefined : Number(n));
    }
  }
  return reserved;
}

/**
 * A new account's Lambda concurrency quota is 10 (not 1,000), and Lambda keeps
 * a minimum unreserved: GetAccountSettings reports ConcurrentExecutions 10,
 * and PutFunctionConcurrency that would leave less than the minimum gets
 * InvalidParameterValueException "... below its minimum value of [10]." (so a
 * new account can reserve nothing). moto has no GetAccountSettings at all.
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
 */
export function lambdaConcurrencyQuota({ concurrentExecutions = 10, minimumUnreserved = 10 } = {}): AwsRule {
  const name = "lambda-concurrency-quota";
  return {
    name,
    source: "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",
    install(ctx) {
      ctx.proxy.inject({
        name,
        match: lambdaOps("GetAccountSettings", "PutFunctionConcurrency"),
        fault: async (req) => {
          const { op, fn } = lambdaCall(req)!;
          const reserved = await reservations(ctx);
          const others = [...reserved].filter(([f]) => f !== fn).reduce((sum, [, n]) => sum + (n ?? 0), 0);
          if (op === "PutFunctionConcurrency") {
            const wanted = Number(jsonBody(req).ReservedConcurrentExecutions ?? 0);
            return concurrentExecutions - others - wanted < minimumUnreserved ? restJsonError(400, "InvalidParameterValueException", belowUnreservedMinimum(minimumUnreserved)) : undefined;
          }
          const settings = {
            AccountLimit: { TotalCodeSize: 80_530_636_800, CodeSizeUnzipped: 262_144_000, CodeSizeZipped: 52_428_800, ConcurrentExecutions: concurrentExecutions, UnreservedConcurrentExecutions: concurrentExecutions - others },
            AccountUsage: { TotalCodeSize: 0, FunctionCount: reserved.size },
          };
          return { kind: "respond", status: 200, body: JSON.stringify(settings), headers: { "Content-Type": "application/json" } };
        },
        times: Infinity,
      });
    },
  };
}
