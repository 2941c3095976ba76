/**
 * Runs data tests: each is SQL returning the offending rows, so a passing test returns none.
 * Tests are bound the same run parameters as the models they check (a daily mart's test only looks
 * at the partitions its run wrote).
 */
import type { Queryable, Warehouse } from '../warehouse/interfaces.js';
import type { Logger } from '../../scheduler/interfaces.js';
import type { Dialect } from './dialect/Dialect.js';
import { dialectOf } from './dialect/dialectOf.js';
import { select, tuneConnection } from './materialize.js';
import type { RunParams } from './params.js';
import type { DataTest } from './registry.js';

/** Rows shown per failing test. */
export const SAMPLE_ROWS = 5;

/** The outcome of one data test. */
export interface DataTestResult {
  readonly name: string;
  readonly severity: 'error' | 'warn';
  /** Offending rows. */
  readonly failures: number;
  /** Up to {@link SAMPLE_ROWS} of them. */
  readonly samples: readonly Record<string, unknown>[];
}

/** Runs `tests` (rendered for the warehouse's dialect) in order and logs each; never throws for failures (the caller decides). */
export function runDataTests(warehouse: Warehouse, tests: readonly DataTest[], params: RunParams, log: Logger): Promise<DataTestResult[]> {
  const dialect = dialectOf(warehouse);
  // One read transaction: every test sees the same snapshot, on a connection tuned like the models'
  // (the dialect's transaction settings). A read transaction does not wait behind the process's
  // writers, nor they behind it.
  return warehouse.transaction(
    async (db) => {
      await tuneConnection(db, dialect);
      return runAll(db, tests, params, log, dialect);
    },
    { write: false },
  );
}

async function runAll(db: Queryable, tests: readonly DataTest[], params: RunParams, log: Logger, dialect: Dialect): Promise<DataTestResult[]> {
  const results: DataTestResult[] = [];
  for (const t of tests) {
    const started = Date.now();
    const [{ n }] = await select<{ n: number }>(db, `SELECT count(*) AS n FROM (${t.sql}) AS offending`, params, dialect);
    const samples = n > 0 ? await select(db, `SELECT * FROM (${t.sql}) AS offending LIMIT ${SAMPLE_ROWS}`, params, dialect) : [];
    const result: DataTestResult = { name: t.name, severity: t.severity, failures: n, samples };
    results.push(result);
    const ms = Date.now() - started;
    if (n === 0) log.info(`data test ${t.name}: pass (${ms} ms)`, { test: t.name, ms });
    else {
      const line = `data test ${t.name}: ${n} offending row(s)${t.severity === 'warn' ? ' (warning only)' : ''}; sample: ${JSON.stringify(samples)}`;
      if (t.severity === 'warn') log.warn(line, { test: t.name, failures: n, samples });
      else log.error(line, { test: t.name, failures: n, samples });
    }
  }
  return results;
}
