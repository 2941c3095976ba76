/**
 * Thrown by a task to fail its attempt at once, without the retries left: retrying cannot help
 * (bad data, a 4xx from the source, a failed data test).
 */
export class NonRetryableError extends Error {
  override readonly name: string = 'NonRetryableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
