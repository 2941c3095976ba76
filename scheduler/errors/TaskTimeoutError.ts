/** A task attempt ran past its timeout; its signal was aborted. */
export class TaskTimeoutError extends Error {
  override readonly name = 'TaskTimeoutError';
  constructor(
    readonly taskId: string,
    readonly timeoutS: number,
  ) {
    super(`task '${taskId}' timed out after ${timeoutS}s`);
  }
}
