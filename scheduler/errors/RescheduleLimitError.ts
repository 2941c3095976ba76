import { NonRetryableError } from './NonRetryableError.js';

/**
 * A task kept deferring (TaskDeferredError) for longer than DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S: what it
 * waits for is down for good, as far as this run is concerned. Fails the task without its retries,
 * since each would wait for the same thing.
 */
export class RescheduleLimitError extends NonRetryableError {
  override readonly name = 'RescheduleLimitError';
  constructor(
    /** The deferral's reason (`source http://host:port unreachable: ...`). */
    readonly reason: string,
    /** When the condition began. */
    readonly since: Date,
    /** How long it had lasted when the scheduler gave up, seconds. */
    readonly elapsedS: number,
    /** The limit it passed, seconds. */
    readonly limitS: number,
    options?: { cause?: unknown },
  ) {
    super(`${reason}, gave up after ${Math.round(elapsedS)} s`, options);
  }
}
