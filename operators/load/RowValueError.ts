/**
 * A valid row holds a value PostgreSQL text cannot store (a NUL character): the PostgreSQL load
 * fails, naming where, and the transaction leaves the partition as it was.
 */
export class RowValueError extends Error {
  override readonly name = 'RowValueError';

  constructor(
    /** The table (or constant) the value was bound for. */
    readonly where: string,
    /** The value, as received. */
    readonly value: string,
  ) {
    super(`${where}: value ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)} holds a NUL character, which PostgreSQL text cannot store`);
  }
}
