/** A statement names a `$name` parameter its values do not give (PostgreSQL's positional translation). */
export class WarehouseParameterError extends Error {
  override readonly name = 'WarehouseParameterError';

  constructor(
    /** The parameter, with its prefix (`$start_day`). */
    readonly parameter: string,
    /** The statement, as written. */
    readonly sql: string,
  ) {
    super(`parameter '${parameter}' has no value in: ${sql.length > 200 ? `${sql.slice(0, 200)}...` : sql}`);
  }
}
