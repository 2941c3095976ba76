/**
 * A run's conf does not satisfy its DAG's `params` schema. The CLI exits 2 and the API answers 400
 * with this one line, which names the field and what is wrong with it.
 */
export class InvalidParamsError extends Error {
  override readonly name = 'InvalidParamsError';
  constructor(
    readonly dagId: string,
    /** The failing field's path (`limits.rows`), or '' when the conf as a whole is wrong. */
    readonly field: string,
    /** The schema's complaint, e.g. `Invalid input: expected number, received string`. */
    readonly reason: string,
    /** The value given at that path, when there is one. */
    readonly value?: unknown,
  ) {
    const given = value === undefined ? '' : ` (given ${JSON.stringify(value)})`;
    super(`DAG '${dagId}': conf ${field === '' ? 'object' : `field '${field}'`}: ${reason}${given}`);
  }
}
