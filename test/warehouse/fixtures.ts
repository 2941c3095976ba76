/**
 * Test set-up for the warehouse: raw tables shaped and hashed exactly as the load writes them
 * (operators/load/hashing.ts), and runners that execute a DAG's model tasks in order, as the
 * scheduler would (their contexts come from the test kit's testTaskContext).
 */
import { hashKey, vaultColumns } from '../../operators/load/hashing.js';
import { modelTaskSpecs } from '../../operators/sql/dagTasks.js';
import { selectionOf, type PipelineDag } from '../../dags/_pipeline.js';
import { rawTablesDdl } from '../../operators/load/models.js';
import { dialectOf } from '../../operators/sql/dialect/dialectOf.js';
import { openWarehouse, warehouseOf } from '../../operators/warehouse/registry.js';
import type { DataInterval } from '../../scheduler/interfaces.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { testTaskContext } from '../helpers/taskContext.js';
import type { Entity } from '../../operators/entities.js';
import type { Settings } from '../../scheduler/settings.js';

export type Row = Record<string, string | number | null>;

/** Source fields per entity, in the contract's order. */
export const SOURCE_FIELDS: Record<Entity, readonly string[]> = {
  cars: ['id', 'vin', 'brand', 'model', 'engine_type', 'license_plate', 'registration_date', 'deregistration_date'],
  customers: ['id', 'first_name', 'second_name', 'type', 'company_name', 'address_city', 'address_zip', 'address_street', 'address_street_house'],
  subscriptions: ['id', 'customer_id', 'car_id', 'created_at', 'start_date', 'term_month', 'monthly_rate'],
};

const VAULT_FIELDS: Record<Entity, readonly string[]> = {
  cars: ['hk_car', 'hashdiff'],
  customers: ['hk_customer', 'hashdiff', 'hashdiff_pii'],
  subscriptions: ['hk_subscription', 'hk_customer', 'hk_car', 'hk_subscription_link', 'hashdiff'],
};

/** What openWarehouse opens for these settings (a SQLite file, or a PostgreSQL URL), re-exported for tests. */
export { warehouseOf };

/** The raw tables of the contract, as the load creates them. */
export async function createRawTables(file: string): Promise<void> {
  const db = await openWarehouse(file);
  await db.exec(rawTablesDdl(db.kind));
}

/** Replaces the raw partition processing_date = ds of `entity` with `rows`, hashed as the load does. */
export async function writeRaw(file: string, entity: Entity, ds: string, rows: readonly Row[]): Promise<void> {
  const db = await openWarehouse(file);
  const cols = [...SOURCE_FIELDS[entity], 'processing_date', ...VAULT_FIELDS[entity]];
  await db.transaction(async (t) => {
    await t.run(`DELETE FROM ${entity} WHERE processing_date = ?`, [ds]);
    for (const row of rows) {
      const v = { ...row, processing_date: ds, ...vaultColumns(entity, row) } as Row;
      await t.run(`INSERT INTO ${entity} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, cols.map((c) => v[c] ?? null));
    }
  });
}

const utc = (day: string) => new Date(`${day}T00:00:00Z`);

/** The daily interval of `day`. */
export function dayInterval(day: string): DataInterval {
  const start = utc(day);
  return { start, end: new Date(start.getTime() + 86_400_000) };
}

/** The monthly interval of `month` ('YYYY-MM-01'). */
export function monthInterval(month: string): DataInterval {
  const start = utc(month);
  const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  return { start, end };
}

/** Runs every task of a model DAG once for `intervals` (oldest first), in topological order, as one
 * backfill call would; returns the log they share. */
export async function runModelDag(settings: Settings, dag: PipelineDag, intervals: readonly DataInterval[], opts: { skip?: string[] } = {}): Promise<RecordingLogger> {
  const log = new RecordingLogger();
  const specs = modelTaskSpecs(selectionOf(dag));
  for (const [taskId, spec] of Object.entries(specs)) {
    if (opts.skip?.includes(taskId)) continue;
    await spec.run(testTaskContext(settings, { dagId: dag, taskId, intervals, log, runType: 'backfill' }));
  }
  return log;
}

/** One source snapshot. */
export interface Snapshot {
  readonly cars: readonly Row[];
  readonly customers: readonly Row[];
  readonly subscriptions: readonly Row[];
}

/** Loads `snapshot` as the raw partitions of ds and runs the ingest DAG's vault models and tests. */
export async function ingest(settings: Settings, ds: string, snapshot: Snapshot): Promise<RecordingLogger> {
  await createRawTables(warehouseOf(settings));
  for (const e of ['cars', 'customers', 'subscriptions'] as const) await writeRaw(warehouseOf(settings), e, ds, snapshot[e]);
  return runModelDag(settings, 'ingest', [dayInterval(ds)]);
}

/** Every row of `table`, ordered by all columns, for comparing whole tables. */
export async function tableRows(file: string, table: string): Promise<Record<string, unknown>[]> {
  const db = await openWarehouse(file);
  const cols = await db.all<{ name: string }>(dialectOf(db).tableColumns(table));
  if (cols.length === 0) return [];
  return db.all(`SELECT * FROM ${table} ORDER BY ${cols.map((_, i) => i + 1).join(', ')}`);
}

/** Order-free form of a table: one JSON line per row, floats to 6 decimals (marts compared with a reference). */
export function canonical(rows: readonly object[]): string[] {
  return rows
    .map((r) => JSON.stringify(Object.values(r).map((v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(6) : v))))
    .sort();
}

/** All mart tables. */
export const MARTS = ['infleeted_cars_volumes', 'defleeted_cars_volumes', 'cars_deliveries', 'type_share', 'type_distribution'] as const;

/** Every vault, helper and mart table's rows, keyed by table (views excluded: they follow their tables). */
export async function snapshotWarehouse(file: string): Promise<Record<string, Record<string, unknown>[]>> {
  const tables = [
    'hub_car', 'hub_customer', 'hub_subscription', 'link_subscription', 'sat_car', 'sat_customer', 'sat_customer_pii', 'sat_subscription',
    'car_timeline', 'customer_profile', 'subscription_timeline', ...MARTS,
  ];
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of tables) out[t] = await tableRows(file, t);
  return out;
}

/** Hash key of one business key, as the load computes it (re-exported for tests). */
export { hashKey };
