// The progress bar on stderr (stdout stays one JSON document with --json):
// done of total, originals a second and the time left, with what happened so
// far. cli-progress draws it on a terminal only; elsewhere (CI, a pipe) it
// stays silent and the summary says it all.
import { Presets, SingleBar } from "cli-progress";
import type { ReprocessOutcome } from "../function/reprocess-event.ts";

export interface Progress {
  start: (total: number, skipped: number) => void;
  tick: (outcome: ReprocessOutcome) => void;
  stop: () => void;
}

export function progressBar(json: boolean): Progress {
  const bar = new SingleBar(
    {
      format: "reprocess [{bar}] {value}/{total} originals | {rate}/s | {eta_formatted} left | made {made}, up to date {upToDate}, refused {refused}",
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      // Redrawn once a second at most, not once an original.
      fps: 1,
      noTTYOutput: false,
    },
    Presets.shades_classic,
  );
  const counts = { made: 0, upToDate: 0, refused: 0 };
  let started = 0;
  let base = 0;
  let shown = false;
  return {
    start(total, skipped) {
      started = performance.now();
      base = skipped;
      shown = !json || process.stderr.isTTY === true;
      if (shown) bar.start(total, skipped, { ...counts, rate: "0.0" });
    },
    tick(outcome) {
      if (outcome.action === "made" || outcome.action === "would make") counts.made += 1;
      else if (outcome.action === "up to date") counts.upToDate += 1;
      else if (outcome.action === "refused") counts.refused += 1;
      const doneNow = bar.getProgress() * bar.getTotal() - base + 1;
      const rate = (doneNow / Math.max(0.001, (performance.now() - started) / 1000)).toFixed(1);
      if (shown) bar.increment(1, { ...counts, rate });
    },
    stop() {
      if (shown) bar.stop();
    },
  };
}
