// A clock for deploy tests: sleeping advances virtual time at once, so a
// propagation retry (seconds of backoff on AWS) costs nothing here, and a
// named timeout still ends the retries exactly where it would.
import type { Clock } from "../../deploy/toolkit/propagation.ts";

export function virtualClock(start = 0): Clock & { slept: number[] } {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    async sleep(ms) {
      slept.push(ms);
      now += ms;
    },
  };
}
