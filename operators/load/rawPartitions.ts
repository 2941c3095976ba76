/**
 * `raw_partitions`: what each raw partition was loaded from (its lake partition's digest) and in which
 * format. A load writes its partition's record in its transaction; the next day's load copies rows of a
 * partition only while its record still matches (fast/PreviousPartition.ts), and an erasure, which
 * rewrites raw rows and lake partitions, removes the records of the entity's partitions.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ENTITY_SPECS, type Entity } from '../entities.js';
import type { LakeManifest } from '../lake/manifest.js';
import type { Queryable } from '../warehouse/interfaces.js';
import { insertColumns } from './rows.js';

export const RAW_PARTITIONS_TABLE = 'raw_partitions';

/**
 * The columns a record gains once its load is done (NULL before, and where unknown), which the vault
 * loads read to skip copied rows (operators/sql/copiedRows.ts): the partition the load copied rows from
 * and that partition's load_id then; the rowids of the rows it did not copy, as a JSON array of
 * [first, last] ranges; and whether the rows' business keys are distinct once normalised (1 or 0).
 */
export const RAW_PARTITION_LOAD_COLUMNS = ['copied_from', 'copied_load_id', 'fresh_rowids', 'unique_keys'] as const;

export const RAW_PARTITIONS_DDL =
  `CREATE TABLE IF NOT EXISTS "${RAW_PARTITIONS_TABLE}" ("entity" TEXT NOT NULL, "processing_date" TEXT NOT NULL, ` +
  `"lake_digest" TEXT NOT NULL, "load_format" TEXT NOT NULL, "load_id" TEXT NOT NULL, ` +
  `"copied_from" TEXT, "copied_load_id" TEXT, "fresh_rowids" TEXT, "unique_keys" INTEGER, PRIMARY KEY ("entity", "processing_date"))`;

/**
 * Bumped whenever the same lake line would load as another raw row for a reason the declaration does
 * not show (validation.ts, hashing.ts): a partition loaded in another format is never copied from.
 */
const LOAD_FORMAT_VERSION = 1;

/**
 * The format a load of `entity` writes raw rows in: the version, the columns, and a digest of the
 * entity's declaration, which validation and hashing derive from (a new accepted value, a new key).
 */
export function loadFormat(entity: Entity): string {
  const declaration = createHash('sha256').update(JSON.stringify(ENTITY_SPECS[entity])).digest('hex').slice(0, 16);
  return `${LOAD_FORMAT_VERSION}:${declaration}:${insertColumns(entity).join(',')}`;
}

/** What identifies a lake partition's content: a digest of its parts' checksums. */
export function lakeDigest(manifest: LakeManifest): string {
  return createHash('sha256')
    .update(manifest.parts.map((p) => `${p.file} ${p.sha256} ${p.rows}`).join('\n'))
    .digest('hex');
}

/**
 * Records, inside the load's transaction, that the raw partition was loaded from `manifest`'s partition.
 * Each load gets a new `load_id`: a load copying from the partition checks under the write lock that
 * it is still the one it read (a rerun may give its rows the same rowids).
 */
export async function recordRawPartition(db: Queryable, entity: Entity, ds: string, manifest: LakeManifest): Promise<void> {
  await db.run(`DELETE FROM "${RAW_PARTITIONS_TABLE}" WHERE entity = ? AND processing_date = ?`, [entity, ds]);
  await db.run(`INSERT INTO "${RAW_PARTITIONS_TABLE}" (entity, processing_date, lake_digest, load_format, load_id) VALUES (?, ?, ?, ?, ?)`, [
    entity,
    ds,
    lakeDigest(manifest),
    loadFormat(entity),
    randomUUID(),
  ]);
}

/** What a load found out about the partition it wrote, for the vault loads after it. */
export interface LoadedPartition {
  /** The partition it copied rows from, and that partition's load_id then (none: it copied nothing). */
  readonly copiedFrom?: { readonly ds: string; readonly loadId: string };
  /** The rowids of the rows it did not copy, as first, last pairs (with `copiedFrom` only). */
  readonly freshRowids?: readonly number[];
  /** Whether the rows' business keys are distinct once normalised; undefined: not checked. */
  readonly uniqueKeys?: boolean;
}

/**
 * Completes the partition's record inside the load's transaction, once its rows are in. The fresh rows'
 * ranges are checked against the table first (each all rows of this partition, as many as were
 * prepared): a range that is not, and the record says nothing about copies, so no vault load skips rows.
 */
export async function recordLoadedPartition(db: Queryable, entity: Entity, ds: string, loaded: LoadedPartition, prepared: number): Promise<void> {
  let { copiedFrom, freshRowids } = loaded;
  if (copiedFrom && !(freshRowids && (await rangesHold(db, entity, ds, freshRowids, prepared)))) copiedFrom = freshRowids = undefined;
  const ranges: number[][] = [];
  for (let i = 0; freshRowids && i < freshRowids.length; i += 2) ranges.push([freshRowids[i], freshRowids[i + 1]]);
  await db.run(
    `UPDATE "${RAW_PARTITIONS_TABLE}" SET copied_from = ?, copied_load_id = ?, fresh_rowids = ?, unique_keys = ? WHERE entity = ? AND processing_date = ?`,
    [copiedFrom?.ds ?? null, copiedFrom?.loadId ?? null, copiedFrom ? JSON.stringify(ranges) : null, loaded.uniqueKeys === undefined ? null : Number(loaded.uniqueKeys), entity, ds],
  );
}

/** True when the ranges hold `prepared` rowids in all, every one a row of the partition. */
async function rangesHold(db: Queryable, entity: Entity, ds: string, rowids: readonly number[], prepared: number): Promise<boolean> {
  let total = 0;
  for (let i = 0; i < rowids.length; i += 2) {
    const [first, last] = [rowids[i], rowids[i + 1]];
    const found = await db.get<{ n: number }>(`SELECT count(*) AS n FROM "${entity}" WHERE rowid BETWEEN ? AND ? AND processing_date = ?`, [first, last, ds]);
    if (found?.n !== last - first + 1) return false;
    total += found.n;
  }
  return total === prepared;
}
