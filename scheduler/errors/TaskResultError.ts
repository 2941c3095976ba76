import { NonRetryableError } from './NonRetryableError.js';

/**
 * A task's return value cannot be kept as its result: not JSON (a BigInt, a cycle, a function) or
 * larger than the cap. Fails the attempt without retries, since the same code returns the same kind
 * of value again.
 */
export class TaskResultError extends NonRetryableError {
  override readonly name = 'TaskResultError';
  constructor(
    readonly taskId: string,
    /** What is wrong with the value, one line. */
    readonly reason: string,
  ) {
    super(`task '${taskId}': its return value cannot be stored as its result: ${reason}`);
  }
}
