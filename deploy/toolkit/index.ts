// The reconcile toolkit every resource module is written with: finders that
// treat only their service's not-found as absence, creates that adopt what a
// lost answer left, bounded retries for AWS's eventual consistency, one change
// recorder, one tag diff.
export { ignoreAbsent, isAbsent, NOT_FOUND, orAbsent, type Service } from "./absent.ts";
export { ALREADY_EXISTS, createOrAdopt, isAlreadyExists, type Adopted } from "./adopt.ts";
export { Changes } from "./changes.ts";
export { endpointLacksApi } from "./emulator.ts";
export { PROPAGATION, realClock, retryWhilePropagating, type Clock, type Propagation, type RetryScope } from "./propagation.ts";
export { kmsTagList, missingTags, tagList, tagMap } from "./tags.ts";
export { reconcileSettings, type Setting } from "./settings.ts";
