// Where the interruption tests stop a deploy. Every mutating call is the full
// sweep (IMGAPI_RESUME=every-k; minutes per suite, for a change to the
// deploy's ordering). By default: before the first and before the last call of
// each kind (CreateBucket, PutBucketPolicy, ...; the routes' PutMethod,
// PutIntegration, ...). The calls of one kind in between come from the same
// loop over routes, sizes or settings as its first and last, which are
// interrupted: a resource of that kind half made, and all of them made.
export const everyK = process.env.IMGAPI_RESUME === "every-k";

/** 0-based indexes into `calls` (the uninterrupted run's mutating calls) before which to stop. */
export function interruptionPoints(calls: readonly string[]): number[] {
  const edge = (i: number) => calls.indexOf(calls[i]!) === i || calls.lastIndexOf(calls[i]!) === i;
  return calls.map((_, i) => i).filter((i) => everyK || edge(i));
}
