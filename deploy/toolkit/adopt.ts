// Lost answers. A create whose answer never arrives (a dropped connection, a
// 5xx after the work was done) is retried by the SDK; the retry then meets
// what the first attempt made. Each service says "already exists" its own way.
// Creating through createOrAdopt turns that answer into adopting the thing
// that exists, found by the same finder a later run would use, so a retried
// create never leaves an error or a second copy behind.
import { errorName } from "../errors.ts";
import type { Service } from "./absent.ts";

export const ALREADY_EXISTS: Record<Service, readonly string[]> = {
  iam: ["EntityAlreadyExistsException", "EntityAlreadyExists"],
  kms: ["AlreadyExistsException"],
  // "Function already exist", "The statement id (...) provided already exists".
  lambda: ["ResourceConflictException"],
  // "Another resource with the same parent already has this name", "Stage already exists".
  apigateway: ["ConflictException"],
  logs: ["ResourceAlreadyExistsException"],
  cloudtrail: ["TrailAlreadyExistsException"],
  s3: ["BucketAlreadyOwnedByYou"],
  // A web ACL of the same name in the same scope.
  wafv2: ["WAFDuplicateItemException"],
  // ACM has no "already exists": a retried RequestCertificate carries the same IdempotencyToken instead.
  acm: [],
  // Records are written with UPSERT, which cannot collide.
  route53: [],
  // Names are unique per account for these CloudFront resources; a distribution's CallerReference is (a retried create).
  cloudfront: ["DistributionAlreadyExists", "CachePolicyAlreadyExists", "FunctionAlreadyExists", "OriginAccessControlAlreadyExists", "PublicKeyAlreadyExists", "KeyGroupAlreadyExists"],
};

export const isAlreadyExists = (e: unknown, service: Service) => ALREADY_EXISTS[service].includes(errorName(e));

export interface Adopted<T> {
  value: T;
  /** True when the create was refused because the thing was already there, and it was adopted. */
  adopted: boolean;
}

/**
 * Creates, or adopts what an earlier attempt of the same create made. Only
 * "already exists" leads to adoption, and only when the finder then sees the
 * thing; otherwise the original error propagates.
 */
export async function createOrAdopt<T>(service: Service, create: () => Promise<T>, find: () => Promise<T | undefined>): Promise<Adopted<T>> {
  try {
    return { value: await create(), adopted: false };
  } catch (e) {
    if (!isAlreadyExists(e, service)) throw e;
    const found = await find();
    if (found === undefined) throw e;
    return { value: found, adopted: true };
  }
}
