/** A test-kit helper was called with input it cannot use; the message names the helper and the value. */
export class KitUsageError extends Error {
  override readonly name = 'KitUsageError';

  constructor(
    /** The helper that refused, e.g. 'testTaskContext'. */
    readonly helper: string,
    /** The bad value, as given. */
    readonly value: unknown,
    reason: string,
  ) {
    super(`${helper}: ${reason}`);
  }
}
