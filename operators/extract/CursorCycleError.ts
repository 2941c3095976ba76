/** The source's paging cursors cycle (A -> B -> A): following them would never end. Not retryable. */
export class CursorCycleError extends Error {
  override readonly name = 'CursorCycleError';
  constructor(
    /** The entity being extracted. */
    readonly entity: string,
    /** The cursor the source sent a second time. */
    readonly cursor: string,
    /** The page (1-based) that first sent it. */
    readonly firstPage: number,
    /** The page that sent it again. */
    readonly page: number,
  ) {
    super(`source cursors cycle for ${entity}: page ${page} sent next_cursor ${JSON.stringify(shorten(cursor))} again (first sent by page ${firstPage}); refusing to loop`);
  }
}

/** A cursor as quoted in a message: long ones cut, so the error stays one readable line. */
function shorten(cursor: string): string {
  return cursor.length > 80 ? `${cursor.slice(0, 77)}...` : cursor;
}
