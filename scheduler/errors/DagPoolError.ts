/**
 * A task names a pool the settings do not declare, or needs more slots than its pool has: it could
 * never run, so its DAG is refused at load, like a DagDefinitionError.
 */
export class DagPoolError extends Error {
  override readonly name = 'DagPoolError';
  constructor(
    message: string,
    readonly dagId: string,
    readonly taskId: string,
    readonly pool: string,
  ) {
    super(message);
  }
}
