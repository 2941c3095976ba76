import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';

/**
 * The lake partition a load reads does not hold the rows its extract reported (the extract's result,
 * handed over by the scheduler): the partition was replaced or damaged in between. Loading it would
 * load other data than the run extracted, so the load fails before touching the warehouse, without
 * retries: only the extract running again can fix it.
 */
export class RowCountMismatchError extends NonRetryableError {
  override readonly name = 'RowCountMismatchError';
  constructor(
    readonly entity: string,
    readonly ds: string,
    /** The upstream extract task. */
    readonly extractTask: string,
    /** What it reported: its row count, or what it returned instead. */
    readonly reported: unknown,
    /** Rows in the lake partition's manifest. */
    readonly lakeRows: number,
  ) {
    super(
      typeof reported === 'number'
        ? `load of ${entity} for ${ds}: extract '${extractTask}' reported ${reported} rows, the lake partition has ${lakeRows}; run the extract again`
        : `load of ${entity} for ${ds}: extract '${extractTask}' reported no row count (its result: ${JSON.stringify(reported) ?? 'none'}); run the extract again`,
    );
  }
}
