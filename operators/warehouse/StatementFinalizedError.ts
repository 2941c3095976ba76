/** A prepared statement run after its finalize(). */
export class StatementFinalizedError extends Error {
  override readonly name = 'StatementFinalizedError';

  constructor(
    /** The statement's name on its connection. */
    readonly statement: string,
    /** Its SQL, as prepared. */
    readonly sql: string,
  ) {
    super(`prepared statement ${statement} was finalized: ${sql.length > 100 ? `${sql.slice(0, 100)}...` : sql}`);
  }
}
