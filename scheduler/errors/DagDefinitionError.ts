/** A DAG is invalid: a cycle, a duplicate or unknown task id, a bad schedule or start date. */
export class DagDefinitionError extends Error {
  override readonly name = 'DagDefinitionError';
  constructor(
    message: string,
    /** The DAG id, when it is known. */
    readonly dagId?: string,
  ) {
    super(message);
  }
}
