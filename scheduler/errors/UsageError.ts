/** A command was called with bad arguments; the CLI exits 2 with this one-line message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
