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

export const RAW_PARTITIONS_DDL =
  `CREATE TABLE IF NOT EXISTS "${RAW_PARTITIONS_TABLE}" ("entity" TEXT NOT NULL, "processing_date" TEXT NOT NULL, ` +
  `"lake_digest" TEXT NOT NULL, "load_format" TEXT NOT NULL, "load_id" TEXT NOT NULL, PRIMARY KEY ("entity", "processing_date"))`;

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
