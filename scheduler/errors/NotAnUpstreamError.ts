import { NonRetryableError } from './NonRetryableError.js';

/**
 * `ctx.upstream(id)` named a task that is not an upstream of the asking task: its result may not exist
 * yet when this task runs, so only declared upstream results are handed over. A bug in the DAG file,
 * so never retried.
 */
export class NotAnUpstreamError extends NonRetryableError {
  override readonly name = 'NotAnUpstreamError';
  constructor(
    /** The task that asked. */
    readonly taskId: string,
    /** The id it asked for. */
    readonly asked: string,
    /** Its upstream tasks. */
    readonly upstream: readonly string[],
  ) {
    super(`task '${taskId}' asked for the result of '${asked}', which is not one of its upstream tasks (${upstream.length > 0 ? upstream.join(', ') : 'none'})`);
  }
}
