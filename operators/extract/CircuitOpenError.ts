import { TaskDeferredError } from '../../scheduler/errors/TaskDeferredError.js';

/**
 * The circuit breaker of a source host is open: the request was not sent (or the host has just
 * failed again). A deferral: the scheduler re-runs the task once the breaker may half-open, without
 * counting the try, until the outage has lasted DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S.
 */
export class CircuitOpenError extends TaskDeferredError {
  override readonly name = 'CircuitOpenError';
  constructor(
    /** The source host (host:port). */
    readonly host: string,
    /** When the breaker half-opens and lets a trial request through. */
    readonly until: Date,
    /** The source's origin (`http://host:port`, no userinfo), as the reason names it. */
    origin: string,
    /** When the breaker first opened in this outage (it re-opens after each failed trial). */
    openSince: Date,
    options?: { cause?: unknown },
  ) {
    super(
      `circuit for ${host} is open until ${until.toISOString()}: not calling the source`,
      { notBefore: until, since: openSince, reason: `source ${origin} unreachable: circuit breaker open since ${openSince.toISOString()}` },
      options,
    );
  }
}
