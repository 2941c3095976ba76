/**
 * The raw layer's tables: cars, customers, subscriptions (the source's fields as received,
 * processing_date, and the vault's hash columns) and rejects, with their processing_date indexes,
 * created idempotently. The source's `id` is not a key here: every day's snapshot holds the same ids.
 * (The DDL is what the Sequelize models that used to define these tables created, so files made then
 * and now are alike.)
 */
import { ENTITIES, type Entity } from '../entities.js';
import type { Warehouse, WarehouseSession } from '../warehouse/interfaces.js';
import { LAKE_LINE_COLUMN, rawColumns } from './fields.js';
import { RAW_PARTITION_LOAD_COLUMNS, RAW_PARTITIONS_DDL, RAW_PARTITIONS_TABLE } from './rawPartitions.js';


const ready = new WeakMap<Warehouse, Promise<void>>();

/** A raw column's type; `kind` picks the engine's name of an 8-byte float (PostgreSQL's REAL has 4). */
function columnType(column: string, kind: Warehouse['kind']): string {
  if (column === 'id' || column === 'processing_date') return 'TEXT NOT NULL';
  if (column === LAKE_LINE_COLUMN) return 'INTEGER';
  if (column !== 'monthly_rate') return 'TEXT';
  return kind === 'postgres' ? 'DOUBLE PRECISION' : 'REAL';
}

/** The statements creating the raw tables and their indexes where missing. */
export function rawTablesDdl(kind: Warehouse['kind'] = 'sqlite'): string {
  const statements = ENTITIES.flatMap((entity) => [
    `CREATE TABLE IF NOT EXISTS "${entity}" (${rawColumns(entity).map((c) => `"${c}" ${columnType(c, kind)}`).join(', ')})`,
    `CREATE INDEX IF NOT EXISTS "${entity}_processing_date" ON "${entity}" ("processing_date")`,
  ]);
  // SQLite's implicit integer rowid is the rejects' row number; no other key is wanted (PostgreSQL: none).
  statements.push(
    'CREATE TABLE IF NOT EXISTS "rejects" ("source" TEXT NOT NULL, "processing_date" TEXT NOT NULL, "raw_json" TEXT NOT NULL, "reason" TEXT NOT NULL)',
    'CREATE INDEX IF NOT EXISTS "rejects_source_processing_date" ON "rejects" ("source", "processing_date")',
    RAW_PARTITIONS_DDL,
  );
  return statements.join(';\n');
}

/**
 * Adds the vault columns a raw table made by an earlier version lacks (the PII hashdiff came with the
 * PII satellite), and the columns `raw_partitions` gained; the next load of a partition fills them.
 */
async function addMissingColumns(session: WarehouseSession, kind: Warehouse['kind']): Promise<void> {
  for (const entity of ENTITIES) {
    const have = new Set((await session.all<{ name: string }>(columnsOf(entity, kind))).map((c) => c.name));
    for (const c of rawColumns(entity)) if (!have.has(c)) await session.run(`ALTER TABLE "${entity}" ADD COLUMN "${c}" ${columnType(c, kind)}`);
  }
  // A record's later columns came with the vault loads that skip copied rows; NULL says nothing.
  const have = new Set((await session.all<{ name: string }>(columnsOf(RAW_PARTITIONS_TABLE, kind))).map((c) => c.name));
  for (const [c, type] of Object.entries(RAW_PARTITION_LOAD_COLUMNS)) {
    if (!have.has(c)) await session.run(`ALTER TABLE "${RAW_PARTITIONS_TABLE}" ADD COLUMN "${c}" ${type}`);
  }
}

/** A query of the names of `table`'s columns. */
function columnsOf(table: string, kind: Warehouse['kind']): string {
  return kind === 'postgres'
    ? `SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '${table}'`
    : `SELECT name FROM pragma_table_info('${table}')`;
}

/** Creates the raw tables of `warehouse` on first use in this process (idempotent). */
export function ensureRawTables(warehouse: Warehouse): Promise<void> {
  let p = ready.get(warehouse);
  if (!p) {
    p = warehouse.transaction(async (session) => {
      await session.exec(rawTablesDdl(warehouse.kind));
      await addMissingColumns(session, warehouse.kind);
    });
    ready.set(warehouse, p);
    p.catch(() => ready.delete(warehouse));
  }
  return p;
}
