/**
 * Pokes on other DAGs' runs, and the metadata reads behind them. They read the metadata through the
 * SensorEnv the executor hands each poke, so a DAG file never holds the database.
 */
import type { PokeFn, SensorEnv } from './interfaces.js';
import type { MetadataDb } from './metadata/db.js';
import { dbDate } from './runIds.js';

/** Met when DAG `dagId`'s run of the same data interval as the sensor's run has succeeded (Airflow's ExternalTaskSensor on a DAG). */
export function dagSucceeded(dagId: string): PokeFn {
  return (ctx, env) => env.runSucceeded(dagId, { start: ctx.dataIntervalStart, end: ctx.dataIntervalEnd });
}

/**
 * Met when DAG `dagId` has a successful run whose data interval ends at or after the sensor's run's
 * end: its data is complete that far, whatever its schedule. The sensor a `waitFor` entry becomes.
 */
export function dagCaughtUp(dagId: string): PokeFn {
  return async (ctx, env) => {
    const until = await env.successfulUntil(dagId);
    return until !== null && until.getTime() >= ctx.dataIntervalEnd.getTime();
  };
}

/** The SensorEnv of an executor: each read in its own read transaction, outside the scheduler's turns. */
export function metadataSensorEnv(db: MetadataDb): SensorEnv {
  return {
    runSucceeded: (dagId, interval) => db.read((sql) => db.statements.runSucceededFor(sql, dagId, dbDate(interval.start), dbDate(interval.end))),
    async successfulUntil(dagId) {
      const until = await db.read((sql) => db.statements.successfulUntil(sql, dagId));
      return until === null ? null : new Date(until);
    },
  };
}
