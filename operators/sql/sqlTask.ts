/**
 * Task factories for DAG files: `modelTask('marts/infleeted_cars_volumes')` runs one model,
 * `dataTestTask([...])` runs data tests. Both read the warehouse named by the run's settings and
 * derive every parameter from the run's interval(s).
 */
import type { TaskContext, TaskFn } from '../../scheduler/interfaces.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { openWarehouse, warehouseOf } from '../warehouse/registry.js';
import { dialectOf } from './dialect/dialectOf.js';
import { runDataTests } from './dataTests.js';
import { runModel, type ModelRunResult } from './materialize.js';
import { intervalsOf, paramsFor } from './params.js';
import { ModelRegistry } from './registry.js';

/** Options of the task factories. */
export interface SqlTaskOptions {
  /** The models; default: the repository's sql/ folder. */
  readonly registry?: ModelRegistry;
  /** The warehouse (a SQLite file or a PostgreSQL URL); default: the settings' (warehouseOf). */
  readonly warehouseFile?: string;
}

let cached: ModelRegistry | undefined;

/** The repository's models, loaded once per process. */
export function defaultRegistry(): ModelRegistry {
  cached ??= ModelRegistry.load();
  return cached;
}

/**
 * Runs one model. A partition, table or keyed model covers all of ctx.intervals in one call (the range
 * from the first interval on), which is exactly what one call per interval in order would leave; an
 * incremental (vault) model loads each interval's raw partition in order.
 */
export function modelTask(name: string, opts: SqlTaskOptions = {}): TaskFn {
  const registry = opts.registry ?? defaultRegistry();
  registry.model(name); // fail at DAG load for an unknown model, not at run time
  return async (ctx: TaskContext): Promise<ModelRunResult[]> => {
    const db = await openWarehouse(opts.warehouseFile ?? warehouseOf(ctx.settings), ctx.settings.warehouse);
    const model = registry.forDialect(dialectOf(db)).model(name);
    const intervals = intervalsOf(ctx);
    const calls = model.config.materialized === 'incremental' ? intervals.map((iv) => [iv]) : [intervals];
    const results: ModelRunResult[] = [];
    for (const ivs of calls) {
      ctx.signal?.throwIfAborted();
      const params = paramsFor(ivs);
      const r = await runModel(db, model, params);
      // The write lock is the warehouse's (one writer on SQLite): the wait for it says a model was
      // slow because others wrote, not because of its own SQL.
      const prepared = r.prepareMs > 0 ? `prepared in ${r.prepareMs} ms, ` : '';
      const fresh = r.freshOnly.length > 0 ? `; read only the rows not copied from the previous partition of ${r.freshOnly.join(', ')}` : '';
      ctx.log.info(
        `model ${model.name} (${r.materialized}): ${r.deleted} deleted, ${r.inserted} inserted in ${r.ms} ms (${prepared}waited ${r.ms - r.prepareMs - r.writeMs} ms for the writer, wrote in ${r.writeMs} ms)${fresh}`,
        { ...params, ...r },
      );
      results.push(r);
    }
    return results;
  };
}

/** Alias of {@link modelTask}, named like the operator. */
export const sqlTask = modelTask;

/**
 * Runs data tests with the call's parameters; any failing test of severity 'error' fails the task
 * without retries (the data will not change by retrying), naming each failing test and its count.
 */
export function dataTestTask(names: readonly string[], opts: SqlTaskOptions = {}): TaskFn {
  const registry = opts.registry ?? defaultRegistry();
  names.forEach((n) => registry.test(n)); // fail at DAG load for an unknown test
  return async (ctx: TaskContext) => {
    const db = await openWarehouse(opts.warehouseFile ?? warehouseOf(ctx.settings), ctx.settings.warehouse);
    const forDb = registry.forDialect(dialectOf(db));
    const tests = names.map((n) => forDb.test(n));
    const results = await runDataTests(db, tests, paramsFor(intervalsOf(ctx)), ctx.log);
    const failed = results.filter((r) => r.failures > 0 && r.severity === 'error');
    if (failed.length > 0) {
      throw new NonRetryableError(`${failed.length} data test(s) failed: ${failed.map((r) => `${r.name} (${r.failures} rows)`).join(', ')}`);
    }
    return { passed: results.filter((r) => r.failures === 0).length, warned: results.filter((r) => r.failures > 0).length };
  };
}
