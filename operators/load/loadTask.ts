/**
 * The load operator: replaces the raw table's processing_date = ds partition from the complete lake
 * partition for ds (never calling the source), in ONE transaction. It reads the partition, validates
 * each row (bad rows go to `rejects` with a one-line reason), computes the vault's hash columns and
 * inserts the rows and rejects together; then the books are checked (lake rows = loaded + rejected,
 * inside the transaction: a mismatch rolls back) and the reject share (after commit: the rows and
 * rejects stay for inspection, and the task fails with NonRetryableError so the DAG stops before the
 * vault). Reading, validating and hashing happen in a {@link PartitionPreparer}, inserting in a
 * {@link BatchSink} (interfaces.ts): fast/ implements both for speed (docs/design/load-fast-path.md).
 */
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext, TaskFn } from '../../scheduler/interfaces.js';
import { rowsLoadedCounter, rowsRejectedCounter } from '../../scheduler/metrics.js';
import type { Entity } from '../entities.js';
import { checkpointInBackground, isSqliteFile, lastCheckpointError, openWarehouse, syncWal, warehouseOf } from '../warehouse/registry.js';
import type { Warehouse, WarehouseSession } from '../warehouse/interfaces.js';
import { PostgresSession } from '../warehouse/PostgresSession.js';
import { SqliteSession } from '../warehouse/SqliteSession.js';
import { CopyPartitionWriter } from './CopyPartitionWriter.js';
import { LakePartitionError } from '../lake/LakePartitionError.js';
import type { LakeManifest } from '../lake/manifest.js';
import { readManifest } from '../lake/reader.js';
import { fastPartitionPreparer } from './fast/FastPartitionPreparer.js';
import { PartitionWriter } from './fast/PartitionWriter.js';
import { CarrySourceError } from './fast/CarrySourceError.js';
import { readPreviousPartition, unchangedSince, type PreviousPartition } from './fast/PreviousPartition.js';
import type { BatchSink, KeyCheck, PartitionPreparer, PartitionToLoad } from './interfaces.js';
import { ensureRawTables } from './models.js';
import { recordLoadedPartition, recordRawPartition } from './rawPartitions.js';
import { RowCountMismatchError } from './RowCountMismatchError.js';

/** Options of {@link loadTask}. */
export interface LoadOptions {
  /** The entity to load. */
  readonly entity: Entity;
  /** What reads, validates and hashes the partition; default the fast one (fast/) with the settings' workers. */
  readonly preparer?: PartitionPreparer;
  /**
   * The upstream task that extracted the partition: its result's `rows` must equal the partition's
   * (RowCountMismatchError otherwise, before the warehouse is touched). Default: no check.
   */
  readonly extractTask?: string;
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

/** The name the warehouse file is attached under, on a SQLite load's connection, to copy unchanged rows from. */
const CARRY_SCHEMA = 'carry_source';

/** Which of `ids` are already in the raw partition (one scan of the partition per 500 ids). */
async function existingIds(session: WarehouseSession, entity: Entity, ds: string, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await session.all<{ id: string }>(`SELECT DISTINCT id FROM "${entity}" WHERE processing_date = ? AND id IN (${chunk.map(() => '?').join(',')})`, [ds, ...chunk]);
    for (const r of rows) found.add(r.id);
  }
  return found;
}

/** The manifest of the lake partition, which exists only once the partition is complete. */
async function completeManifest(lakeDir: string, entity: Entity, ds: string): Promise<LakeManifest> {
  try {
    return await readManifest(lakeDir, entity, ds);
  } catch (err) {
    // Retrying the load cannot make the partition appear; the extract must run (again).
    if (err instanceof LakePartitionError) throw new NonRetryableError(err.message, { cause: err });
    throw err;
  }
}

/** The extract's reported row count against the lake partition's; RowCountMismatchError when they differ. */
function checkExtractedRows(ctx: TaskContext, opts: LoadOptions, manifest: LakeManifest): void {
  if (opts.extractTask === undefined) return;
  const reported = ctx.upstream(opts.extractTask);
  const rows = reported !== null && typeof reported === 'object' ? (reported as { rows?: unknown }).rows : undefined;
  if (rows !== manifest.rows) throw new RowCountMismatchError(opts.entity, ctx.ds, opts.extractTask, typeof rows === 'number' ? rows : reported, manifest.rows);
}

/** Fails the task when more than the allowed share of the partition's rows was rejected. */
function checkRejectShare(result: LoadResult, maxRejectShare: number): void {
  const { entity, ds, fetched, rejected } = result;
  const share = fetched === 0 ? 0 : rejected / fetched;
  if (share > maxRejectShare) {
    throw new NonRetryableError(
      `load of ${entity} for ${ds}: ${rejected} of ${fetched} rows rejected (${(share * 100).toFixed(2)}%), ` +
        `more than the allowed ${(maxRejectShare * 100).toFixed(2)}%; the valid rows and the rejects are committed: ` +
        `see rejects where source = '${entity}' and processing_date = '${ds}'`,
    );
  }
}

/** What one replacement of a raw partition wrote. */
interface Replaced {
  readonly loaded: number;
  readonly rejected: number;
  /** Rows of `loaded` copied from the previous partition `from` (undefined: none was used). */
  readonly carried: number;
  readonly from: string | undefined;
  /** The whole replacement, its read of the previous partition before the write lock, and its write once it held the lock (ms). */
  readonly ms: number;
  readonly prepareMs: number;
  readonly writeMs: number;
}

/** What {@link replacePartition} replaces the partition with, and how. */
interface Replacement {
  readonly entity: Entity;
  readonly manifest: LakeManifest;
  readonly warehouse: Warehouse;
  readonly preparer: PartitionPreparer;
  /** SQLite only: copy the rows of lines that did not change since the previous partition. */
  readonly carry: boolean;
}

/**
 * Replaces the raw partition of ctx.ds and its rejects in one transaction, checking the books. With
 * `carry`, the previous partition's rows (fast/PreviousPartition.ts) are read before the write lock and
 * checked again under it; the lines that did not change get their rows copied (fast/CarryMatcher.ts).
 */
async function replacePartition(ctx: TaskContext, r: Replacement): Promise<Replaced> {
  const { entity, manifest, warehouse, preparer } = r;
  const { ds } = ctx;
  let loaded = 0;
  let rejected = 0;
  let carried = 0;
  let previous: PreviousPartition | undefined;
  let from: string | undefined;
  let freshRowids: readonly number[] | undefined;
  const started = performance.now();
  let prepareMs = 0;
  let writeStarted = started;
  const findPrevious = async (session: WarehouseSession): Promise<void> => {
    if (!(session instanceof SqliteSession)) return;
    const readStarted = performance.now();
    try {
      previous = await readPreviousPartition(session, ctx.settings.lakeDir, entity, ds);
      // The connection, and so the name, ends with the load.
      if (previous) await session.attachReadOnly(CARRY_SCHEMA);
    } catch (err) {
      // Copying only saves time: without the previous partition, every line is prepared.
      previous = undefined;
      ctx.log.warn(`the previous partition of ${entity} could not be read to copy unchanged rows: ${(err as Error).message}; loading every line`);
    }
    prepareMs = performance.now() - readStarted;
  };

  await warehouse.transaction(
    async (session) => {
      writeStarted = performance.now();
      // The transaction's connection is its own and closes with it, so this setting ends with the load:
      // the WAL it writes is copied into the database in the background after the commit, not by the
      // commit itself, so the next load need not wait for the copy (docs/design/wal-checkpoint.md).
      if (warehouse.kind === 'sqlite') await session.run('PRAGMA wal_autocheckpoint = 0');
      if (previous && !(await unchangedSince(session, previous))) previous = undefined;
      from = previous?.ds;
      await session.run(`DELETE FROM "${entity}" WHERE processing_date = ?`, [ds]);
      await session.run(`DELETE FROM rejects WHERE source = ? AND processing_date = ?`, [entity, ds]);
      await recordRawPartition(session, entity, ds, manifest);
      const lookup = (ids: readonly string[]) => existingIds(session, entity, ds, ids);
      // PostgreSQL: COPY ... FROM STDIN; SQLite: prepared statements over packed batches (fast/).
      const sink: BatchSink =
        session instanceof PostgresSession
          ? new CopyPartitionWriter(session, entity, ds, lookup)
          : new PartitionWriter(session, entity, ds, lookup, previous ? { schema: CARRY_SCHEMA, ds: previous.ds } : undefined);
      const keys: KeyCheck = {};
      const partition: PartitionToLoad = { lakeDir: ctx.settings.lakeDir, entity, ds, manifest, signal: ctx.signal, previous, keys };
      try {
        for await (const prepared of preparer.prepare(partition, (ids) => sink.inserted(ids))) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          if (prepared.into === 'rejects') rejected += prepared.batch.rows;
          else loaded += prepared.batch.rows;
          if (prepared.into === 'carried') carried += prepared.batch.rows;
          await sink.write(prepared);
        }
        await sink.flush();
        freshRowids = sink.preparedRowids();
      } finally {
        await sink.close();
      }
      if (loaded + rejected !== manifest.rows) {
        throw new Error(`load of ${entity} for ${ds}: books do not balance: lake has ${manifest.rows} rows, loaded ${loaded} + rejected ${rejected}`);
      }
      // For the vault loads: which rows are copies of the previous partition's (copiedRows.ts).
      const copiedFrom = previous && carried > 0 ? { ds: previous.ds, loadId: previous.stamp.loadId } : undefined;
      const unrecorded = await recordLoadedPartition(session, entity, ds, { copiedFrom, freshRowids, uniqueKeys: keys.unique }, loaded - carried);
      if (unrecorded) ctx.log.warn(`the rows of ${entity} for ${ds} not copied could not be told apart (${unrecorded}); the vault loads will read every row`);
    },
    { prepare: r.carry ? findPrevious : undefined },
  );
  const ended = performance.now();
  return { loaded, rejected, carried, from, ms: ended - started, prepareMs, writeMs: ended - writeStarted };
}

/** Loads the lake partition of ctx.ds for `entity` into its raw table. */
export async function loadEntity(ctx: TaskContext, opts: LoadOptions): Promise<LoadResult> {
  const { entity } = opts;
  const { ds } = ctx;
  const manifest = await completeManifest(ctx.settings.lakeDir, entity, ds);
  checkExtractedRows(ctx, opts, manifest);
  const target = warehouseOf(ctx.settings);
  const sqlite = isSqliteFile(target);
  const warehouse = await openWarehouse(target, ctx.settings.warehouse);
  await ensureRawTables(warehouse);
  // The background checkpoint has no task to report to; the next load reports its failure.
  const checkpointError = sqlite ? lastCheckpointError(target) : undefined;
  if (checkpointError) ctx.log.warn(`the warehouse's last background WAL checkpoint failed: ${checkpointError.message}`);
  const preparer = opts.preparer ?? (await fastPartitionPreparer(ctx.settings.load, ctx.log));
  const load = (carry: boolean): Promise<Replaced> => replacePartition(ctx, { entity, manifest, warehouse, preparer, carry });
  let replaced: Replaced;
  try {
    replaced = await load(sqlite);
  } catch (err) {
    if (!(err instanceof CarrySourceError)) throw err;
    ctx.log.warn(`${err.message}; loading every line instead`);
    replaced = await load(false);
  }
  const { loaded, rejected, carried, from, ms, prepareMs, writeMs } = replaced;
  if (sqlite) {
    // Durable before the task reports success, as when the commit ran the checkpoint itself.
    await syncWal(target);
    void checkpointInBackground(target);
  }

  rowsLoadedCounter.inc({ entity }, loaded);
  rowsRejectedCounter.inc({ entity }, rejected);
  const result: LoadResult = { entity, ds, fetched: manifest.rows, loaded, rejected };
  const copiedNote = from === undefined ? '' : `; ${carried} rows of unchanged lines copied from ${from}`;
  // As a model's line says it: the wait for the write lock is other writers' time, not this load's.
  const prepared = from === undefined ? '' : `read the previous partition in ${Math.round(prepareMs)} ms, `;
  const times = `(${prepared}waited ${Math.round(ms - prepareMs - writeMs)} ms for the writer, wrote in ${Math.round(writeMs)} ms)`;
  ctx.log.info(`loaded ${entity} for ${ds}: fetched ${manifest.rows} = loaded ${loaded} + rejected ${rejected}${copiedNote} ${times}`, { ...result, carried });
  checkRejectShare(result, ctx.settings.load.maxRejectShare);
  return result;
}

/** A TaskFn that replaces the raw `entity` partition processing_date = ctx.ds from the lake. */
export function loadTask(opts: LoadOptions): TaskFn {
  return (ctx) => loadEntity(ctx, opts);
}
