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
 * {@link FreshRange}s; and whether the rows' business keys are distinct once normalised (1 or 0).
 */
export const RAW_PARTITION_LOAD_COLUMNS = { copied_from: 'TEXT', copied_load_id: 'TEXT', fresh_rowids: 'TEXT', unique_keys: 'INTEGER' } as const;

export const RAW_PARTITIONS_DDL =
  `CREATE TABLE IF NOT EXISTS "${RAW_PARTITIONS_TABLE}" ("entity" TEXT NOT NULL, "processing_date" TEXT NOT NULL, ` +
  `"lake_digest" TEXT NOT NULL, "load_format" TEXT NOT NULL, "load_id" TEXT NOT NULL, ` +
  `${Object.entries(RAW_PARTITION_LOAD_COLUMNS).map(([c, type]) => `"${c}" ${type}, `).join('')}PRIMARY KEY ("entity", "processing_date"))`;

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
 * One range of `fresh_rowids`: consecutive rowids of rows the load did not copy, and the lake lines of
 * its first and last row. Rowids of a table without an INTEGER PRIMARY KEY may change (a VACUUM may
 * renumber them, keeping their order): the lines tell whether a range still names the same rows.
 */
export type FreshRange = readonly [firstRowid: number, lastRowid: number, firstLine: number, lastLine: number];

/**
 * Completes the partition's record inside the load's transaction, once its rows are in. The fresh rows'
 * ranges are checked against the table first ({@link freshRanges}); when they do not hold, the record
 * says nothing about copies, so no vault load skips rows, and the reason is returned.
 */
export async function recordLoadedPartition(db: Queryable, entity: Entity, ds: string, loaded: LoadedPartition, prepared: number): Promise<string | undefined> {
  const checked = loaded.copiedFrom ? await freshRanges(db, entity, ds, loaded.freshRowids, prepared) : undefined;
  const ranges = typeof checked === 'string' ? undefined : checked;
  const copiedFrom = ranges ? loaded.copiedFrom : undefined;
  await db.run(
    `UPDATE "${RAW_PARTITIONS_TABLE}" SET copied_from = ?, copied_load_id = ?, fresh_rowids = ?, unique_keys = ? WHERE entity = ? AND processing_date = ?`,
    [copiedFrom?.ds ?? null, copiedFrom?.loadId ?? null, ranges ? JSON.stringify(ranges) : null, loaded.uniqueKeys === undefined ? null : Number(loaded.uniqueKeys), entity, ds],
  );
  return typeof checked === 'string' ? checked : undefined;
}

/**
 * The ranges with their first and last rows' lake lines, or why they do not hold: they must come in
 * order without overlapping, each be rows of this partition only, and hold `prepared` rows in all.
 */
async function freshRanges(db: Queryable, entity: Entity, ds: string, rowids: readonly number[] | undefined, prepared: number): Promise<FreshRange[] | string> {
  if (!rowids) return 'the writer kept no rowids';
  const ranges: FreshRange[] = [];
  let total = 0;
  for (let i = 0; i < rowids.length; i += 2) {
    const [first, last] = [rowids[i], rowids[i + 1]];
    const where = `rowids ${first}..${last}`;
    if (!(last >= first) || (i > 0 && first <= rowids[i - 1])) return `${where} are out of order or overlap the range before`;
    const found = await db.get<{ n: number; first_line: number | null; last_line: number | null }>(
      `SELECT count(*) AS n, (SELECT lake_line FROM "${entity}" WHERE rowid = ?1) AS first_line, (SELECT lake_line FROM "${entity}" WHERE rowid = ?2) AS last_line ` +
        `FROM "${entity}" WHERE rowid BETWEEN ?1 AND ?2 AND processing_date = ?3`,
      [first, last, ds],
    );
    if (!found || found.n !== last - first + 1 || found.first_line === null || found.last_line === null) return `${where} are not all rows of ${ds}`;
    ranges.push([first, last, found.first_line, found.last_line]);
    total += found.n;
  }
  return total === prepared ? ranges : `the ranges hold ${total} rows, ${prepared} were prepared`;
}

/**
 * A query of how many of a record's fresh ranges (?1, its `fresh_rowids`) no longer name the rows they
 * named for the partition (?2): each must still be all rows of it, from the same first to the same last line.
 */
export function staleFreshRangesSql(entity: string): string {
  const t = `"${entity}"`;
  return (
    `SELECT count(*) AS stale FROM json_each(?1) j WHERE ` +
    `(SELECT count(*) FROM ${t} r WHERE r.rowid BETWEEN j.value->>0 AND j.value->>1 AND r.processing_date = ?2) <> (j.value->>1) - (j.value->>0) + 1 ` +
    `OR (SELECT r.lake_line FROM ${t} r WHERE r.rowid = j.value->>0) IS NOT (j.value->>2) ` +
    `OR (SELECT r.lake_line FROM ${t} r WHERE r.rowid = j.value->>1) IS NOT (j.value->>3)`
  );
}
