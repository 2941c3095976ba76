/**
 * Feeds {@link InsertBatch}es to SQLite through prepared statements (one for JSON batches, one per
 * column layout string for packed ones) on the load's own connection, one batch in flight: the next
 * batch is being prepared while SQLite inserts the current one. Why one bound value per batch:
 * node-sqlite3 converts every bound parameter on the JS thread, while
 * unpacking runs in SQLite on its own thread.
 */
import type { BulkInsert, PreparedStatement, RunResult, WarehouseSession } from '../../warehouse/interfaces.js';
import type { InsertBatch } from './BatchBuilder.js';
import { InFlight } from './InFlight.js';
import { packedInsertSql, packedParams } from './packedBatch.js';

/** The SQLite warehouse's bulk insert of load batches. */
export class BatchWriter implements BulkInsert<InsertBatch> {
  private jsonStatement: Promise<PreparedStatement> | undefined;
  /** Packed-form statements by column layouts (a handful per table: see packedBatch.ts). */
  private readonly packedStatements = new Map<string, Promise<PreparedStatement>>();
  private readonly inflight = new InFlight();
  /** With `keepRowids`: the rowid range of each batch inserted, as first, last pairs. */
  readonly rowids: number[] | undefined;

  constructor(
    /** The load transaction's session. */
    private readonly session: WarehouseSession,
    private readonly table: string,
    /** The columns each batch row gives values for, in order. */
    private readonly columns: readonly string[],
    /** Columns with the same value in every row (processing_date, source): bound once per batch. */
    private readonly constants: ReadonlyArray<readonly [column: string, value: unknown]> = [],
    opts: { /** Whether to keep the rowids the batches got ({@link rowids}). Default false. */ readonly keepRowids?: boolean } = {},
  ) {
    this.rowids = opts.keepRowids ? [] : undefined;
  }

  /** Waits for the batch in flight, then starts inserting `batch` (awaited by the next write or flush). */
  async write(batch: InsertBatch): Promise<void> {
    await this.inflight.done();
    const constants = this.constants.map(([, v]) => v);
    let p: Promise<void>;
    if (batch.packed) {
      const { layouts } = batch.packed;
      let statement = this.packedStatements.get(layouts);
      if (!statement) {
        statement = this.session.prepare(packedInsertSql(this.table, this.columns, this.constants.map(([c]) => c), layouts));
        this.packedStatements.set(layouts, statement);
      }
      p = (await statement).run(packedParams(batch.packed, constants)).then((r) => this.noteRowids(r));
      // node-sqlite3 copied the blob when the statement was run (synchronously, above).
      batch.release?.();
    } else {
      this.jsonStatement ??= this.session.prepare(
        `INSERT INTO "${this.table}" (${[...this.columns, ...this.constants.map(([c]) => c)].map((c) => `"${c}"`).join(',')}) ` +
          `SELECT ${[...this.columns.map((_, i) => `value->>${i}`), ...this.constants.map((_, i) => `?${i + 2}`)].join(',')} FROM json_each(?1)`,
      );
      p = (await this.jsonStatement).run([batch.json ?? '[]', ...constants]).then((r) => this.noteRowids(r));
    }
    this.inflight.track(p);
  }

  private noteRowids({ changes, lastRowid }: RunResult): void {
    if (!this.rowids || changes === 0) return;
    if (lastRowid === undefined) throw new Error(`insert into ${this.table}: the warehouse said ${changes} rows went in but not their last rowid`);
    this.rowids.push(lastRowid - changes + 1, lastRowid);
  }

  /** Waits until every batch written is in. */
  flush(): Promise<void> {
    return this.inflight.done();
  }

  /** Finalizes the statements (after a failure too). */
  async close(): Promise<void> {
    await this.inflight.settled();
    for (const s of [this.jsonStatement, ...this.packedStatements.values()]) {
      const stmt = await s?.catch(() => undefined);
      await stmt?.finalize().catch(() => undefined);
    }
    this.jsonStatement = undefined;
    this.packedStatements.clear();
  }
}
