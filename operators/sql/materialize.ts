/**
 * Runs one model against the warehouse with the run's parameters bound, as its materialization says.
 * Every write is one transaction: a reader sees the old partition or the new one, never a mix.
 */
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
export async function select<T extends object = Record<string, unknown>>(db: Sequelize, sql: string, params: RunParams, dialect: Dialect = sqliteDialect): Promise<T[]> {
  const names = parameterNames(sql);
  const bind: Record<string, string> = {};
  for (const n of names) {
    if (params[n] === undefined) throw new ModelError(`parameter ':${n}' has no value`, '?', n);
    bind[n] = params[n];
  }
  return db.query<T>(toPlaceholders(sql, dialect), { bind: names.length > 0 ? bind : undefined, type: QueryTypes.SELECT, raw: true });
}

const columnName = (definition: string) => definition.trim().split(/\s+/)[0];

/** Creates the model's table and indexes if missing; recreates it when its columns changed. */
async function ensureTable(db: Sequelize, model: Model, t: Transaction, dialect: Dialect = sqliteDialect): Promise<void> {
  const cols = model.shape.columns!;
  const existing = (await db.query(`PRAGMA table_info(${model.name})`, { transaction: t, type: QueryTypes.SELECT, raw: true })) as { name: string }[];
  const wanted = cols.map(columnName);
  if (existing.length > 0 && existing.map((c) => c.name).join(',') !== wanted.join(',')) {
    await db.query(`DROP TABLE ${model.name}`, { transaction: t });
  }
  const hasPk = (model.shape.primaryKey?.length ?? 0) > 0;
  const pk = hasPk ? `, PRIMARY KEY (${model.shape.primaryKey!.join(', ')})` : '';
  await db.query(`CREATE TABLE IF NOT EXISTS ${model.name} (${cols.join(', ')}${pk})${hasPk ? dialect.primaryKeyTableSuffix : ''}`, { transaction: t });
  await createIndexes(db, model, t);
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
      case 'incremental':
        await ensureTable(db, model, t);
        for (const stmt of model.statements) inserted += await execute(db, stmt, params, opts(t));
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
