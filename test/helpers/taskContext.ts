/**
 * The one task-context builder of operator tests. It calls the scheduler's own buildTaskContext, so a
 * test's task receives exactly what a task receives in production (frozen, dates from the intervals,
 * an Airflow run id); only the inputs are test defaults.
 */
import type { DataInterval, Logger, TaskContext } from '../../scheduler/interfaces.js';
import { runIdFor } from '../../scheduler/runIds.js';
import type { Settings } from '../../scheduler/settings.js';
import { buildTaskContext } from '../../scheduler/taskContext.js';
import { upstreamAccessor } from '../../scheduler/taskResults.js';
import { intervalFor, toDs } from '../../scheduler/timetable.js';
import type { TestTaskContextOptions } from './interfaces.js';
import { KitUsageError } from './KitUsageError.js';
import { RecordingLogger } from './recordingLogger.js';

export type { TestTaskContextOptions } from './interfaces.js';

/** The logical date of the default context: a mid-month weekday, far from any edge case. */
export const DEFAULT_DS = '2024-01-15';

/** The intervals asked for: `intervals` as given, or the schedule's interval at `ds`. */
function intervalsOf(opts: TestTaskContextOptions<Logger>): readonly DataInterval[] {
  if (opts.intervals !== undefined && opts.ds !== undefined) {
    throw new KitUsageError('testTaskContext', opts.ds, `give ds '${opts.ds}' or intervals, not both`);
  }
  if (opts.intervals !== undefined) return opts.intervals;
  const ds = opts.ds ?? DEFAULT_DS;
  const day = new Date(`${ds}T00:00:00Z`);
  // The round trip rejects '2024-02-30' and trailing text, which Date would roll over or drop.
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ds) || Number.isNaN(day.getTime()) || toDs(day) !== ds) {
    throw new KitUsageError('testTaskContext', ds, `ds '${ds}' is not a date YYYY-MM-DD`);
  }
  return [intervalFor(opts.schedule ?? '@daily', day)];
}

/**
 * A task context for `settings`, built by the scheduler's buildTaskContext. Its `log` is the logger
 * given, else a new RecordingLogger the test reads afterwards (`ctx.log.messages('warn')`).
 */
export function testTaskContext<L extends Logger = RecordingLogger>(
  settings: Settings,
  opts: TestTaskContextOptions<L> = {},
): TaskContext & { readonly log: L } {
  const intervals = intervalsOf(opts);
  if (intervals.length === 0) throw new KitUsageError('testTaskContext', intervals, 'intervals is empty: a call covers at least one');
  const log = opts.log ?? (new RecordingLogger() as Logger as L);
  const ctx = buildTaskContext({
    dagId: opts.dagId ?? 'test_dag',
    taskId: opts.taskId ?? 'task',
    runId: runIdFor(opts.runType ?? 'manual', intervals[0].start),
    tryNumber: opts.tryNumber ?? 1,
    intervals,
    signal: opts.signal ?? new AbortController().signal,
    log,
    settings,
    params: opts.params,
    upstream: opts.upstream === undefined ? undefined : upstreamAccessor(opts.taskId ?? 'task', Object.keys(opts.upstream), new Map(Object.entries(opts.upstream))),
  });
  return ctx as TaskContext & { readonly log: L };
}
