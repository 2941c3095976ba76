/** The circuit breaker of a source host is open: the request was not sent. Retryable once it half-opens. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  constructor(
    /** The source host (host:port). */
    readonly host: string,
    /** When the breaker half-opens and lets a trial request through. */
    readonly until: Date,
  ) {
    super(`circuit for ${host} is open until ${until.toISOString()}: not calling the source`);
  }
}
