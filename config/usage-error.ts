// A command line that cannot mean anything (an unknown flag, a bad value):
// every CLI (deploy, teardown, reprocess, npm start) answers it with exit 2
// and the message, which says what to type instead.
export class UsageError extends Error {
  override readonly name = "UsageError";
}
