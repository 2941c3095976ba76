/**
 * The raw partition a load may copy unchanged rows from (CarryMatcher.ts): the latest one before the
 * load's ds, when its record in `raw_partitions` says it was loaded in today's format from the lake
 * partition that is there now. Read on the SQLite warehouse only, in the load's prepare step (before
 * the write lock), in one read transaction; checked again under the lock ({@link unchangedSince}).
 */
import type { Entity } from '../../entities.js';
import { LakePartitionError } from '../../lake/LakePartitionError.js';
import type { LakeManifest } from '../../lake/manifest.js';
import { readManifest } from '../../lake/reader.js';
import type { Queryable } from '../../warehouse/interfaces.js';
import { LAKE_LINE_COLUMN } from '../fields.js';
import { normalise } from '../hashing.js';
import { lakeDigest, loadFormat, RAW_PARTITIONS_TABLE } from '../rawPartitions.js';
import { IdHashSet } from './IdHashSet.js';

/** Rows of the previous partition read per query. */
const CHUNK_ROWS = 20_000;

/** The previous raw partition, line by line of the lake partition it was loaded from. */
export interface PreviousPartition {
  readonly entity: Entity;
  readonly ds: string;
  /** Its lake partition (the one the rows came from: same parts). */
  readonly manifest: LakeManifest;
  /** Per lake line: its raw row's rowid, or -1 where the line made no row (a reject, a repeated id) or
   * its row cannot be copied. */
  readonly rowids: Float64Array;
  /** Per lake line: its row's id as two {@link IdHashSet.hash}es (0 where no row). */
  readonly idHashes: Uint32Array;
  /** Per lake line: its row's business key, normalised as its hash key is, as two hashes (0 where no row). */
  readonly keyHashes: Uint32Array;
  /** Which load wrote it, and where its rows lie, when read. */
  readonly stamp: PartitionStamp;
}

/** What tells one load of a partition from another: its record, its row count and rowid range. */
interface PartitionStamp {
  readonly loadId: string;
  readonly digest: string;
  readonly rows: number;
  readonly first: number | null;
  readonly last: number | null;
}

/** The partition's stamp, when its record says it was loaded in today's format. */
async function stampOf(db: Queryable, entity: Entity, ds: string): Promise<PartitionStamp | undefined> {
  const record = await db.get<{ lake_digest: string; load_format: string; load_id: string }>(
    `SELECT lake_digest, load_format, load_id FROM "${RAW_PARTITIONS_TABLE}" WHERE entity = ? AND processing_date = ?`,
    [entity, ds],
  );
  if (!record || record.load_format !== loadFormat(entity)) return undefined;
  const rows = await db.get<{ n: number; first: number | null; last: number | null }>(
    `SELECT count(*) AS n, min(rowid) AS first, max(rowid) AS last FROM "${entity}" WHERE processing_date = ?`,
    [ds],
  );
  return { loadId: record.load_id, digest: record.lake_digest, rows: rows?.n ?? 0, first: rows?.first ?? null, last: rows?.last ?? null };
}

/**
 * The latest raw partition of `entity` before `ds` that a load may copy from, or undefined: none, one
 * loaded in another format or by an earlier version, or one whose lake partition is gone or was
 * rewritten since (an erasure rewrites it). `db` must not be in a transaction: the reads are one.
 */
export async function readPreviousPartition(db: Queryable, lakeDir: string, entity: Entity, ds: string): Promise<PreviousPartition | undefined> {
  await db.run('BEGIN');
  let previous: PreviousPartition | undefined;
  try {
    previous = await readInSnapshot(db, lakeDir, entity, ds);
  } catch (err) {
    await db.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  await db.run('COMMIT');
  return previous;
}

async function readInSnapshot(db: Queryable, lakeDir: string, entity: Entity, ds: string): Promise<PreviousPartition | undefined> {
  const latest = await db.get<{ ds: string | null }>(`SELECT max(processing_date) AS ds FROM "${entity}" WHERE processing_date < ?`, [ds]);
  const previous = latest?.ds;
  if (!previous) return undefined;
  const stamp = await stampOf(db, entity, previous);
  if (!stamp || stamp.rows === 0) return undefined;
  let manifest: LakeManifest;
  try {
    manifest = await readManifest(lakeDir, entity, previous);
  } catch (err) {
    if (err instanceof LakePartitionError) return undefined;
    throw err;
  }
  if (lakeDigest(manifest) !== stamp.digest) return undefined;

  const rowids = new Float64Array(manifest.rows).fill(-1);
  const idHashes = new Uint32Array(manifest.rows * 2);
  const keyHashes = new Uint32Array(manifest.rows * 2);
  // In rowid order through the processing_date index; the aggregates see the LIMITed subquery's rows in
  // its order, so the three lists line up.
  for (let after = Number.MIN_SAFE_INTEGER, seen = 0; seen < stamp.rows; ) {
    const chunk = await db.get<{ n: number; last: number; rowids: string; lines: string; ids: string }>(
      `SELECT count(*) AS n, max(r) AS last, group_concat(r) AS rowids, group_concat(l) AS lines, json_group_array(id) AS ids FROM (` +
        `SELECT rowid AS r, ifnull("${LAKE_LINE_COLUMN}", -1) AS l, id FROM "${entity}" WHERE processing_date = ? AND rowid > ? ORDER BY rowid LIMIT ${CHUNK_ROWS})`,
      [previous, after],
    );
    if (!chunk || chunk.n === 0) break;
    const r = chunk.rowids.split(',');
    const l = chunk.lines.split(',');
    const ids = JSON.parse(chunk.ids) as string[];
    for (let i = 0; i < chunk.n; i++) {
      const line = Number(l[i]);
      // A row without its line (loaded before lines were kept), or two rows of one line: copy nothing.
      if (!(line >= 0 && line < manifest.rows) || rowids[line] !== -1) return undefined;
      // An id with a lone surrogate reads back as U+FFFD: its hash is not the parsed line's, so the
      // repeated-id check could not see it. Such a line is prepared.
      if (ids[i].includes('\uFFFD')) continue;
      rowids[line] = Number(r[i]);
      IdHashSet.hash(ids[i], idHashes, line * 2);
      IdHashSet.hash(normalise(ids[i]), keyHashes, line * 2);
    }
    seen += chunk.n;
    after = chunk.last;
  }
  return { entity, ds: previous, manifest, rowids, idHashes, keyHashes, stamp };
}

/** True when the partition is as {@link readPreviousPartition} read it (checked under the write lock). */
export async function unchangedSince(db: Queryable, previous: PreviousPartition): Promise<boolean> {
  const now = await stampOf(db, previous.entity, previous.ds);
  const then = previous.stamp;
  return now !== undefined && now.loadId === then.loadId && now.rows === then.rows && now.first === then.first && now.last === then.last;
}
