// The CDN's physical names (all from the stack name, so teardown finds what
// deploy made without a state file) and what every CloudFront module shares:
// CloudFront versions each resource with an ETag, and an update or delete
// must name the version it replaces (If-Match). A retry of an update whose
// answer was lost names a version that is gone (PreconditionFailed): the
// caller reads again and counts the refusal only if the change is not there.
// https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html
import type { DeployContext } from "../context.ts";
import { errorName } from "../errors.ts";

export function cdnNames(ctx: Pick<DeployContext, "names">) {
  const stack = ctx.names.stack;
  return {
    /** The public key is named by its fingerprint: a new pair is a new key, and a retried create adopts its own. */
    publicKeyPrefix: `${stack}-cdn-`,
    keyGroup: `${stack}-cdn`,
    originAccess: `${stack}-images`,
    cachePolicy: `${stack}-images`,
    edgeFunction: `${stack}-accept`,
    /** Distributions have no name: the stack's is the one with this comment. */
    comment: `${stack} images`,
  };
}

export const isStaleVersion = (e: unknown) => errorName(e) === "PreconditionFailed";

/** CloudFront lists: { Quantity, Items } with Quantity always sent. */
export const list = <T>(items: T[]) => ({ Quantity: items.length, Items: items });
