/** Marks a skip across copies of this module (mocha under tsx may load it through require and import). */
const SKIPPED = Symbol.for('drivetrain.TaskSkippedError');

/**
 * Thrown by a task to end its instance as `skipped` (Airflow's AirflowSkipException): there is nothing
 * to do for this interval. Not a failure and never retried; the downstream tasks see a skipped upstream
 * and decide by their trigger rule (all_success skips too, none_failed runs).
 */
export class TaskSkippedError extends Error {
  override readonly name = 'TaskSkippedError';
  private readonly [SKIPPED] = true;

  constructor(
    /** Why there is nothing to do, one line; logged and kept as the instance's note. */
    readonly reason: string,
  ) {
    super(`skipped: ${reason}`);
  }
}

/** True for a TaskSkippedError, also from another copy of this module. */
export function isTaskSkipped(value: unknown): value is TaskSkippedError {
  return value instanceof Error && (value as unknown as Record<symbol, unknown>)[SKIPPED] === true;
}
