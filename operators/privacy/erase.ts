/**
 * Erasure of personal data (GDPR art. 17): the personal fields an entity declares (operators/entities.ts)
 * are nulled, for the given business keys, everywhere the pipeline keeps them: every lake partition
 * (rewritten in place, operators/lake/rewrite.ts), the raw table, `rejects` and the PII satellite
 * (`sat_<hub>_pii`, its hashdiff kept so its history still reads as it was). Each erasure is recorded in
 * `erasures` by hash key and time, nothing personal; the entity's `raw_partitions` records go, so the next
 * load copies no row a previous partition held. The same on a SQLite and a PostgreSQL warehouse;
 * how each removes the rows' old versions is the warehouse's (Warehouse.purgeOldVersions). Nothing else changes: marts hold no personal data,
 * and the main satellite keeps what they read. Why it is built this way: docs/design/personal-data.md.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ENTITY_SPECS, type Entity } from '../entities.js';
import { decodeLines } from '../lake/lines.js';
import { MANIFEST_FILE } from '../lake/manifest.js';
import { readLakeBlocks } from '../lake/reader.js';
import { rewritePartition } from '../lake/rewrite.js';
import { hashKey } from '../load/hashing.js';
import { RAW_PARTITIONS_TABLE } from '../load/rawPartitions.js';
import { validateRow } from '../load/validation.js';
import { dialectOf } from '../sql/dialect/dialectOf.js';
import type { Dialect } from '../sql/dialect/Dialect.js';
import type { Queryable, WarehouseSession } from '../warehouse/interfaces.js';
import { isSqliteFile, openWarehouse } from '../warehouse/registry.js';
import { UnknownIdError } from './UnknownIdError.js';

/** The table recording erasures. */
export const ERASURES_TABLE = 'erasures';

/** What {@link erasePersonalData} needs. */
export interface EraseOptions {
  /** The entity whose rows are erased; it must declare personal fields. */
  readonly entity: Entity;
  /** Business keys (the source's ids), as given. */
  readonly ids: readonly string[];
  readonly lakeDir: string;
  /** The warehouse: a SQLite file or a PostgreSQL URL (registry.ts warehouseOf). */
  readonly warehouse: string;
  /** When the erasure happens: an audit record's time, never data logic. */
  readonly now: Date;
}

/** What was erased for one key. */
export interface KeyErasure {
  readonly id: string;
  readonly hashKey: string;
  /** Lake lines whose personal fields were nulled, and the partitions they were in. */
  readonly lakeLines: number;
  readonly lakePartitions: number;
  /** Raw table rows nulled. */
  readonly rawRows: number;
  /** Rejects rewritten. */
  readonly rejects: number;
  /** PII satellite versions nulled (with those of a main satellite made before the PII satellite, which still has personal columns). */
  readonly satelliteVersions: number;
}

/** The outcome of one erasure command. */
export interface ErasureReport {
  readonly entity: Entity;
  /** The PII satellite's table. */
  readonly satellite: string;
  /** Per key given (keys given twice once), in the order given. */
  readonly keys: readonly KeyErasure[];
  /** False when the old row versions could not be removed at once (SQLite: a reader held the WAL, whose old page images stay until the next checkpoint). */
  readonly walEmptied: boolean;
}

/** True when the erasure changed something for this key. */
export function changedAnything(k: KeyErasure): boolean {
  return k.lakeLines + k.rawRows + k.rejects + k.satelliteVersions > 0;
}

/** Where an entity's personal data lives and how it is keyed. */
interface Layout {
  readonly entity: Entity;
  readonly businessKey: string;
  readonly personal: readonly string[];
  readonly hashKeyColumn: string;
  readonly hub: string;
  readonly satellite: string;
  /** The main satellite: holds personal columns only when made before the PII satellite existed. */
  readonly mainSatellite: string;
}

function layoutOf(entity: Entity): Layout {
  const spec = ENTITY_SPECS[entity];
  if (spec.personal.length === 0) throw new RangeError(`entity '${entity}' declares no personal fields: nothing to erase`);
  return { entity, businessKey: spec.businessKey, personal: spec.personal, hashKeyColumn: `hk_${spec.hub}`, hub: `hub_${spec.hub}`, satellite: `sat_${spec.hub}_pii`, mainSatellite: `sat_${spec.hub}` };
}

/** One parsed row of the entity that belongs to a key being erased. */
interface Match {
  readonly hashKey: string;
  readonly row: Record<string, unknown>;
  /** Some personal field still holds a value. */
  readonly dirty: boolean;
}

/** The row of `text` when it is a JSON object of one of `keys`. */
function matchRow(layout: Layout, keys: ReadonlySet<string>, text: string): Match | undefined {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return undefined;
  const r = row as Record<string, unknown>;
  const id = r[layout.businessKey];
  if (id === null || id === undefined) return undefined;
  const hk = hashKey(id);
  if (!keys.has(hk)) return undefined;
  return { hashKey: hk, row: r, dirty: layout.personal.some((f) => r[f] !== null && r[f] !== undefined) };
}

/** The row with its personal fields null (present ones only, so the line keeps its fields and their order). */
function nulled(layout: Layout, row: Record<string, unknown>): Record<string, unknown> {
  const out = { ...row };
  for (const f of layout.personal) if (f in out) out[f] = null;
  return out;
}

/** The ds of every complete lake partition of the entity. */
async function lakePartitions(lakeDir: string, entity: string): Promise<string[]> {
  const dir = path.join(lakeDir, entity);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => /^ds=(\d{4}-\d{2}-\d{2})$/.exec(n)?.[1])
    .filter((ds): ds is string => ds !== undefined && existsSync(path.join(dir, `ds=${ds}`, MANIFEST_FILE)))
    .sort();
}

/** Per partition, the keys found in it and whether any of their lines still holds personal data. */
async function scanLake(layout: Layout, lakeDir: string, keys: ReadonlySet<string>): Promise<{ found: Set<string>; dirty: string[] }> {
  const found = new Set<string>();
  const dirty: string[] = [];
  for (const ds of await lakePartitions(lakeDir, layout.entity)) {
    let partitionDirty = false;
    for await (const block of readLakeBlocks(lakeDir, layout.entity, ds, { linesPerBlock: 1000 })) {
      for (const line of decodeLines(block.bytes)) {
        const m = matchRow(layout, keys, line);
        if (!m) continue;
        found.add(m.hashKey);
        partitionDirty ||= m.dirty;
      }
    }
    if (partitionDirty) dirty.push(ds);
  }
  return { found, dirty };
}

/** The columns of `table`; none when it does not exist. */
async function columnsOf(db: Queryable, dialect: Dialect, table: string): Promise<Set<string>> {
  return new Set((await db.all<{ name: string }>(dialect.tableColumns(table))).map((c) => c.name));
}

async function tableExists(db: Queryable, dialect: Dialect, table: string): Promise<boolean> {
  return (await columnsOf(db, dialect, table)).size > 0;
}

/** Keys per statement: well below SQLite's bound-parameter limit. */
const KEYS_PER_STATEMENT = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += KEYS_PER_STATEMENT) out.push(items.slice(i, i + KEYS_PER_STATEMENT));
  return out;
}

/** Which of `keys` the warehouse knows: in the hub, the raw table or an earlier erasure (each table read once). */
async function knownInWarehouse(layout: Layout, db: Queryable, dialect: Dialect, keys: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  const probes: [string, string][] = [
    [layout.hub, layout.hashKeyColumn],
    [layout.entity, layout.hashKeyColumn],
    [ERASURES_TABLE, 'hash_key'],
  ];
  for (const [table, column] of probes) {
    const left = keys.filter((k) => !known.has(k));
    if (left.length === 0 || !(await tableExists(db, dialect, table))) continue;
    for (const chunk of chunks(left)) {
      const found = await db.all<{ hk: string }>(`SELECT DISTINCT "${column}" AS hk FROM "${table}" WHERE "${column}" IN (${chunk.map(() => '?').join(', ')})`, chunk);
      for (const f of found) known.add(f.hk);
    }
  }
  return known;
}

/**
 * Nulls the personal fields of the keys' rows of `table` that still hold one, in one pass over the table
 * per 500 keys; returns the rows changed per key. Only the columns the table has: a main satellite made
 * before the PII satellite existed still has them.
 */
async function nullRows(layout: Layout, session: WarehouseSession, dialect: Dialect, table: string, keys: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const columns = await columnsOf(session, dialect, table);
  const personal = layout.personal.filter((f) => columns.has(f));
  if (personal.length === 0 || !columns.has(layout.hashKeyColumn)) return counts;
  const set = personal.map((f) => `"${f}" = NULL`).join(', ');
  const held = personal.map((f) => `"${f}" IS NOT NULL`).join(' OR ');
  const hk = `"${layout.hashKeyColumn}"`;
  for (const chunk of chunks(keys)) {
    const changed = await session.all<{ hk: string }>(
      `UPDATE "${table}" SET ${set} WHERE ${hk} IN (${chunk.map(() => '?').join(', ')}) AND (${held}) RETURNING ${hk} AS hk`,
      chunk,
    );
    for (const c of changed) counts.set(c.hk, (counts.get(c.hk) ?? 0) + 1);
  }
  return counts;
}

/**
 * Rewrites the rejects of the keys: their raw JSON with the personal fields null, and a reason about a
 * personal field reworded by today's validation, which never quotes such a value. Rejects that are no
 * JSON object, or lack the key, cannot be told apart and stay (docs/design/personal-data.md).
 * A reject is found again by its own text, not a row id (PostgreSQL has no stable one): rejects alike in
 * source, raw JSON and reason are rewritten alike, so one update serves them all.
 */
async function eraseRejects(layout: Layout, session: WarehouseSession, dialect: Dialect, keys: ReadonlySet<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!(await tableExists(session, dialect, 'rejects'))) return counts;
  const rows = await session.all<{ raw_json: string; reason: string }>('SELECT DISTINCT raw_json, reason FROM rejects WHERE source = ?', [layout.entity]);
  for (const r of rows) {
    const m = matchRow(layout, keys, r.raw_json);
    if (!m?.dirty) continue;
    const aboutPersonal = layout.personal.some((f) => r.reason.startsWith(`${f}:`));
    const verdict = aboutPersonal ? validateRow(layout.entity, m.row) : undefined;
    const reason = verdict && !verdict.ok ? verdict.reason : r.reason;
    const changed = await session.run('UPDATE rejects SET raw_json = ?, reason = ? WHERE source = ? AND raw_json = ? AND reason = ?', [
      JSON.stringify(nulled(layout, m.row)),
      reason,
      layout.entity,
      r.raw_json,
      r.reason,
    ]);
    counts.set(m.hashKey, (counts.get(m.hashKey) ?? 0) + changed.changes);
  }
  return counts;
}

/** Records that `hk`'s personal data was erased at `now`: the hash key and the time, nothing personal. */
async function recordErasure(session: WarehouseSession, entity: Entity, hk: string, now: Date): Promise<void> {
  await session.exec(`CREATE TABLE IF NOT EXISTS "${ERASURES_TABLE}" ("entity" TEXT NOT NULL, "hash_key" TEXT NOT NULL, "erased_at" TEXT NOT NULL)`);
  await session.run(`INSERT INTO "${ERASURES_TABLE}" (entity, hash_key, erased_at) VALUES (?, ?, ?)`, [entity, hk, now.toISOString()]);
}

/**
 * Erases the personal fields of `ids` (see the module comment). Throws {@link UnknownIdError} naming
 * the ids found nowhere, before changing anything. Erasing again what holds no personal data any more
 * changes nothing and records nothing. Not meant to run while an ingest of the same entity runs: a
 * load committing rows read before the lake was rewritten would bring them back until the next erasure.
 */
export async function erasePersonalData(opts: EraseOptions): Promise<ErasureReport> {
  const layout = layoutOf(opts.entity);
  const byKey = new Map<string, string>();
  for (const id of opts.ids) if (!byKey.has(hashKey(id))) byKey.set(hashKey(id), id);
  const keys = new Set(byKey.keys());

  const lake = await scanLake(layout, opts.lakeDir, keys);
  // A warehouse file is not created to look for keys in it.
  const exists = !isSqliteFile(opts.warehouse) || existsSync(opts.warehouse);
  const warehouse = exists ? await openWarehouse(opts.warehouse) : undefined;
  const known = warehouse ? await knownInWarehouse(layout, warehouse, dialectOf(warehouse), [...keys]) : new Set<string>();
  const unknown = [...byKey].filter(([hk]) => !known.has(hk) && !lake.found.has(hk)).map(([, id]) => id);
  if (unknown.length > 0) throw new UnknownIdError(layout.entity, unknown);

  const lakeLines = new Map<string, number>();
  const lakeParts = new Map<string, Set<string>>();
  for (const ds of lake.dirty) {
    await rewritePartition(opts.lakeDir, layout.entity, ds, (line) => {
      const m = matchRow(layout, keys, line.toString('utf8'));
      if (!m?.dirty) return undefined;
      lakeLines.set(m.hashKey, (lakeLines.get(m.hashKey) ?? 0) + 1);
      (lakeParts.get(m.hashKey) ?? lakeParts.set(m.hashKey, new Set()).get(m.hashKey)!).add(ds);
      return Buffer.from(JSON.stringify(nulled(layout, m.row)), 'utf8');
    });
  }

  let keyErasures: KeyErasure[] = [...byKey].map(([hk, id]) => ({
    id, hashKey: hk, lakeLines: lakeLines.get(hk) ?? 0, lakePartitions: lakeParts.get(hk)?.size ?? 0, rawRows: 0, rejects: 0, satelliteVersions: 0,
  }));
  // Only the lake may have held them: the record still goes to the warehouse, made for it.
  const db = warehouse ?? (keyErasures.some(changedAnything) ? await openWarehouse(opts.warehouse) : undefined);
  if (!db) return { entity: layout.entity, satellite: layout.satellite, keys: keyErasures, walEmptied: true };
  const dialect = dialectOf(db);
  keyErasures = await db.transaction(async (session) => {
    // SQLite: freed bytes of the rows rewritten are zeroed, not left in the file's free space.
    if (db.kind === 'sqlite') await session.run('PRAGMA secure_delete = ON');
    const rejects = await eraseRejects(layout, session, dialect, keys);
    const raw = await nullRows(layout, session, dialect, layout.entity, [...keys]);
    const satellite = await nullRows(layout, session, dialect, layout.satellite, [...keys]);
    const mainSatellite = await nullRows(layout, session, dialect, layout.mainSatellite, [...keys]);
    // The raw rows no longer are what their lake lines load as: the next load must not copy them.
    if (await tableExists(session, dialect, RAW_PARTITIONS_TABLE)) await session.run(`DELETE FROM "${RAW_PARTITIONS_TABLE}" WHERE entity = ?`, [layout.entity]);
    const out: KeyErasure[] = [];
    for (const k of keyErasures) {
      const done: KeyErasure = {
        ...k,
        rawRows: raw.get(k.hashKey) ?? 0,
        rejects: rejects.get(k.hashKey) ?? 0,
        satelliteVersions: (satellite.get(k.hashKey) ?? 0) + (mainSatellite.get(k.hashKey) ?? 0),
      };
      if (changedAnything(done)) await recordErasure(session, layout.entity, k.hashKey, opts.now);
      out.push(done);
    }
    return out;
  });
  // The updated rows' earlier versions still hold the values: removed, not left to a later vacuum.
  const tables = ['rejects', layout.entity, layout.satellite, layout.mainSatellite];
  const walEmptied = keyErasures.some(changedAnything) ? await db.purgeOldVersions(tables) : true;
  return { entity: layout.entity, satellite: layout.satellite, keys: keyErasures, walEmptied };
}
