/**
 * Which of a vault load's staged reads (StagingStatement) may read only the rows their raw partition's
 * load did not copy from the previous partition (operators/load/fast/CarryMatcher.ts), and the record of
 * each vault load that tells when that is safe (docs/design/vault-loads.md).
 *
 * A copied row is the row of a line that is byte for byte a line of the previous partition P. It cannot
 * change what a hub, link or satellite load inserts once the model's table holds what a load of P left:
 * - hub, link: every key of P is in the table, so a copied row's key is found and nothing is inserted;
 * - satellite: every key's latest row carries P's hashdiff, which the copied row repeats, so nothing is
 *   inserted. This needs one row per key in both partitions (keys distinct once normalised): with two,
 *   which of them a key is compared by depends on the others.
 *
 * So a staged read skips the copied rows when all of this holds, read before staging and again under the
 * write lock (a difference stages again, inside the transaction):
 * - the partition's load recorded P, P's load_id then, and the ranges of the rows it did not copy;
 * - the model's latest recorded load read P's partition of that load_id, with the same definition, at an
 *   earlier load_date, and was clean: its table held no row of that load_date or later before it, so
 *   no insert was dropped by ON CONFLICT DO NOTHING and no later row exists;
 * - for a satellite, both partitions' keys are distinct (`unique_keys`), P's record still of that load;
 * - the table was not just created.
 * Vault tables are insert-only: nothing else removes the rows those records vouch for (an erasure
 * nulls personal fields and keeps hashdiffs, and drops the entity's raw_partitions records).
 */
import { createHash } from 'node:crypto';
import { RAW_PARTITIONS_TABLE } from '../load/rawPartitions.js';
import type { Queryable } from '../warehouse/interfaces.js';
import type { RunParams } from './params.js';
import type { Model } from './registry.js';
import type { StagingStatement } from './template.js';

/** One row per run of a model with staged reads: which raw loads it read, and whether it was clean. */
export const VAULT_RUNS = '_drivetrain_vault_runs';

const VAULT_RUNS_DDL =
  `CREATE TABLE IF NOT EXISTS ${VAULT_RUNS} (seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, ds TEXT NOT NULL, ` +
  `load_date TEXT NOT NULL, definition TEXT NOT NULL, inputs TEXT NOT NULL, clean INTEGER NOT NULL, fresh_only TEXT NOT NULL)`;

/** Which statements stage a model's reads, and what that choice rests on. */
export interface StagingPlan {
  /** Per staging statement, in order: its SQL (all rows, or the rows not copied). */
  readonly statements: readonly string[];
  /** The raw tables whose copied rows are skipped. */
  readonly freshOnly: readonly string[];
  /** Per raw table read: the load_id of its partition, as read (null: no record). */
  readonly inputs: Readonly<Record<string, string | null>>;
  /** What was read to choose, as text: equal under the write lock, or the reads are staged again. */
  readonly basis: string;
}

/** What a raw partition's record says of the load that wrote it (rawPartitions.ts). */
interface SourceRecord {
  readonly load_id: string;
  readonly copied_from: string | null;
  readonly copied_load_id: string | null;
  readonly has_fresh: number;
  readonly unique_keys: number | null;
  /** The record of the partition it copied from, now. */
  readonly previous_load_id: string | null;
  readonly previous_unique_keys: number | null;
}

/** The model's latest recorded run. */
interface LastRun {
  readonly seq: number;
  readonly ds: string;
  readonly load_date: string;
  readonly definition: string;
  readonly inputs: string;
  readonly clean: number;
}

/** What a model's loads insert follows from: its statements, its staged reads and its columns. */
export function modelDefinition(model: Model): string {
  const text = JSON.stringify([model.statements, (model.staging ?? []).map((s) => [s.sql, s.freshSql]), model.shape.columns]);
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Chooses, for each of the model's staged reads, all of the ds's raw rows or only those not copied
 * (the module's comment says when). `tableIsNew`: the model's table was just created (nothing skipped).
 */
export async function planStaging(db: Queryable, model: Model, params: RunParams, tableIsNew = false): Promise<StagingPlan> {
  const staging = model.staging ?? [];
  const sources = [...new Set(staging.map((s) => s.source))];
  const tables = new Set(
    (await db.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)`, [RAW_PARTITIONS_TABLE, VAULT_RUNS])).map((t) => t.name),
  );
  const records: Record<string, SourceRecord | undefined> = {};
  if (tables.has(RAW_PARTITIONS_TABLE)) {
    for (const source of sources) {
      records[source] = await db.get<SourceRecord>(
        `SELECT p.load_id, p.copied_from, p.copied_load_id, p.fresh_rowids IS NOT NULL AS has_fresh, p.unique_keys, ` +
          `q.load_id AS previous_load_id, q.unique_keys AS previous_unique_keys ` +
          `FROM "${RAW_PARTITIONS_TABLE}" p LEFT JOIN "${RAW_PARTITIONS_TABLE}" q ON q.entity = p.entity AND q.processing_date = p.copied_from ` +
          `WHERE p.entity = ? AND p.processing_date = ?`,
        [source, params.ds ?? null],
      );
    }
  }
  const last = tables.has(VAULT_RUNS)
    ? await db.get<LastRun>(`SELECT seq, ds, load_date, definition, inputs, clean FROM ${VAULT_RUNS} WHERE model = ? ORDER BY seq DESC LIMIT 1`, [model.name])
    : undefined;
  const lastInputs = last ? (JSON.parse(last.inputs) as Record<string, string | null>) : {};
  const definition = modelDefinition(model);
  const skipsCopies = (read: StagingStatement): boolean => {
    const r = records[read.source];
    if (tableIsNew || !r || r.copied_from === null || r.copied_load_id === null || !r.has_fresh || !last) return false;
    if (!last.clean || last.definition !== definition || last.ds !== r.copied_from || !(params.load_date !== undefined && last.load_date < params.load_date)) return false;
    if (lastInputs[read.source] !== r.copied_load_id) return false;
    return !read.perKey || (r.unique_keys === 1 && r.previous_unique_keys === 1 && r.previous_load_id === r.copied_load_id);
  };
  const skips = staging.map(skipsCopies);
  return {
    statements: staging.map((s, i) => (skips[i] ? s.freshSql : s.sql)),
    freshOnly: [...new Set(staging.filter((_, i) => skips[i]).map((s) => s.source))],
    inputs: Object.fromEntries(sources.map((s) => [s, records[s]?.load_id ?? null])),
    basis: JSON.stringify({ records, last: last?.seq ?? null, tableIsNew }),
  };
}

/** True when the model's table holds no row of `load_date` or later (a run inserting now is clean). */
export async function isClean(db: Queryable, model: Model, params: RunParams): Promise<boolean> {
  if (!model.shape.columns?.some((c) => c.trim().split(/\s+/)[0] === 'load_date')) return false;
  return (await db.get(`SELECT 1 FROM ${model.name} WHERE load_date >= ? LIMIT 1`, [params.load_date])) === undefined;
}

/** Records the run, in its transaction: what the next run's {@link planStaging} reads. */
export async function recordRun(db: Queryable, model: Model, params: RunParams, plan: StagingPlan, clean: boolean): Promise<void> {
  await db.run(VAULT_RUNS_DDL);
  await db.run(`INSERT INTO ${VAULT_RUNS} (model, ds, load_date, definition, inputs, clean, fresh_only) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
    model.name,
    params.ds ?? '',
    params.load_date ?? '',
    modelDefinition(model),
    JSON.stringify(plan.inputs),
    clean ? 1 : 0,
    JSON.stringify(plan.freshOnly),
  ]);
}
