/**
 * Every public type of Drivetrain's scheduler, in one place.
 *
 * DAG files, operators and the CLI import from here; nothing here imports the
 * metadata database, so operators stay ignorant of the scheduler's tables.
 */
import type { z } from 'zod';
import type { Settings } from './settings.js';
import type { TriggerRule } from './triggerRules.js';

export type { Settings } from './settings.js';
export type { TriggerRule } from './triggerRules.js';

/** A small structured logger: the only logging surface operators see. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** The source of "now". Data logic never calls it; only run creation does. Tests pass a fixed one. */
export interface Clock {
  now(): Date;
}

/** Airflow's presets, or a 5-field cron expression; null means manual triggers only. */
export type Schedule = '@once' | '@hourly' | '@daily' | '@weekly' | '@monthly' | '@yearly' | (string & {}) | null;

/** A half-open data interval [start, end) in UTC. */
export interface DataInterval {
  /** Inclusive start; equals the run's logical date. */
  readonly start: Date;
  /** Exclusive end; a scheduled run is created only once this has passed. */
  readonly end: Date;
}

/** How a DAG run came to be. */
export type RunType = 'scheduled' | 'manual' | 'backfill';

/** Lifecycle of a DAG run. */
export type DagRunState = 'queued' | 'running' | 'success' | 'failed';

/** Lifecycle of one task instance (a task in one DAG run). */
export type TaskInstanceState =
  | 'queued'
  | 'running'
  | 'success'
  | 'failed'
  | 'up_for_retry'
  /** A sensor whose condition was not met yet: its slot is free until the next poke (next_retry_at). */
  | 'up_for_reschedule'
  | 'upstream_failed'
  | 'skipped';

/** What a task's function receives: the run's interval, never the wall clock. */
export interface TaskContext {
  /** The DAG's id. */
  readonly dagId: string;
  /** The task's id within its DAG. */
  readonly taskId: string;
  /** The DAG run's id, e.g. `scheduled__2024-01-01T00:00:00+00:00`. */
  readonly runId: string;
  /** 1 on the first attempt, counting every attempt including those lost to a crash. */
  readonly tryNumber: number;
  /** The run's logical date (= data interval start). */
  readonly logicalDate: Date;
  /** The logical date as `YYYY-MM-DD` (UTC). */
  readonly ds: string;
  /** Start of the run's data interval (inclusive). */
  readonly dataIntervalStart: Date;
  /** End of the run's data interval (exclusive). */
  readonly dataIntervalEnd: Date;
  /** The logical date's month as `YYYY-MM-01`; the partition key of monthly runs. */
  readonly month: string;
  /**
   * The consecutive data intervals this call covers, oldest first. Length 1, the run's own interval,
   * unless the task is `batch: true` and a backfill handed it several runs at once; the task must then
   * write exactly what one call per interval would have written.
   */
  readonly intervals: readonly DataInterval[];
  /** Aborted on timeout or shutdown; long work must check it. */
  readonly signal: AbortSignal;
  /** Writes to this attempt's log file. */
  readonly log: Logger;
  /** The resolved settings of this process. */
  readonly settings: Settings;
  /** The run's params: its conf (`dags trigger --conf`) validated by the DAG's `params` schema, defaults filled in. */
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * The result (return value) an upstream task stored in this run; undefined when it returned nothing
   * or was skipped. A mapped upstream's is an array: each instance's result in map-index order.
   * Throws NotAnUpstreamError for a task that is not an upstream of this one.
   */
  upstream(taskId: string): unknown;
  /** A mapped instance's place in its task's expanded list, from 0; -1 when the task is not mapped. */
  readonly mapIndex: number;
  /** A mapped instance's value from its task's expanded list; undefined when not mapped. */
  readonly mapValue: unknown;
  /** A mapped instance's label (see TaskSpec.mapLabel); undefined when not mapped. */
  readonly mapLabel: string | undefined;
}

/** A mapped task's list, computed at run time (Airflow's expand): one instance per value. */
export type ExpandFn = (ctx: TaskContext) => readonly unknown[] | Promise<readonly unknown[]>;

/**
 * The work of a task. Its resolved value is its result: logged, stored as JSON (64 KB at most) and
 * handed to downstream tasks (`ctx.upstream`). A rejection fails the attempt; a TaskSkippedError skips it.
 */
export type TaskFn = (ctx: TaskContext) => unknown | Promise<unknown>;

/** What a sensor's poke may read besides its context: other DAGs' runs in the metadata (dagSucceeded). */
export interface SensorEnv {
  /** True when DAG `dagId` has a successful run of exactly this data interval. */
  runSucceeded(dagId: string, interval: DataInterval): Promise<boolean>;
  /** The latest data-interval end of DAG `dagId`'s successful runs; null when it has none. */
  successfulUntil(dagId: string): Promise<Date | null>;
}

/** A sensor's check of its condition (Airflow's poke): true when met; a throw is a normal failure. */
export type PokeFn = (ctx: TaskContext, env: SensorEnv) => boolean | Promise<boolean>;

/** What makes a task a sensor (see sensor()): polled in reschedule mode, its slot free between pokes. */
export interface SensorOptions {
  readonly poke: PokeFn;
  /** Seconds between pokes (on the wall clock, as retry delays). */
  readonly pokeIntervalS: number;
  /** Seconds from the first poke (on the executor's clock) after which a poke that says no fails it with SensorTimeoutError. */
  readonly timeoutS: number;
  /** At the timeout, skip instead of failing (Airflow's soft_fail). */
  readonly softFail: boolean;
}

/** What an alert says: the webhook's JSON body and a callback's argument (null where it does not apply). */
export interface AlertPayload {
  /** `task_retry`, `task_failed`, `dag_run_failed`, `deadline_missed`; callbacks also see `task_success`, `dag_run_success`. */
  readonly event: string;
  readonly dag_id: string;
  readonly dag_run_id: string | null;
  readonly task_id: string | null;
  /** The mapped instance's map index; -1 for an unmapped one and for run and DAG events. */
  readonly map_index: number;
  readonly try_number: number | null;
  /** ISO 8601 UTC. */
  readonly logical_date: string | null;
  /** The attempt's error, one line, secrets redacted. */
  readonly error: string | null;
  /** The attempt's log on the daemon's HTTP API. */
  readonly log_url: string | null;
  /** One human line, e.g. `[drivetrain] task_failed ingest.load run scheduled__... try 3/3: ...`. */
  readonly text: string;
}

/** A DAG file's callback: run once per event, by whichever daemon delivers it; a throw is logged. */
export type AlertCallback = (alert: AlertPayload) => unknown | Promise<unknown>;

/** The callbacks of a task (its own events) or of a DAG (its runs' events; onRetry: any task's retry without its own). */
export interface AlertCallbacks {
  readonly onFailure?: AlertCallback;
  readonly onRetry?: AlertCallback;
  readonly onSuccess?: AlertCallback;
}

/** One task of a DAG, as written in a DAG file. `U` is the union of the DAG's task ids. */
export interface TaskSpec<U extends string = string> extends AlertCallbacks {
  /** The work to do. */
  readonly run: TaskFn;
  /** Tasks this one depends on, as its trigger rule says. Default: none. */
  readonly upstream?: readonly U[];
  /** When it runs given how its upstream ended (Airflow's rules). Default `all_success`. */
  readonly triggerRule?: TriggerRule;
  /** The task group it belongs to (see taskGroup()): its id must start with `group.`. Default none. */
  readonly group?: string;
  /** Retries after the first attempt. Default: the DAG's, else DRIVETRAIN_TASK_RETRIES. */
  readonly retries?: number;
  /** Delay before the first retry in seconds, doubling each retry. Default: the DAG's, else DRIVETRAIN_TASK_RETRY_DELAY_S. */
  readonly retryDelayS?: number;
  /** Timeout of one attempt in seconds; the signal is aborted then; 0 = none. Default: the DAG's, else DRIVETRAIN_TASK_TIMEOUT_S. */
  readonly timeoutS?: number;
  /** The task can take several consecutive intervals in one call during a backfill (a sensor pokes each one's run). Default false. */
  readonly batch?: boolean;
  /** The pool (DRIVETRAIN_POOLS) whose slots it takes while it runs, across every process. Default `default_pool`. */
  readonly pool?: string;
  /** Slots of its pool it takes while it runs (a whole batched call takes them once). Default 1. */
  readonly poolSlots?: number;
  /** One line on what the task does, shown by `dags list --verbose`. */
  readonly description?: string;
  /** Set by sensor(): the task pokes a condition instead of running `run`. */
  readonly sensor?: SensorOptions;
  /**
   * Makes the task mapped: once its upstream allow it, `expand` runs as the task's first instance
   * (map index -1, with its own log and retries) and each value of its list becomes an instance of
   * its own, with its own state, retries and log, that `run` gets as `ctx.mapValue`. An empty list
   * skips the task. At most 1,024 values, JSON only. Default: not mapped.
   */
  readonly expand?: ExpandFn;
  /** A mapped instance's label, shown with its index. Default: the value (a string or number), else its JSON cut to 64 characters. */
  readonly mapLabel?: (value: unknown, index: number) => string;
}

/**
 * A DAG as written in a DAG file. The task ids are inferred from `tasks`, so an `upstream`
 * naming a task that does not exist is a compile error.
 */
export interface DagSpec<K extends string = string> extends AlertCallbacks {
  /** Unique id; letters, digits, `_`, `-`, `.`. */
  readonly id: string;
  /** When runs are created. */
  readonly schedule: Schedule;
  /** First logical date, `YYYY-MM-DD` or an ISO date-time (UTC). */
  readonly startDate: string | Date;
  /** Last logical date (inclusive). Default: none. */
  readonly endDate?: string | Date;
  /** Create every missed run since startDate (true) or only the latest (false). Default true. */
  readonly catchup?: boolean;
  /** Runs of this DAG executing at once. Default 1, so runs execute in logical-date order. */
  readonly maxActiveRuns?: number;
  /** Task instances of this DAG executing at once. Default 16. */
  readonly maxActiveTasks?: number;
  /** Default retries of its tasks. Default DRIVETRAIN_TASK_RETRIES. */
  readonly retries?: number;
  /** Default first retry delay of its tasks, seconds. Default DRIVETRAIN_TASK_RETRY_DELAY_S. */
  readonly retryDelayS?: number;
  /** Default timeout of its tasks' attempts, seconds. Default DRIVETRAIN_TASK_TIMEOUT_S. */
  readonly timeoutS?: number;
  /**
   * DAGs whose output this DAG reads: each becomes a sensor task `wait_for_<dag>` that every root task
   * depends on, met once that DAG has a successful run whose data interval ends at or after this run's;
   * a backfill runs that upstream once, first, for its last completed interval. Default none.
   */
  readonly waitFor?: readonly string[];
  /** Poke interval and timeout of the waitFor sensors, seconds. Default 60 and 7 days. */
  readonly waitForSensor?: { readonly pokeIntervalS?: number; readonly timeoutS?: number };
  /** Shown by `dags list`. */
  readonly description?: string;
  /** `deadline_missed` fires when an interval's run has not succeeded this long after the interval's end (`'6h'`, `'90m'`, `'1d2h'`). */
  readonly deadline?: { readonly afterIntervalEnd: string };
  /**
   * The schema of a run's params (a zod object): a triggered run's conf is validated by it and its
   * defaults filled in; scheduled and backfill runs get the defaults. Default: any conf object.
   */
  readonly params?: z.ZodType<Record<string, unknown>>;
  /** The tasks, keyed by task id. */
  readonly tasks: { readonly [T in K]: TaskSpec<NoInfer<K>> };
}

/** A task after validation, with every default applied. */
export interface Task extends AlertCallbacks {
  readonly id: string;
  readonly run: TaskFn;
  readonly upstream: readonly string[];
  readonly triggerRule: TriggerRule;
  /** Its task group, when it has one. */
  readonly group?: string;
  readonly retries: number | undefined;
  readonly retryDelayS: number | undefined;
  readonly timeoutS: number | undefined;
  readonly batch: boolean;
  readonly pool: string;
  readonly poolSlots: number;
  readonly description?: string;
  /** Its sensor options, when it is a sensor. */
  readonly sensor?: SensorOptions;
  /** Its expand function, when it is mapped. */
  readonly expand?: ExpandFn;
  readonly mapLabel?: (value: unknown, index: number) => string;
}

/** A validated DAG, as the scheduler holds it. */
export interface Dag extends AlertCallbacks {
  readonly id: string;
  readonly schedule: Schedule;
  readonly startDate: Date;
  readonly endDate: Date | undefined;
  readonly catchup: boolean;
  readonly maxActiveRuns: number;
  readonly maxActiveTasks: number;
  readonly retries: number | undefined;
  readonly retryDelayS: number | undefined;
  readonly timeoutS: number | undefined;
  readonly waitFor: readonly string[];
  readonly description?: string;
  /** The deadline option, its duration in ms. */
  readonly deadline?: { readonly afterIntervalEnd: string; readonly afterIntervalEndMs: number };
  /** The params schema, when the DAG declares one. */
  readonly params?: z.ZodType<Record<string, unknown>>;
  /** Tasks in a topological order (every task after its upstream). */
  readonly tasks: readonly Task[];
  /** The file it was loaded from, when loaded from a file. */
  readonly fileloc?: string;
}

/** A DAG file that could not be loaded, kept so `dags list` and the log can say why. */
export interface DagImportError {
  readonly file: string;
  readonly reason: string;
}
