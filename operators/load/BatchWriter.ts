/**
 * Feeds {@link InsertBatch}es to SQLite through prepared statements (one for JSON batches, one per
 * column layout string for packed ones) on the load's own connection, one batch in flight: the next
 * batch is being prepared while SQLite inserts the current one. Why one bound value per batch:
 * node-sqlite3 converts bound parameters on the JS thread (~0.7 us each, 13 per subscription), while
 * unpacking runs in SQLite on its own thread.
 */
import type { InsertBatch } from './fast/BatchBuilder.js';
import { packedInsertSql, packedParams } from './fast/packedBatch.js';

/** The part of node-sqlite3's Database a load uses (Sequelize's transaction connection). */
export interface RawConnection {
  prepare(sql: string, cb: (err: Error | null) => void): RawStatement;
  run(sql: string, params: unknown[], cb: (err: Error | null) => void): void;
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: unknown[]) => void): void;
}
interface RawStatement {
  run(params: unknown[], cb: (err: Error | null) => void): void;
  finalize(cb?: (err: Error | null) => void): void;
}

function prepare(conn: RawConnection, sql: string): Promise<RawStatement> {
  return new Promise((resolve, reject) => {
    const stmt = conn.prepare(sql, (err) => (err ? reject(err) : resolve(stmt)));
  });
}

function runStatement(stmt: RawStatement, params: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => stmt.run(params, (err) => (err ? reject(err) : resolve())));
}

export class BatchWriter {
  private jsonStatement: Promise<RawStatement> | undefined;
  /** Packed-form statements by column layouts (a handful per table: see packedBatch.ts). */
  private readonly packedStatements = new Map<string, Promise<RawStatement>>();
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly conn: RawConnection,
    private readonly table: string,
    /** The columns each batch row gives values for, in order. */
    private readonly columns: readonly string[],
    /** Columns with the same value in every row (processing_date, source): bound once per batch. */
    private readonly constants: ReadonlyArray<readonly [column: string, value: unknown]> = [],
  ) {}

  /** Waits for the batch in flight, then starts inserting `batch` (awaited by the next write or flush). */
  async write(batch: InsertBatch): Promise<void> {
    if (this.inflight) await this.inflight;
    const constants = this.constants.map(([, v]) => v);
    let p: Promise<void>;
    if (batch.packed) {
      const { layouts } = batch.packed;
      let statement = this.packedStatements.get(layouts);
      if (!statement) {
        statement = prepare(this.conn, packedInsertSql(this.table, this.columns, this.constants.map(([c]) => c), layouts));
        this.packedStatements.set(layouts, statement);
      }
      p = runStatement(await statement, packedParams(batch.packed, constants));
      // node-sqlite3 copied the blob when the statement was run (synchronously, above).
      batch.release?.();
    } else {
      this.jsonStatement ??= prepare(
        this.conn,
        `INSERT INTO "${this.table}" (${[...this.columns, ...this.constants.map(([c]) => c)].map((c) => `"${c}"`).join(',')}) ` +
          `SELECT ${[...this.columns.map((_, i) => `value->>${i}`), ...this.constants.map((_, i) => `?${i + 2}`)].join(',')} FROM json_each(?1)`,
      );
      p = runStatement(await this.jsonStatement, [batch.json ?? '[]', ...constants]);
    }
    // Awaited by the next write or by flush(); this keeps a failure from being unhandled meanwhile.
    p.catch(() => {});
    this.inflight = p;
  }

  /** Waits until every batch written is in. */
  async flush(): Promise<void> {
    const p = this.inflight;
    this.inflight = undefined;
    if (p) await p;
  }

  /** Finalizes the statements (after a failure too). */
  async close(): Promise<void> {
    await this.inflight?.catch(() => {});
    for (const s of [this.jsonStatement, ...this.packedStatements.values()]) {
      const stmt = await s?.catch(() => undefined);
      if (stmt) await new Promise<void>((resolve) => stmt.finalize(() => resolve()));
    }
    this.jsonStatement = undefined;
    this.packedStatements.clear();
  }
}
