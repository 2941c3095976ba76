/**
 * The load operator: replaces the raw table's processing_date = ds partition from the complete lake
 * partition for ds (never calling the source), in ONE transaction. Each row is validated; bad rows go
 * to `rejects` with a one-line reason. Rows and rejects are committed together, then the books are
 * checked (lake rows = loaded + rejected, inside the transaction: a mismatch rolls back) and the reject
 * share (after commit: the rows and rejects stay for inspection, and the task fails with
 * NonRetryableError so the DAG stops before the vault).
 */
import { Transaction } from 'sequelize';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext, TaskFn } from '../../scheduler/interfaces.js';
import { rowsLoadedCounter, rowsRejectedCounter } from '../../scheduler/metrics.js';
import type { Entity } from '../../scheduler/settings.js';
import { openWarehouse } from '../warehouse.js';
import { LakePartitionError } from '../lake/LakePartitionError.js';
import { readLakeLines, readManifest } from '../lake/reader.js';
import { pushVaultValues } from './hashing.js';
import { packBatch, packedInsertSql, packedParams } from './packedBatch.js';
import { rawModels, SOURCE_FIELDS, VAULT_FIELDS } from './models.js';
import { IdHashSet } from './IdHashSet.js';
import { fastValidRow, validateRow, type ValidRow } from './validation.js';

/** Options of {@link loadTask}. */
export interface LoadOptions {
  /** The entity to load. */
  readonly entity: Entity;
}

/** What a load returns (logged by the scheduler). */
export interface LoadResult {
  readonly entity: Entity;
  readonly ds: string;
  /** Rows in the lake partition. */
  readonly fetched: number;
  readonly loaded: number;
  readonly rejected: number;
}

/** The part of node-sqlite3's Database the bulk insert needs. */
interface RawStatement {
  run(params: unknown[], cb: (err: Error | null) => void): void;
  finalize(cb?: (err: Error | null) => void): void;
}
interface RawConnection {
  prepare(sql: string, cb: (err: Error | null) => void): RawStatement;
  run(sql: string, params: unknown[], cb: (err: Error | null) => void): void;
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: unknown[]) => void): void;
}

function prepare(conn: RawConnection, sql: string): Promise<RawStatement> {
  return new Promise((resolve, reject) => {
    const stmt = conn.prepare(sql, (err) => (err ? reject(err) : resolve(stmt)));
  });
}
function runStatement(stmt: RawStatement, params: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => stmt.run(params, (err) => (err ? reject(err) : resolve())));
}
function finalize(stmt: RawStatement): Promise<void> {
  return new Promise((resolve) => stmt.finalize(() => resolve()));
}

/**
 * Multi-row INSERTs through one prepared statement that takes a whole batch as ONE bound value and
 * unpacks it in SQLite: a packed blob of fixed-width records where the batch allows it (packedBatch.ts,
 * a third of the JSON form's cost in SQLite), else a JSON array (`SELECT value->>0, ... FROM
 * json_each(?)`). Why one value: node-sqlite3 converts bound parameters on the JS thread (~0.7 us
 * each, 13 per subscription), while the unpacking runs in SQLite on the worker thread; and one batch
 * is inserted while the next is being validated (one in flight).
 */
class BatchInserter {
  private statement: Promise<RawStatement> | undefined;
  private packedStatement: Promise<RawStatement> | undefined;
  private packMisses = 0;
  private batch: unknown[][] = [];
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly conn: RawConnection,
    private readonly table: string,
    /** The columns each queued row gives values for, in order. */
    private readonly columns: readonly string[],
    /** Rows per INSERT. */
    readonly batchRows: number,
    /** Columns with the same value in every row (processing_date, source): bound once per batch, not
     * repeated in the JSON and unpacked per row. */
    private readonly constants: ReadonlyArray<readonly [column: string, value: unknown]> = [],
    /** Try the packed-blob form first (see packedBatch.ts); JSON for batches it cannot take. */
    private readonly packed = false,
  ) {}

  /** Queues one row's values (in column order); sends a full batch. Synchronous until a batch is full,
   * so the per-row path costs no promise. */
  add(values: unknown[]): Promise<void> | undefined {
    this.batch.push(values);
    return this.batch.length >= this.batchRows ? this.send() : undefined;
  }

  private async send(): Promise<void> {
    if (this.batch.length === 0) return;
    // A batch that could not be packed (non-ASCII text) suggests the next ones can't either (customers'
    // umlauts): after a miss, only every 16th batch tries again.
    const packed = this.packed && this.packMisses % 16 === 0 ? packBatch(this.batch, this.columns.length) : undefined;
    if (this.packed) this.packMisses = packed ? 0 : this.packMisses + 1;
    const json = packed ? '' : JSON.stringify(this.batch);
    this.batch = [];
    if (this.inflight) await this.inflight;
    const constants = this.constants.map(([, v]) => v);
    let p: Promise<void>;
    if (packed) {
      this.packedStatement ??= prepare(this.conn, packedInsertSql(this.table, this.columns, this.constants.map(([c]) => c)));
      p = runStatement(await this.packedStatement, packedParams(packed, constants));
    } else {
      this.statement ??= prepare(
        this.conn,
        `INSERT INTO "${this.table}" (${[...this.columns, ...this.constants.map(([c]) => c)].map((c) => `"${c}"`).join(',')}) ` +
          `SELECT ${[...this.columns.map((_, i) => `value->>${i}`), ...this.constants.map((_, i) => `?${i + 2}`)].join(',')} FROM json_each(?1)`,
      );
      p = runStatement(await this.statement, [json, ...constants]);
    }
    // Awaited by the next send or by flush(); this keeps a failure from being unhandled meanwhile.
    p.catch(() => {});
    this.inflight = p;
  }

  /** Sends what is queued and waits until every batch is in. */
  async flush(): Promise<void> {
    await this.send();
    const p = this.inflight;
    this.inflight = undefined;
    if (p) await p;
  }

  async close(): Promise<void> {
    await this.inflight?.catch(() => {});
    if (this.statement) await finalize(await this.statement);
    if (this.packedStatement) await finalize(await this.packedStatement);
    this.statement = undefined;
    this.packedStatement = undefined;
  }
}

/** Which of `ids` are already in the raw partition (one scan of the partition per 500 ids). */
async function existingIds(conn: RawConnection, entity: Entity, ds: string, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await new Promise<Array<{ id: string }>>((resolve, reject) =>
      conn.all(`SELECT DISTINCT id FROM "${entity}" WHERE processing_date = ? AND id IN (${chunk.map(() => '?').join(',')})`, [ds, ...chunk], (err, r) =>
        err ? reject(err) : resolve(r as Array<{ id: string }>),
      ),
    );
    for (const r of rows) found.add(r.id);
  }
  return found;
}

function exec(conn: RawConnection, sql: string, params: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => conn.run(sql, params, (err) => (err ? reject(err) : resolve())));
}

/** Loads the lake partition of ctx.ds for `entity` into its raw table. */
export async function loadEntity(ctx: TaskContext, opts: LoadOptions): Promise<LoadResult> {
  const { entity } = opts;
  const { ds } = ctx;
  let manifest;
  try {
    manifest = await readManifest(ctx.settings.lakeDir, entity, ds);
  } catch (err) {
    // Retrying the load cannot make the partition appear; the extract must run (again).
    if (err instanceof LakePartitionError) throw new NonRetryableError(err.message, { cause: err });
    throw err;
  }
  const sequelize = await openWarehouse(ctx.settings.warehouseDb);
  await rawModels(sequelize);
  const sourceFields = SOURCE_FIELDS[entity];
  // Source fields, then the vault's (pushVaultValues' order); processing_date is bound per batch.
  const columns = [...sourceFields, ...VAULT_FIELDS[entity]];
  let loaded = 0;
  let rejected = 0;

  await sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, async (t) => {
    // Sequelize gives each transaction its own sqlite3 connection; the bulk insert uses it directly
    // with one prepared json_each statement (Model.bulkCreate builds an instance and SQL text per row).
    const conn = (t as unknown as { connection: RawConnection }).connection;
    await exec(conn, `DELETE FROM "${entity}" WHERE processing_date = ?`, [ds]);
    await exec(conn, `DELETE FROM rejects WHERE source = ? AND processing_date = ?`, [entity, ds]);
    const rows = new BatchInserter(conn, entity, columns, ctx.settings.load.batchRows, [['processing_date', ds]], true);
    const rejects = new BatchInserter(conn, 'rejects', ['raw_json', 'reason'], ctx.settings.load.batchRows, [['source', entity], ['processing_date', ds]]);
    // Duplicate ids: a compact hash filter (~16 bytes per id) instead of a Set of the id strings
    // (~90 MB per million, measured); rows it flags are held aside ("suspects", normally none) and
    // confirmed exactly against the inserted rows at the end, so a hash collision costs a query, not a row.
    const seen = new IdHashSet(manifest.rows);
    const suspects: Array<{ line: string; row: ValidRow }> = [];
    const insertValid = (row: ValidRow): Promise<void> | undefined => {
      const values: unknown[] = [];
      for (let i = 0; i < sourceFields.length; i++) values.push(row[sourceFields[i]] ?? null);
      pushVaultValues(entity, row, values);
      loaded++;
      return rows.add(values);
    };
    const reject = (line: string, reason: string): Promise<void> | undefined => {
      rejected++;
      return rejects.add([line, reason]);
    };
    try {
      for await (const lines of readLakeLines(ctx.settings.lakeDir, entity, ds, manifest)) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        for (const line of lines) {
          // `full` is a promise only when a batch was sent: awaiting nothing per row saves a microtask.
          let full: Promise<void> | undefined;
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            parsed = undefined;
            full = reject(line, 'row: not valid JSON');
          }
          if (parsed !== undefined) {
            // The plain-predicate check passes nearly every row; zod words the reason for the rest.
            let row = fastValidRow(entity, parsed);
            if (row === undefined) {
              const v = validateRow(entity, parsed);
              if (!v.ok) full = reject(line, v.reason);
              else row = v.row;
            }
            if (row !== undefined) {
              if (!seen.add(row.id as string)) suspects.push({ line, row });
              else full = insertValid(row);
            }
          }
          if (full) await full;
        }
      }
      await rows.flush();
      if (suspects.length > 0) {
        const inserted = await existingIds(conn, entity, ds, [...new Set(suspects.map((s) => s.row.id as string))]);
        for (const s of suspects) {
          const id = s.row.id as string;
          let full: Promise<void> | undefined;
          if (inserted.has(id)) {
            full = reject(s.line, `id: duplicate within the partition (value ${JSON.stringify(id)})`);
          } else {
            inserted.add(id);
            full = insertValid(s.row);
          }
          if (full) await full;
        }
        await rows.flush();
      }
      await rejects.flush();
    } finally {
      await rows.close();
      await rejects.close();
    }
    if (loaded + rejected !== manifest.rows) {
      throw new Error(`load of ${entity} for ${ds}: books do not balance: lake has ${manifest.rows} rows, loaded ${loaded} + rejected ${rejected}`);
    }
  });

  rowsLoadedCounter.inc({ entity }, loaded);
  rowsRejectedCounter.inc({ entity }, rejected);
  const result: LoadResult = { entity, ds, fetched: manifest.rows, loaded, rejected };
  ctx.log.info(`loaded ${entity} for ${ds}: fetched ${manifest.rows} = loaded ${loaded} + rejected ${rejected}`, { ...result });
  const share = manifest.rows === 0 ? 0 : rejected / manifest.rows;
  if (share > ctx.settings.load.maxRejectShare) {
    throw new NonRetryableError(
      `load of ${entity} for ${ds}: ${rejected} of ${manifest.rows} rows rejected (${(share * 100).toFixed(2)}%), ` +
        `more than the allowed ${(ctx.settings.load.maxRejectShare * 100).toFixed(2)}%; the valid rows and the rejects are committed: ` +
        `see rejects where source = '${entity}' and processing_date = '${ds}'`,
    );
  }
  return result;
}

/** A TaskFn that replaces the raw `entity` partition processing_date = ctx.ds from the lake. */
export function loadTask(opts: LoadOptions): TaskFn {
  return (ctx) => loadEntity(ctx, opts);
}
