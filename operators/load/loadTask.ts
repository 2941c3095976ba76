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
import type { Entity } from '../entities.js';
import { checkpointInBackground, lastCheckpointError, openWarehouse, syncWal } from '../warehouse.js';
import { LakePartitionError } from '../lake/LakePartitionError.js';
import { readManifest } from '../lake/reader.js';
import { BatchWriter, type RawConnection } from './BatchWriter.js';
import { SOURCE_FIELDS, VAULT_FIELDS } from './fields.js';
import { rawModels } from './models.js';
import { rejectBatchBuilder, rowBatchBuilder, rowValues } from './blockPreparer.js';
import { sharedPrepareWorkerPool } from './PrepareWorkerPool.js';
import { prepareRows, type PrepareInput, type Suspect } from './rowPreparer.js';

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
  // The background checkpoint has no task to report to; the next load reports its failure.
  const checkpointError = lastCheckpointError(ctx.settings.warehouseDb);
  if (checkpointError) ctx.log.warn(`the warehouse's last background WAL checkpoint failed: ${checkpointError.message}`);
  // Source fields, then the vault's (rowValues' order); processing_date is bound per batch.
  const columns = [...SOURCE_FIELDS[entity], ...VAULT_FIELDS[entity]];
  let loaded = 0;
  let rejected = 0;

  const { batchRows, prepareWorkers } = ctx.settings.load;
  let workers;
  if (prepareWorkers > 0) {
    try {
      workers = await sharedPrepareWorkerPool(prepareWorkers, batchRows);
    } catch (err) {
      // The workers only make the load faster: without them it prepares every block itself.
      ctx.log.warn(`load prepare workers did not start, preparing on the load's own thread: ${(err as Error).message}`);
    }
  }
  // More rows with repeated ids than the reject share allows would fail the load at the end anyway;
  // failing as soon as they are seen keeps a broken partition (every page twice) from holding them all
  // in memory. The slack covers the filter's false hits (normally none: see IdHashSet).
  const maxSuspects = Math.floor(ctx.settings.load.maxRejectShare * manifest.rows) + 100;
  const input: PrepareInput = { lakeDir: ctx.settings.lakeDir, entity, ds, manifest, batchRows, workers, signal: ctx.signal, maxSuspects };

  await sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE }, async (t) => {
    // Sequelize gives each transaction its own sqlite3 connection; the bulk insert uses it directly
    // with one prepared statement per batch form (Model.bulkCreate builds an instance and SQL text per row).
    const conn = (t as unknown as { connection: RawConnection }).connection;
    // The WAL this load writes (~350 MB per million subscriptions) is copied into the database in the
    // background after the commit, not by the commit itself: the next load need not wait for the copy.
    await exec(conn, 'PRAGMA wal_autocheckpoint = 0', []);
    await exec(conn, `DELETE FROM "${entity}" WHERE processing_date = ?`, [ds]);
    await exec(conn, `DELETE FROM rejects WHERE source = ? AND processing_date = ?`, [entity, ds]);
    const rows = new BatchWriter(conn, entity, columns, [['processing_date', ds]]);
    const rejects = new BatchWriter(conn, 'rejects', ['raw_json', 'reason'], [['source', entity], ['processing_date', ds]]);
    try {
      let suspects: readonly Suspect[] = [];
      for await (const event of prepareRows(input)) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (event.type === 'rows') {
          loaded += event.batch.rows;
          await rows.write(event.batch);
        } else if (event.type === 'rejects') {
          rejected += event.batch.rows;
          await rejects.write(event.batch);
        } else {
          suspects = event.suspects;
        }
      }
      await rows.flush();
      if (suspects.length > 0) {
        // Ids the hash filter flagged: a duplicate when the id is really in the partition already.
        const inserted = await existingIds(conn, entity, ds, [...new Set(suspects.map((s) => s.row.id as string))]);
        const rowBatches = rowBatchBuilder(entity, batchRows);
        const rejectBatches = rejectBatchBuilder(batchRows);
        for (const s of suspects) {
          const id = s.row.id as string;
          if (inserted.has(id)) {
            rejected++;
            const full = rejectBatches.add([s.line, `id: duplicate within the partition (value ${JSON.stringify(id)})`]);
            if (full) await rejects.write(full);
          } else {
            inserted.add(id);
            loaded++;
            const full = rowBatches.add(rowValues(entity, s.row));
            if (full) await rows.write(full);
          }
        }
        const lastRows = rowBatches.take();
        if (lastRows) await rows.write(lastRows);
        const lastRejects = rejectBatches.take();
        if (lastRejects) await rejects.write(lastRejects);
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
  // Durable before the task reports success, as when the commit ran the checkpoint itself.
  await syncWal(ctx.settings.warehouseDb);
  void checkpointInBackground(ctx.settings.warehouseDb);

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
