/**
 * `_drivetrain_vault_runs`: one row per run of a vault model with staged reads (a hub, link or
 * satellite on SQLite), written in its transaction: which raw loads it read, its definition, whether it
 * was clean, and which reads skipped copied rows. What the next run reads to decide whether it may
 * skip them (copiedRows.ts); an operator reads it to see what each load read.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../warehouse/interfaces.js';
import type { Dialect } from './dialect/Dialect.js';
import type { RunParams } from './params.js';
import type { Model } from './registry.js';

export const VAULT_RUNS = '_drivetrain_vault_runs';

const VAULT_RUNS_DDL =
  `CREATE TABLE IF NOT EXISTS ${VAULT_RUNS} (seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, ds TEXT NOT NULL, ` +
  `load_date TEXT NOT NULL, definition TEXT NOT NULL, inputs TEXT NOT NULL, clean INTEGER NOT NULL, fresh_only TEXT NOT NULL)`;

/** A model's run as recorded. */
export interface VaultRun {
  readonly seq: number;
  /** The raw partitions' date it read, and its load_date. */
  readonly ds: string;
  readonly load_date: string;
  /** {@link modelDefinition} then. */
  readonly definition: string;
  /** JSON: per raw table read, the load_id of its partition (null: none recorded). */
  readonly inputs: string;
  /** 1 when its table held no row of its load_date or later before it ({@link isClean}). */
  readonly clean: number;
}

/** What a model's loads insert follows from: its statements, its staged reads and its columns. */
export function modelDefinition(model: Model): string {
  const text = JSON.stringify([model.statements, (model.staging ?? []).map((s) => [s.sql, s.freshSql]), model.shape.columns]);
  return createHash('sha256').update(text).digest('hex');
}

/** The model's latest recorded run, if any. */
export async function lastRun(db: Queryable, dialect: Dialect, model: Model): Promise<VaultRun | undefined> {
  if ((await db.all(dialect.tableColumns(VAULT_RUNS))).length === 0) return undefined;
  return db.get<VaultRun>(`SELECT seq, ds, load_date, definition, inputs, clean FROM ${VAULT_RUNS} WHERE model = ? ORDER BY seq DESC LIMIT 1`, [model.name]);
}

/**
 * True when the model's table holds no row of the run's load_date or later: what the run inserts then
 * is all a load of its partition gives (nothing dropped by ON CONFLICT DO NOTHING), and nothing later exists.
 */
export async function isClean(db: Queryable, model: Model, params: RunParams): Promise<boolean> {
  if (!model.shape.columns?.some((c) => c.trim().split(/\s+/)[0] === 'load_date')) return false;
  return (await db.get(`SELECT 1 FROM ${model.name} WHERE load_date >= ? LIMIT 1`, [params.load_date])) === undefined;
}

/** What a run read: per raw table, the load_id of its partition; and which reads skipped copied rows. */
export interface RunInputs {
  readonly inputs: Readonly<Record<string, string | null>>;
  readonly freshOnly: readonly string[];
}

/** Records the run, in its transaction. */
export async function recordRun(db: Queryable, model: Model, params: RunParams, read: RunInputs, clean: boolean): Promise<void> {
  await db.run(VAULT_RUNS_DDL);
  await db.run(`INSERT INTO ${VAULT_RUNS} (model, ds, load_date, definition, inputs, clean, fresh_only) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
    model.name,
    params.ds ?? '',
    params.load_date ?? '',
    modelDefinition(model),
    JSON.stringify(read.inputs),
    clean ? 1 : 0,
    JSON.stringify(read.freshOnly),
  ]);
}
