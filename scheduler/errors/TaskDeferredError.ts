/** Marks a deferral across copies of this module (mocha under tsx may load it through require and import). */
const DEFERRED = Symbol.for('drivetrain.TaskDeferredError');

/** When to come back, and what the task waits for. */
export interface Deferral {
  /** The earliest time another attempt can get further (a breaker's half-open time). */
  readonly notBefore: Date;
  /** When the condition began; the scheduler stops rescheduling once it has lasted DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S. */
  readonly since: Date;
  /** One line saying what is unavailable, e.g. `source http://host:port unreachable: ...`. */
  readonly reason: string;
}

/**
 * Thrown by a task (anywhere in the `cause` chain) to say "not now, and this was not a real try":
 * what it needs is unavailable until `notBefore`. The scheduler re-queues the instance for then
 * without counting the try (Airflow's reschedule), and fails it with RescheduleLimitError once the
 * condition has lasted longer than DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S since `since`.
 */
export class TaskDeferredError extends Error implements Deferral {
  override readonly name: string = 'TaskDeferredError';
  readonly notBefore: Date;
  readonly since: Date;
  readonly reason: string;
  private readonly [DEFERRED] = true;

  constructor(message: string, deferral: Deferral, options?: { cause?: unknown }) {
    super(message, options);
    this.notBefore = deferral.notBefore;
    this.since = deferral.since;
    this.reason = deferral.reason;
  }
}

/** True for a TaskDeferredError (or a subclass), also from another copy of this module. */
export function isTaskDeferred(value: unknown): value is TaskDeferredError {
  return value instanceof Error && (value as unknown as Record<symbol, unknown>)[DEFERRED] === true;
}
