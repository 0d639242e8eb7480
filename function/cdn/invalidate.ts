// One CreateInvalidation per purge. Only the purge bundle entry (function/purge.ts)
// reaches this module, so the CloudFront client stays out of index.mjs.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateInvalidation.html
import { CreateInvalidationCommand, type CloudFrontClient } from "@aws-sdk/client-cloudfront";
import type { InvalidationRequest } from "./purge-request.ts";

export function createInvalidator(client: Pick<CloudFrontClient, "send">): (request: InvalidationRequest) => Promise<string> {
  return async function invalidate(request) {
    const out = await client.send(
      new CreateInvalidationCommand({
        DistributionId: request.distributionId,
        InvalidationBatch: { CallerReference: request.callerReference, Paths: { Quantity: request.paths.length, Items: request.paths } },
      }),
    );
    return out.Invalidation?.Id ?? "";
  };
}
