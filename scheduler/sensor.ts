/**
 * Sensors in reschedule mode (Airflow's BaseSensorOperator with mode='reschedule'): a task whose
 * attempt pokes a condition once. Met: success. Not met: the instance goes `up_for_reschedule` with its
 * next poke time, its executor slot free and its try given back (reschedules are not tries), until
 * `timeoutS` after its first poke, when it fails with SensorTimeoutError (or skips, `softFail`).
 * A poke that throws is an ordinary failure with the task's retries.
 *
 * The first poke's time is kept on the instance (first_poke_at) and measured on the executor's clock,
 * which tests set; the poke interval is on the wall clock, as retry delays are, since it decides when
 * an instance is due.
 */
import { DagDefinitionError } from './errors/DagDefinitionError.js';
import { SensorTimeoutError } from './errors/SensorTimeoutError.js';
import { TaskSkippedError } from './errors/TaskSkippedError.js';
import type { PokeFn, SensorEnv, SensorOptions, TaskContext, TaskSpec } from './interfaces.js';

/** Airflow's poke_interval default. */
export const DEFAULT_POKE_INTERVAL_S = 60;
/** Airflow's sensor timeout default: seven days. */
export const DEFAULT_SENSOR_TIMEOUT_S = 7 * 24 * 3600;

/** What sensor() takes: a task spec whose work is `poke`. */
export type SensorSpec<U extends string = string> = Omit<TaskSpec<U>, 'run' | 'sensor'> & {
  /** The condition: true when met. */
  readonly poke: PokeFn;
  /** Seconds between pokes. Default 60. */
  readonly pokeIntervalS?: number;
  /** Seconds from the first poke until a poke that says no fails the sensor. Default 7 days. */
  readonly timeoutS?: number;
  /** Skip instead of failing at the timeout. Default false. */
  readonly softFail?: boolean;
};

/** An env without metadata: `tasks test` and other callers outside an executor. */
export const NO_SENSOR_ENV: SensorEnv = {
  runSucceeded: () => Promise.reject(new Error('this poke reads the metadata database: run it in the daemon or a backfill')),
  successfulUntil: () => Promise.reject(new Error('this poke reads the metadata database: run it in the daemon or a backfill')),
};

/**
 * A sensor task: `wait: sensor({ poke: fileExists('/in/{ds}/_SUCCESS'), pokeIntervalS: 300, timeoutS: 6 * 3600 })`.
 * The sensor's `timeoutS` bounds the whole wait; each poke still runs under the DAG's attempt timeout.
 */
export function sensor<U extends string = never>(spec: SensorSpec<U>): TaskSpec<U> {
  const { poke, pokeIntervalS, timeoutS, softFail, ...rest } = spec;
  if (typeof poke !== 'function') throw new DagDefinitionError('sensor(): poke must be a function');
  const options: SensorOptions = {
    poke,
    pokeIntervalS: positive(pokeIntervalS ?? DEFAULT_POKE_INTERVAL_S, 'pokeIntervalS'),
    timeoutS: positive(timeoutS ?? DEFAULT_SENSOR_TIMEOUT_S, 'timeoutS'),
    softFail: softFail ?? false,
  };
  // run pokes once: what `tasks test` calls; the executor calls pokeOnce with its metadata instead.
  return { ...rest, sensor: options, run: async (ctx) => pokeOnce(options, ctx, NO_SENSOR_ENV) };
}

function positive(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new DagDefinitionError(`sensor(): invalid ${what} '${String(value)}'`);
  return value;
}

/**
 * One poke, its answer in the attempt's log when `logged` (a batched call logs its pokes' answers
 * together instead, attempt.ts): each poke appends to the try's log file.
 */
export async function pokeOnce(options: SensorOptions, ctx: TaskContext, env: SensorEnv, logged = true): Promise<boolean> {
  const met = (await options.poke(ctx, env)) === true;
  if (logged) ctx.log.info(met ? 'poke: condition met' : 'poke: condition not met yet');
  return met;
}

/** What becomes of a poke that said no. */
export type NotMetDecision =
  /** Poke again at `nextPokeAtMs` (wall clock); `firstPokeAt` (executor clock) stays on the row. */
  | { readonly kind: 'reschedule'; readonly nextPokeAtMs: number; readonly firstPokeAt: number }
  /** The timeout has passed: the attempt ends with this error (failed, or skipped with softFail). */
  | { readonly kind: 'timeout'; readonly error: SensorTimeoutError | TaskSkippedError };

/**
 * The decision for a poke that said no. `firstPokeAt` is the stored first poke (null on the first),
 * `clockMs` the executor's clock now, `wallMs` the wall clock now.
 */
export function notMetDecision(taskId: string, options: SensorOptions, firstPokeAt: number | null, clockMs: number, wallMs: number): NotMetDecision {
  const first = firstPokeAt ?? clockMs;
  if (clockMs - first >= options.timeoutS * 1000) {
    const error = new SensorTimeoutError(taskId, options.timeoutS);
    return { kind: 'timeout', error: options.softFail ? new TaskSkippedError(error.message) : error };
  }
  return { kind: 'reschedule', nextPokeAtMs: wallMs + Math.round(options.pokeIntervalS * 1000), firstPokeAt: first };
}
