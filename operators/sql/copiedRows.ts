/**
 * Which of a vault load's staged reads (StagingStatement) may read only the rows their raw partition's
 * load did not copy from the previous partition (operators/load/fast/CarryMatcher.ts), by the records
 * of the loads (raw_partitions) and of the model's own runs (vaultRuns.ts); docs/design/vault-loads.md.
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
 * - the partition's load recorded P, P's load_id then, and the ranges of the rows it did not copy,
 *   which still name those rows (a VACUUM may renumber rowids);
 * - the model's latest recorded load read P's partition of that load_id, with the same definition, at an
 *   earlier load_date, and was clean: its table held no row of that load_date or later before it, so
 *   no insert was dropped by ON CONFLICT DO NOTHING and no later row exists;
 * - for a satellite, both partitions' keys are distinct (`unique_keys`), P's record still of that load;
 * - the table was not just created.
 * Vault tables are insert-only: nothing else removes the rows those records vouch for (an erasure
 * nulls personal fields and keeps hashdiffs, and drops the entity's raw_partitions records). A raw row
 * edited by hand after its vault loads is copied as it is, and skipped: reload a partition instead.
 * SQLite only: the reads are staged there (Dialect.stagedReads), and only its loads copy rows.
 */
import { RAW_PARTITION_LOAD_COLUMNS, RAW_PARTITIONS_TABLE, staleFreshRangesSql } from '../load/rawPartitions.js';
import type { Queryable } from '../warehouse/interfaces.js';
import type { Dialect } from './dialect/Dialect.js';
import type { RunParams } from './params.js';
import type { Model } from './registry.js';
import type { StagingStatement } from './template.js';
import { lastRun, modelDefinition, type RunInputs } from './vaultRuns.js';

/** Which statements stage a model's reads, and what that choice rests on. */
export interface StagingPlan extends RunInputs {
  /** Per staging statement, in order: its SQL (all rows, or the rows not copied). */
  readonly statements: readonly string[];
  /** What was read to choose, as text: equal under the write lock, or the reads are staged again. */
  readonly basis: string;
}

/** What a raw partition's record says of the load that wrote it (rawPartitions.ts). */
interface SourceRecord {
  readonly load_id: string;
  readonly copied_from: string | null;
  readonly copied_load_id: string | null;
  readonly fresh_rowids: string | null;
  readonly unique_keys: number | null;
  /** The record of the partition it copied from, now. */
  readonly previous_load_id: string | null;
  readonly previous_unique_keys: number | null;
  /** How many of its fresh ranges no longer name their rows (0 when all hold). */
  stale?: number;
}

/** The ds's record of each raw table, with its fresh ranges checked; none where raw_partitions lacks the columns (a load of this version adds them). */
async function sourceRecords(db: Queryable, dialect: Dialect, sources: readonly string[], ds: string | undefined): Promise<Record<string, SourceRecord | undefined>> {
  const records: Record<string, SourceRecord | undefined> = {};
  const columns = new Set((await db.all<{ name: string }>(dialect.tableColumns(RAW_PARTITIONS_TABLE))).map((c) => c.name));
  if (!Object.keys(RAW_PARTITION_LOAD_COLUMNS).every((c) => columns.has(c))) return records;
  for (const source of sources) {
    const r = await db.get<SourceRecord>(
      `SELECT p.load_id, p.copied_from, p.copied_load_id, p.fresh_rowids, p.unique_keys, ` +
        `q.load_id AS previous_load_id, q.unique_keys AS previous_unique_keys ` +
        `FROM "${RAW_PARTITIONS_TABLE}" p LEFT JOIN "${RAW_PARTITIONS_TABLE}" q ON q.entity = p.entity AND q.processing_date = p.copied_from ` +
        `WHERE p.entity = ? AND p.processing_date = ?`,
      [source, ds ?? null],
    );
    if (r?.fresh_rowids) r.stale = (await db.get<{ stale: number }>(staleFreshRangesSql(source), [r.fresh_rowids, ds]))?.stale;
    records[source] = r;
  }
  return records;
}

/**
 * Chooses, for each of the model's staged reads, all of the ds's raw rows or only those not copied
 * (the module's comment says when). `tableIsNew`: the model's table was just created (nothing skipped).
 */
export async function planStaging(db: Queryable, dialect: Dialect, model: Model, params: RunParams, tableIsNew = false): Promise<StagingPlan> {
  const staging = model.staging ?? [];
  const sources = [...new Set(staging.map((s) => s.source))];
  const records = await sourceRecords(db, dialect, sources, params.ds);
  const last = await lastRun(db, dialect, model);
  const lastInputs = last ? (JSON.parse(last.inputs) as Record<string, string | null>) : {};
  const definition = modelDefinition(model);
  const before = (loadDate: string): boolean => params.load_date !== undefined && loadDate < params.load_date;
  const skipsCopies = (read: StagingStatement): boolean => {
    const r = records[read.source];
    if (tableIsNew || !r || r.copied_from === null || r.copied_load_id === null || r.stale !== 0 || !last) return false;
    // The model's latest run read the very partition the rows were copied from, and left what a load of it leaves.
    if (!last.clean || last.definition !== definition || last.ds !== r.copied_from || !before(last.load_date)) return false;
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
