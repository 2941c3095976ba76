import { NonRetryableError } from './NonRetryableError.js';

/**
 * A mapped task's `expand` returned something it cannot be expanded over: not an array, too many
 * values, or a value that is not JSON. Fails the expansion without retries: the same code returns
 * the same kind of list again.
 */
export class MapExpansionError extends NonRetryableError {
  override readonly name = 'MapExpansionError';
  constructor(
    readonly taskId: string,
    /** What is wrong with the list, one line. */
    readonly reason: string,
  ) {
    super(`task '${taskId}': expand ${reason}`);
  }
}
