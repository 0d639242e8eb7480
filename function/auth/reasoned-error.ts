// An error that carries a stable reason beside its message: callers and logs
// branch on the reason, people read the message. The auth modules' errors
// (a refused token, a failed discovery) are this shape.
export class ReasonedError<R extends string> extends Error {
  constructor(
    readonly reason: R,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
