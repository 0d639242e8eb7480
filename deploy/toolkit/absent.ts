// Finders answer `undefined` only for their own service's not-found error;
// every other error (access denied, throttling that outlived the SDK's
// retries, a typo in a name) propagates. Each service spells "not found" its
// own way, so the names live here once instead of at every call.
import { errorName } from "../errors.ts";

/** The errors each service answers for "no such thing" (and only those). */
export const NOT_FOUND = {
  iam: ["NoSuchEntityException", "NoSuchEntity"],
  kms: ["NotFoundException"],
  lambda: ["ResourceNotFoundException"],
  apigateway: ["NotFoundException"],
  logs: ["ResourceNotFoundException"],
  cloudtrail: ["TrailNotFoundException"],
  // Bucket-level reads: HeadBucket has no body, so the SDK names it "NotFound".
  s3: ["NoSuchBucket", "NotFound"],
  wafv2: ["WAFNonexistentItemException"],
  acm: ["ResourceNotFoundException"],
  // The hosted zone itself; a missing record is no error for a read (ListResourceRecordSets starts at a name).
  route53: ["NoSuchHostedZone"],
  // Each CloudFront resource has its own: https://docs.aws.amazon.com/cloudfront/latest/APIReference/CommonErrors.html
  cloudfront: ["NoSuchDistribution", "NoSuchCachePolicy", "NoSuchFunctionExists", "NoSuchOriginAccessControl", "NoSuchPublicKey", "NoSuchResource"],
} as const satisfies Record<string, readonly string[]>;

export type Service = keyof typeof NOT_FOUND;

export function isAbsent(e: unknown, service: Service, ...extra: string[]): boolean {
  const name = errorName(e);
  return (NOT_FOUND[service] as readonly string[]).includes(name) || extra.includes(name);
}

/** The call's result, or undefined when the service says the thing does not exist. */
export async function orAbsent<T>(service: Service, call: () => Promise<T>, ...extra: string[]): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    if (isAbsent(e, service, ...extra)) return undefined;
    throw e;
  }
}

/** For deletes: a thing already gone is the outcome wanted. */
export async function ignoreAbsent(service: Service, call: () => Promise<unknown>, ...extra: string[]): Promise<void> {
  await orAbsent(service, call, ...extra);
}
