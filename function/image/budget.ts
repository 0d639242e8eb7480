// One request's time budget for decoding and encoding (input.maxDecodeSeconds),
// shared by every sharp pipeline the request runs: the decode test, the
// decode for the sizes, their encoders. Each pipeline gets what is left.
//
// What sharp's timeout can and cannot stop (sharp src/common.cc SetTimeout):
// it listens to libvips' "eval" progress signal, which libvips emits as it
// computes the output in tiles or lines, and kills the pipeline at the first
// signal after `seconds` whole seconds (counted from when libvips starts
// computing, not including a wait for a libuv thread). So it stops
// pipelines that progress line by line (PNG, TIFF, GIF, JPEG baseline
// decodes, resizing, JPEG/PNG/WebP encoders), but not one long call inside a
// codec: libjpeg consumes every progressive scan in jpeg_start_decompress
// (a 882-scan bomb with a 1 s timeout still ran 5.7 s, then failed),
// libheif decodes and aom encodes a whole AVIF in one call, and metadata()
// takes no timeout at all. Those are bounded by checks made before decoding
// (structure.ts, the pixel and frame limits), not by this budget.
import type { Sharp } from "sharp";
import { ApiError } from "../errors.ts";

/** sharp's message for a pipeline its timeout killed: "timeout: 25% complete". */
const TIMEOUT_MESSAGE = /^timeout: \d+% complete/;

export function isTimeout(e: unknown): boolean {
  return e instanceof Error && TIMEOUT_MESSAGE.test(e.message);
}

export class DecodeBudget {
  private readonly deadline: number;

  constructor(
    readonly seconds: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.deadline = now() + seconds * 1000;
  }

  /** The answer when the budget ran out. */
  exceeded(cause?: unknown): ApiError {
    return new ApiError(
      "DECODE_TIMEOUT",
      `Decoding and resizing the image took longer than its ${this.seconds}-second budget. Upload a smaller image (fewer pixels), or re-save it in a simpler form (a baseline JPEG, a non-interlaced PNG).`,
      cause === undefined ? undefined : { cause },
    );
  }

  /**
   * Sets what is left of the budget as the pipeline's timeout. sharp counts
   * whole seconds, so a pipeline may run up to one second past the deadline;
   * none starts once it has passed.
   */
  apply(pipeline: Sharp): Sharp {
    const left = (this.deadline - this.now()) / 1000;
    if (left <= 0) throw this.exceeded();
    return pipeline.timeout({ seconds: Math.max(1, Math.floor(left)) });
  }
}
