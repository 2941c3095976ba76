/** The process is shutting down and the grace period is over: running attempts are aborted with this. */
export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
  constructor(
    /** The grace the attempt was given, ms. */
    readonly graceMs: number,
  ) {
    super(`shutting down: attempt aborted after a ${graceMs} ms grace period`);
  }
}
