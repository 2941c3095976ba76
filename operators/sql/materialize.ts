/**
 * Runs one model against the warehouse with the run's parameters bound, as its materialization says.
 * Every write is one transaction: a reader sees the old partition or the new one, never a mix.
 */
import { createHash } from 'node:crypto';
import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { Dialect } from './dialect/Dialect.js';
import { sqliteDialect } from './dialect/sqlite.js';
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
  readonly ms: number;
}

/** Executes one statement with only the parameters it uses bound. */
export async function execute(
  db: Sequelize,
  sql: string,
  params: RunParams,
  opts: { transaction?: Transaction; dialect?: Dialect; model?: string } = {},
): Promise<number> {
  const names = parameterNames(sql);
  const bind: Record<string, string> = {};
  for (const n of names) {
    if (params[n] === undefined) throw new ModelError(`model '${opts.model ?? '?'}': parameter ':${n}' has no value`, opts.model ?? '?', n);
    bind[n] = params[n];
  }
  const text = toPlaceholders(sql, opts.dialect ?? sqliteDialect);
  const common = { bind: names.length > 0 ? bind : undefined, transaction: opts.transaction, raw: true };
  // Sequelize reports changed rows for DELETE only as BULKDELETE, and for INSERT in the RAW metadata.
  if (/^\s*delete\b/i.test(text)) return (await db.query(text, { ...common, type: QueryTypes.BULKDELETE })) as unknown as number;
  const [, meta] = (await db.query(text, { ...common, type: QueryTypes.RAW })) as [unknown, { changes?: number } | undefined];
  return meta?.changes ?? 0;
}

/** Runs a SELECT with bound parameters and returns its rows. */
export async function select<T extends object = Record<string, unknown>>(
  db: Sequelize,
  sql: string,
  params: RunParams,
  dialect: Dialect = sqliteDialect,
  transaction?: Transaction,
): Promise<T[]> {
  const names = parameterNames(sql);
  const bind: Record<string, string> = {};
  for (const n of names) {
    if (params[n] === undefined) throw new ModelError(`parameter ':${n}' has no value`, '?', n);
    bind[n] = params[n];
  }
  return db.query<T>(toPlaceholders(sql, dialect), { bind: names.length > 0 ? bind : undefined, type: QueryTypes.SELECT, raw: true, transaction });
}

const columnName = (definition: string) => definition.trim().split(/\s+/)[0];

/**
 * Creates the model's table and indexes if missing; recreates it when its columns changed. Returns
 * true when the table is new (a keyed model then builds it whole: it has no state to update).
 */
async function ensureTable(db: Sequelize, model: Model, t: Transaction, dialect: Dialect = sqliteDialect): Promise<boolean> {
  const cols = model.shape.columns!;
  const existing = (await db.query(`PRAGMA table_info(${model.name})`, { transaction: t, type: QueryTypes.SELECT, raw: true })) as { name: string }[];
  const wanted = cols.map(columnName);
  const stale = existing.length > 0 && existing.map((c) => c.name).join(',') !== wanted.join(',');
  if (stale) await db.query(`DROP TABLE ${model.name}`, { transaction: t });
  const hasPk = (model.shape.primaryKey?.length ?? 0) > 0;
  const pk = hasPk ? `, PRIMARY KEY (${model.shape.primaryKey!.join(', ')})` : '';
  await db.query(`CREATE TABLE IF NOT EXISTS ${model.name} (${cols.join(', ')}${pk})${hasPk ? dialect.primaryKeyTableSuffix : ''}`, { transaction: t });
  await createIndexes(db, model, t);
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

async function ensureStateTables(db: Sequelize, t: Transaction): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${LOAD_LOG} (seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, load_date TEXT NOT NULL, inserted INTEGER NOT NULL)`, { transaction: t });
  await db.query(`CREATE TABLE IF NOT EXISTS ${MODEL_STATE} (model TEXT PRIMARY KEY, definition TEXT NOT NULL, seq INTEGER NOT NULL)`, { transaction: t });
}

/** The parameter prefix a keyed model's changed-keys query uses for an upstream's new load dates: `:loads__sat_car`. */
export const LOADS_PARAM_PREFIX = 'loads__';

/**
 * A keyed model: the table equals its SELECT (statement 1) at all times. A first run, a new table or
 * a changed SELECT (its hash differs) builds it whole; later runs delete and re-insert only the keys statement 2 returns: the keys
 * whose upstream rows changed in the loads since the table's last run, bound as JSON arrays of load
 * dates (`:loads__sat_car`). Upstream tables are insert-only, so no other key's rows can differ.
 */
async function runKeyed(db: Sequelize, model: Model, params: RunParams, t: Transaction): Promise<{ deleted: number; inserted: number }> {
  const opts = { transaction: t, model: model.name };
  const isNew = await ensureTable(db, model, t);
  await ensureStateTables(db, t);
  const cols = model.shape.columns!.map(columnName).join(', ');
  const pk = model.shape.primaryKey!;
  const [{ seq: head }] = (await db.query(`SELECT coalesce(max(seq), 0) AS seq FROM ${LOAD_LOG}`, { transaction: t, type: QueryTypes.SELECT, raw: true })) as { seq: number }[];
  const definition = createHash('sha256').update(model.statements.join(';\n')).digest('hex');
  const state = (await db.query(`SELECT seq FROM ${MODEL_STATE} WHERE model = ? AND definition = ?`, {
    replacements: [model.name, definition],
    transaction: t,
    type: QueryTypes.SELECT,
    raw: true,
  })) as { seq: number }[];
  let deleted = 0;
  let inserted = 0;
  if (isNew || state.length === 0) {
    await dropIndexes(db, model, t);
    deleted = await execute(db, `DELETE FROM ${model.name}`, params, opts);
    inserted = await execute(db, `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (${model.statements[0]}) AS m ORDER BY ${pk.join(', ')}`, params, opts);
    await createIndexes(db, model, t);
  } else if (state[0].seq < head) {
    const since = state[0].seq;
    const loads: Record<string, string> = {};
    for (const name of parameterNames(model.statements[1])) {
      if (!name.startsWith(LOADS_PARAM_PREFIX)) continue;
      const rows = (await db.query(`SELECT DISTINCT load_date FROM ${LOAD_LOG} WHERE model = ? AND seq > ? ORDER BY load_date`, {
        replacements: [name.slice(LOADS_PARAM_PREFIX.length), since],
        transaction: t,
        type: QueryTypes.SELECT,
        raw: true,
      })) as { load_date: string }[];
      loads[name] = JSON.stringify(rows.map((r) => r.load_date));
    }
    const all = { ...params, ...loads };
    // The changed keys, once, in key order: the delete and the insert probe the table by them.
    await db.query('DROP TABLE IF EXISTS temp._changed_keys', { transaction: t });
    await execute(db, `CREATE TEMP TABLE _changed_keys AS SELECT DISTINCT * FROM (${model.statements[1]}) ORDER BY 1`, all, opts);
    const key = pk[0];
    deleted = await execute(db, `DELETE FROM ${model.name} WHERE ${key} IN (SELECT * FROM temp._changed_keys)`, all, opts);
    inserted = await execute(
      db,
      `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (${model.statements[0]}) AS m WHERE m.${key} IN (SELECT * FROM temp._changed_keys) ORDER BY ${pk.join(', ')}`,
      all,
      opts,
    );
    await db.query('DROP TABLE temp._changed_keys', { transaction: t });
  }
  await db.query(`INSERT INTO ${MODEL_STATE} (model, definition, seq) VALUES (?, ?, ?) ON CONFLICT (model) DO UPDATE SET definition = excluded.definition, seq = excluded.seq`, {
    replacements: [model.name, definition, head],
    transaction: t,
  });
  return { deleted, inserted };
}

function indexName(model: Model, idx: readonly string[]): string {
  return `${model.name}__${idx.join('__')}`;
}

async function createIndexes(db: Sequelize, model: Model, t: Transaction): Promise<void> {
  for (const idx of model.shape.indexes ?? []) {
    await db.query(`CREATE INDEX IF NOT EXISTS ${indexName(model, idx)} ON ${model.name} (${idx.join(', ')})`, { transaction: t });
  }
}

/** Rebuilding a whole table: indexes are dropped first and built once after, by sorting, not row by row. */
async function dropIndexes(db: Sequelize, model: Model, t: Transaction): Promise<void> {
  for (const idx of model.shape.indexes ?? []) await db.query(`DROP INDEX IF EXISTS ${indexName(model, idx)}`, { transaction: t });
}

/**
 * Per-connection cache for set-based work on million-row tables: SQLite's 2 MB default makes
 * random-key index inserts (hash keys) thrash. Set on the transaction's own connection.
 */
export async function tuneConnection(db: Sequelize, t?: Transaction): Promise<void> {
  await db.query('PRAGMA cache_size = -262144', { transaction: t });
  // Reads through the OS page cache instead of copying pages into SQLite's: hash-key probes are random.
  await db.query('PRAGMA mmap_size = 4294967296', { transaction: t });
}

/** Runs `model` once with `params`; one transaction. */
export async function runModel(db: Sequelize, model: Model, params: RunParams): Promise<ModelRunResult> {
  const started = Date.now();
  let deleted = 0;
  let inserted = 0;
  const opts = (transaction: Transaction) => ({ transaction, model: model.name });
  await db.transaction({ type: Transaction.TYPES.IMMEDIATE }, async (t) => {
    await tuneConnection(db, t);
    const cfg = model.config;
    switch (cfg.materialized) {
      case 'view':
        await db.query(`DROP VIEW IF EXISTS ${model.name}`, { transaction: t });
        await execute(db, `CREATE VIEW ${model.name} AS ${model.statements[0]}`, params, opts(t));
        break;
      case 'table': {
        // Emptied and refilled inside one transaction rather than built aside and renamed: readers see
        // the old rows or the new ones all the same, and SQLite's ALTER TABLE RENAME re-checks every
        // view, which fails while a view refers to the table being swapped out.
        await ensureTable(db, model, t);
        const cols = model.shape.columns!.map(columnName).join(', ');
        await dropIndexes(db, model, t);
        deleted = await execute(db, `DELETE FROM ${model.name}`, params, opts(t));
        const order = model.shape.primaryKey?.length ? ` ORDER BY ${model.shape.primaryKey.join(', ')}` : '';
        inserted = await execute(db, `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (${model.statements[0]}) AS m${order}`, params, opts(t));
        await createIndexes(db, model, t);
        break;
      }
      case 'incremental': {
        // A first load into a new table fills it before its secondary indexes exist: each is then
        // built once by sorting, not by a million random inserts.
        const isNew = await ensureTable(db, model, t);
        if (isNew) await dropIndexes(db, model, t);
        for (const stmt of model.statements) inserted += await execute(db, stmt, params, opts(t));
        if (isNew) await createIndexes(db, model, t);
        if (inserted > 0) {
          await ensureStateTables(db, t);
          await db.query(`INSERT INTO ${LOAD_LOG} (model, load_date, inserted) VALUES (?, ?, ?)`, { replacements: [model.name, params.load_date ?? '', inserted], transaction: t });
        }
        break;
      }
      case 'keyed':
        ({ deleted, inserted } = await runKeyed(db, model, params, t));
        break;
      case 'partition': {
        await ensureTable(db, model, t);
        const cols = model.shape.columns!.map(columnName).join(', ');
        const key = cfg.partitionColumn!;
        // The run's partition and every later one (the projection); nothing before it is touched.
        const from = cfg.partitionBy === 'month' ? ':start_month' : ':start_day';
        deleted = await execute(db, `DELETE FROM ${model.name} WHERE ${key} >= ${from}`, params, opts(t));
        inserted = await execute(
          db,
          `INSERT INTO ${model.name} (${cols}) SELECT ${cols} FROM (${model.statements[0]}) AS m WHERE m.${key} >= ${from}`,
          params,
          opts(t),
        );
        break;
      }
    }
  });
  return { model: model.name, materialized: model.config.materialized, deleted, inserted, ms: Date.now() - started };
}
