/** A warehouse, or a transaction's session, used after it was closed or its transaction ended. */
export class WarehouseClosedError extends Error {
  override readonly name = 'WarehouseClosedError';

  constructor(
    /** Where the warehouse's data lives (its file). */
    readonly location: string,
    /** What was closed: the warehouse, or one transaction's session. */
    readonly what: 'warehouse' | 'session',
  ) {
    super(what === 'warehouse' ? `the warehouse ${location} is closed` : `a transaction's session on ${location} was used after its transaction ended`);
  }
}
