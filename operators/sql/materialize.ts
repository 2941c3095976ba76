/**
 * Runs one model against the warehouse with the run's parameters bound, as its materialization says.
 * Every write is one transaction: a reader sees the old partition or the new one, never a mix.
 */
import { createHash } from 'node:crypto';
import type { Queryable, Warehouse } from '../warehouse/interfaces.js';
import type { Dialect } from './dialect/Dialect.js';
import { dialectOf } from './dialect/dialectOf.js';
import { sqliteDialect } from './dialect/sqlite.js';
import { planStaging, type StagingPlan } from './copiedRows.js';
import { isClean, recordRun } from './vaultRuns.js';
import { ModelError } from './ModelError.js';
import type { RunParams } from './params.js';
import type { Model } from './registry.js';
import { parameterNames, toPlaceholders } from './template.js';

/** What one model run did. */
export interface ModelRunResult {
  readonly model: string;
  readonly materialized: string;
  /** Rows deleted (partition) or removed by the rebuild (table). */
  readonly deleted: number;
  /** Rows inserted. */
  readonly inserted: number;
  /** The raw tables of which this vault load read only the rows their load did not copy (copiedRows.ts). */
  readonly freshOnly: readonly string[];
  /** The whole run: its prepare step, the wait for the warehouse's write lock, and the write. */
  readonly ms: number;
  /** Of `ms`, the staged reads before the write transaction (0 without them). */
  readonly prepareMs: number;
  /** Of `ms`, the write transaction once it held the write lock; the rest was the wait for it. */
  readonly writeMs: number;
}

/**
 * The values of the parameters `sql` uses, keyed by the dialect's placeholder (`$start_day`, as
 * node-sqlite3 wants named values); a parameter without a value is a ModelError naming it.
 */
function bindings(sql: string, params: RunParams, dialect: Dialect, model: string | undefined): Record<string, string> {
  const bind: Record<string, string> = {};
  for (const n of parameterNames(sql)) {
    if (params[n] === undefined) throw new ModelError(`${model ? `model '${model}': ` : ''}parameter ':${n}' has no value`, model ?? '?', n);
    bind[dialect.placeholder(n)] = params[n];
  }
  return bind;
}

/** Executes one statement with only the parameters it uses bound; returns the rows it changed. */
export async function execute(db: Queryable, sql: string, params: RunParams, opts: { dialect?: Dialect; model?: string } = {}): Promise<number> {
  const dialect = opts.dialect ?? sqliteDialect;
  const bind = bindings(sql, params, dialect, opts.model);
  return (await db.run(toPlaceholders(sql, dialect), bind)).changes;
}

/** Runs a SELECT with bound parameters and returns its rows. */
export function select<T extends object = Record<string, unknown>>(db: Queryable, sql: string, params: RunParams, dialect: Dialect = sqliteDialect): Promise<T[]> {
  const bind = bindings(sql, params, dialect, undefined);
  return db.all<T>(toPlaceholders(sql, dialect), bind);
}

const columnName = (definition: string) => definition.trim().split(/\s+/)[0];

/**
 * Creates the model's table and indexes if missing; recreates it when its columns changed. Returns
 * true when the table is new (a keyed model then builds it whole: it has no state to update).
 */
async function ensureTable(db: Queryable, model: Model, dialect: Dialect): Promise<boolean> {
  const cols = model.shape.columns!.map((c) => dialect.columnDefinition(c));
  const existing = await db.all<{ name: string }>(dialect.tableColumns(model.name));
  const wanted = cols.map(columnName);
  const stale = existing.length > 0 && existing.map((c) => c.name).join(',') !== wanted.join(',');
  if (stale) await db.run(`DROP TABLE ${model.name}`);
  const hasPk = (model.shape.primaryKey?.length ?? 0) > 0;
  const pk = hasPk ? `, PRIMARY KEY (${model.shape.primaryKey!.join(', ')})` : '';
  await db.run(`CREATE TABLE IF NOT EXISTS ${model.name} (${cols.join(', ')}${pk})${hasPk ? dialect.primaryKeyTableSuffix : ''}`);
  await createIndexes(db, model);
  return existing.length === 0 || stale;
}

/**
 * The load log: one row per incremental (vault) model run that inserted rows, in commit order (seq).
 * A keyed model reads the loads of its upstream models after the seq it last consumed, so it finds
 * every key touched since its last run, whatever the load dates' order (a re-run of an older ds too).
 */
export const LOAD_LOG = '_drivetrain_loads';
/** Per keyed model: its definition's hash and the last load-log seq its table reflects. */
export const MODEL_STATE = '_drivetrain_keyed_state';

async function ensureStateTables(db: Queryable, dialect: Dialect): Promise<void> {
  await db.run(`CREATE TABLE IF NOT EXISTS ${LOAD_LOG} (seq ${dialect.autoIncrementKey}, model TEXT NOT NULL, load_date TEXT NOT NULL, inserted INTEGER NOT NULL)`);
  await db.run(`CREATE TABLE IF NOT EXISTS ${MODEL_STATE} (model TEXT PRIMARY KEY, definition TEXT NOT NULL, seq INTEGER NOT NULL)`);
}

/** The parameter prefix a keyed model's changed-keys query uses for an upstream's new load dates: `:loads__sat_car`. */
export const LOADS_PARAM_PREFIX = 'loads__';

/**
 * A keyed model: the table equals its SELECT (statement 1) at all times. A first run, a new table or
 * a changed SELECT (its hash differs) builds it whole; later runs re-derive only the keys statement 2 returns: the keys
 * whose upstream rows changed in the loads since the table's last run, bound as JSON arrays of load
 * dates (`:loads__sat_car`). Upstream tables are insert-only, so no other key's rows can differ. Of
 * those keys, a key whose rows all come out as they are stays untouched; the others' rows are
 * deleted and inserted (the counts the run reports).
 *
 * Optional statements after the second build the same rows as statement 1 in key order, for an
 * engine without hash joins (SQLite) to build the table whole with: temporary tables sorted by each
 * joined table's key in turn, then a SELECT of the rows, so that each lookup reads the next pages of
 * the joined table instead of a random page per row. Statement 1 stays the definition, and what a run
 * re-derives its few changed keys with (docs/design/warehouse-memory.md). Their temporary tables end
 * with the transaction's connection.
 */
async function runKeyed(db: Queryable, model: Model, params: RunParams, dialect: Dialect): Promise<{ deleted: number; inserted: number }> {
  const opts = { model: model.name, dialect };
  const isNew = await ensureTable(db, model, dialect);
  await ensureStateTables(db, dialect);
  const cols = model.shape.columns!.map(columnName).join(', ');
  const pk = model.shape.primaryKey!;
  const [{ seq: head }] = await db.all<{ seq: number }>(`SELECT coalesce(max(seq), 0) AS seq FROM ${LOAD_LOG}`);
  const definition = createHash('sha256').update(model.statements.join(';\n')).digest('hex');
  const state = await db.all<{ seq: number }>(`SELECT seq FROM ${MODEL_STATE} WHERE model = ? AND definition = ?`, [model.name, definition]);
  let deleted = 0;
  let inserted = 0;
  if (isNew || state.length === 0) {
    await dropIndexes(db, model);
    deleted = await execute(db, `DELETE FROM ${model.name}`, params, opts);
    const ordered = dialect.hashJoins ? [] : model.statements.slice(2);
    for (const step of ordered.slice(0, -1)) await execute(db, step, params, opts);
    const whole = ordered.length > 0 ? ordered[ordered.length - 1] : model.statements[0];
    inserted = await execute(db, `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (${whole}) AS m ORDER BY ${pk.join(', ')}`, params, opts);
    await createIndexes(db, model);
  } else if (state[0].seq < head) {
    const since = state[0].seq;
    const loads: Record<string, string> = {};
    for (const name of parameterNames(model.statements[1])) {
      if (!name.startsWith(LOADS_PARAM_PREFIX)) continue;
      const rows = await db.all<{ load_date: string }>(`SELECT DISTINCT load_date FROM ${LOAD_LOG} WHERE model = ? AND seq > ? ORDER BY load_date`, [
        name.slice(LOADS_PARAM_PREFIX.length),
        since,
      ]);
      loads[name] = JSON.stringify(rows.map((r) => r.load_date));
    }
    const all = { ...params, ...loads };
    const changed = dialect.tempTable('_changed_keys');
    const fresh = dialect.tempTable('_changed_rows');
    // The changed keys, once, in key order: the delete and the insert probe the table by them.
    await db.run(`DROP TABLE IF EXISTS ${changed}`);
    await db.run(`DROP TABLE IF EXISTS ${fresh}`);
    await execute(db, `CREATE TEMP TABLE _changed_keys AS SELECT DISTINCT * FROM (${model.statements[1]}) AS k ORDER BY 1`, all, opts);
    const key = pk[0];
    // Their rows as the SELECT gives them now; only those that differ from the table's are written.
    // A key whose upstream rows changed often keeps its row (a subscription repriced: the timeline
    // holds no price), and each row written costs a probe of every index at a random page.
    // Declared as the table's columns (types and collations), so a value compares as it would be stored.
    await db.run(`CREATE TEMP TABLE _changed_rows (${model.shape.columns!.join(', ')})`);
    await execute(db, `INSERT INTO ${fresh} (${cols}) SELECT ${cols} FROM (${model.statements[0]}) AS m WHERE m.${key} IN (SELECT * FROM ${changed})`, all, opts);
    const current = `SELECT ${cols} FROM ${model.name} WHERE ${key} IN (SELECT * FROM ${changed})`;
    // Set difference (EXCEPT) compares NULLs as equal, so a row with a NULL is not rewritten either.
    deleted = await execute(db, `DELETE FROM ${model.name} WHERE ${key} IN (SELECT ${key} FROM (${current} EXCEPT SELECT ${cols} FROM ${fresh}) AS gone)`, all, opts);
    inserted = await execute(
      db,
      `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (SELECT ${cols} FROM ${fresh} EXCEPT ${current}) AS m ORDER BY ${pk.join(', ')}`,
      all,
      opts,
    );
    await db.run(`DROP TABLE ${changed}`);
    await db.run(`DROP TABLE ${fresh}`);
  }
  await db.run(`INSERT INTO ${MODEL_STATE} (model, definition, seq) VALUES (?, ?, ?) ON CONFLICT (model) DO UPDATE SET definition = excluded.definition, seq = excluded.seq`, [
    model.name,
    definition,
    head,
  ]);
  return { deleted, inserted };
}

function indexName(model: Model, idx: readonly string[]): string {
  return `${model.name}__${idx.join('__')}`;
}

async function createIndexes(db: Queryable, model: Model): Promise<void> {
  for (const idx of model.shape.indexes ?? []) {
    await db.run(`CREATE INDEX IF NOT EXISTS ${indexName(model, idx)} ON ${model.name} (${idx.join(', ')})`);
  }
}

/**
 * Rebuilding a whole table: indexes are dropped first and built once after, by sorting, not row by
 * row; `keep` names those the rows fill in order anyway (TableShape.appendedIndexes).
 */
async function dropIndexes(db: Queryable, model: Model, keep: readonly (readonly string[])[] = []): Promise<void> {
  const kept = new Set(keep.map((idx) => indexName(model, idx)));
  for (const idx of model.shape.indexes ?? []) {
    if (!kept.has(indexName(model, idx))) await db.run(`DROP INDEX IF EXISTS ${indexName(model, idx)}`);
  }
}

/**
 * The dialect's settings for set-based work on large tables (PostgreSQL: sort memory; SQLite: none,
 * its page cache and memory map are the warehouse's settings, SqliteWarehouse.ts), local to the
 * transaction, so they end with it.
 */
export async function tuneConnection(db: Queryable, dialect: Dialect = sqliteDialect): Promise<void> {
  for (const statement of dialect.transactionSettings) await db.run(statement);
}

/** What a materialization wrote; a vault load with staged reads also says which raw tables it read only the fresh rows of. */
type Counts = { deleted: number; inserted: number; freshOnly?: readonly string[] };

/**
 * Emptied and refilled inside one transaction rather than built aside and renamed: readers see the old
 * rows or the new ones all the same, and SQLite's ALTER TABLE RENAME re-checks every view, which fails
 * while a view refers to the table being swapped out.
 */
async function runTable(db: Queryable, model: Model, params: RunParams, dialect: Dialect): Promise<Counts> {
  const opts = { model: model.name, dialect };
  await ensureTable(db, model, dialect);
  const cols = model.shape.columns!.map(columnName).join(', ');
  await dropIndexes(db, model);
  const deleted = await execute(db, `DELETE FROM ${model.name}`, params, opts);
  const order = model.shape.primaryKey?.length ? ` ORDER BY ${model.shape.primaryKey.join(', ')}` : '';
  const inserted = await execute(db, `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (${model.statements[0]}) AS m${order}`, params, opts);
  await createIndexes(db, model);
  return { deleted, inserted };
}

/**
 * An insert-only (vault) model. A first load into a new table fills it before its secondary indexes
 * exist: each is then built once by sorting, not by a million random inserts. An index the load
 * appends to in order (a hub's or satellite's by load date) stays: a million appends cost less than
 * sorting them (a hub of 1M keys: 0.55-0.81 s of CPU against 0.92-0.96 s).
 */
async function runIncremental(db: Queryable, model: Model, params: RunParams, dialect: Dialect, staged?: StagingPlan): Promise<Counts> {
  const isNew = await ensureTable(db, model, dialect);
  // The staged reads' choice, checked under the write lock: anything it rested on changed since, and
  // they are staged again here, as the choice is now (copiedRows.ts).
  let plan = staged;
  if (staged) {
    plan = await planStaging(db, dialect, model, params, isNew);
    if (plan.basis !== staged.basis) {
      for (const read of model.staging!) await db.run(`DROP TABLE IF EXISTS ${dialect.tempTable(read.table)}`);
      for (const stmt of plan.statements) await execute(db, stmt, params, { model: model.name, dialect });
    }
  }
  const clean = plan !== undefined && (isNew || (await isClean(db, model, params)));
  if (isNew) await dropIndexes(db, model, model.shape.appendedIndexes);
  let inserted = 0;
  for (const stmt of model.statements) inserted += await execute(db, stmt, params, { model: model.name, dialect });
  if (isNew) await createIndexes(db, model);
  if (inserted > 0) {
    await ensureStateTables(db, dialect);
    await db.run(`INSERT INTO ${LOAD_LOG} (model, load_date, inserted) VALUES (?, ?, ?)`, [model.name, params.load_date ?? '', inserted]);
  }
  if (plan) await recordRun(db, model, params, plan, clean);
  return { deleted: 0, inserted, freshOnly: plan?.freshOnly };
}

/** The temporary table a staged partition model's rows are computed into before its write transaction. */
const STAGED_ROWS = '_staged_partition_rows';

/** The SELECT of a partition model's rows: the run's partition and every later one. */
function partitionRows(model: Model): string {
  const cols = model.shape.columns!.map(columnName).join(', ');
  const from = model.config.partitionBy === 'month' ? ':start_month' : ':start_day';
  return `SELECT ${cols} FROM (${model.statements[0]}) AS m WHERE m.${model.config.partitionColumn!} >= ${from}`;
}

/**
 * The run's partition and every later one (the projection); nothing before it is touched. A staged
 * model's rows are already in temp.{@link STAGED_ROWS} (runModel's prepare step).
 */
async function runPartition(db: Queryable, model: Model, params: RunParams, dialect: Dialect, staged = false): Promise<Counts> {
  const opts = { model: model.name, dialect };
  await ensureTable(db, model, dialect);
  const cols = model.shape.columns!.map(columnName).join(', ');
  const key = model.config.partitionColumn!;
  const from = model.config.partitionBy === 'month' ? ':start_month' : ':start_day';
  const deleted = await execute(db, `DELETE FROM ${model.name} WHERE ${key} >= ${from}`, params, opts);
  const rows = staged ? `SELECT ${cols} FROM temp.${STAGED_ROWS}` : partitionRows(model);
  const inserted = await execute(db, `INSERT INTO ${model.name} (${cols}) ${rows}`, params, opts);
  if (staged) await db.run(`DROP TABLE temp.${STAGED_ROWS}`);
  return { deleted, inserted };
}

async function runView(db: Queryable, model: Model, params: RunParams, dialect: Dialect): Promise<Counts> {
  await db.run(`DROP VIEW IF EXISTS ${model.name}`);
  await execute(db, `CREATE VIEW ${model.name} AS ${model.statements[0]}`, params, { model: model.name, dialect });
  return { deleted: 0, inserted: 0 };
}

const MATERIALIZATIONS = { view: runView, table: runTable, incremental: runIncremental, keyed: runKeyed, partition: runPartition } as const;

/** Runs `model` (rendered for the warehouse's dialect: ModelRegistry.forDialect) once with `params`; one transaction. */
export async function runModel(warehouse: Warehouse, model: Model, params: RunParams): Promise<ModelRunResult> {
  const started = performance.now();
  const dialect = dialectOf(warehouse);
  // A staged partition model's rows, computed before the write transaction like a vault load's sorts.
  const stagedRows = model.config.staged && dialect.stagedReads;
  const stagedReads = model.config.materialized === 'incremental' && (model.staging?.length ?? 0) > 0;
  let plan: StagingPlan | undefined;
  let prepareMs = 0;
  // A vault load's staged sorts (Dialect.stagedReads) fill the temporary tables its statements read,
  // before its write transaction and on the same connection: SQLite runs them beside another writer.
  const stage = async (db: Queryable): Promise<readonly string[]> => {
    if (!stagedReads) return [`CREATE TEMP TABLE ${STAGED_ROWS} AS ${partitionRows(model)}`];
    const exists = (await db.all(dialect.tableColumns(model.name))).length > 0;
    plan = await planStaging(db, dialect, model, params, !exists);
    return plan.statements;
  };
  const prepare =
    !stagedReads && !stagedRows
      ? undefined
      : async (db: Queryable) => {
          const from = performance.now();
          for (const stmt of await stage(db)) await execute(db, stmt, params, { model: model.name, dialect });
          prepareMs = performance.now() - from;
        };
  let writeStarted = started;
  const { deleted, inserted, freshOnly } = await warehouse.transaction(
    async (db): Promise<Counts> => {
      writeStarted = performance.now();
      await tuneConnection(db, dialect);
      if (stagedRows) return runPartition(db, model, params, dialect, true);
      if (model.config.materialized === 'incremental') return runIncremental(db, model, params, dialect, plan);
      return MATERIALIZATIONS[model.config.materialized](db, model, params, dialect);
    },
    { prepare },
  );
  const ended = performance.now();
  return {
    model: model.name,
    materialized: model.config.materialized,
    deleted,
    inserted,
    freshOnly: freshOnly ?? [],
    ms: Math.round(ended - started),
    prepareMs: Math.round(prepareMs),
    writeMs: Math.round(ended - writeStarted),
  };
}
