/** Builds the TaskContext a task function receives: the run's interval(s), never the wall clock. */
import type { DataInterval, Logger, TaskContext } from './interfaces.js';
import type { Settings } from './settings.js';
import { upstreamAccessor } from './taskResults.js';
import { toDs, toMonth } from './timetable.js';

/** What {@link buildTaskContext} needs. */
export interface TaskContextInput {
  readonly dagId: string;
  readonly taskId: string;
  /** The run id of the first (or only) interval's run. */
  readonly runId: string;
  readonly tryNumber: number;
  /** The intervals covered, oldest first; more than one only for a batched backfill call. */
  readonly intervals: readonly DataInterval[];
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly settings: Settings;
  readonly params?: Readonly<Record<string, unknown>>;
  /** `ctx.upstream` (taskResults.ts upstreamAccessor); default: a task without upstream. */
  readonly upstream?: (taskId: string) => unknown;
  /** A mapped instance's index, value and label; default unmapped (-1). */
  readonly map?: { readonly index: number; readonly value: unknown; readonly label: string };
}

/** The context of one call; dates are derived from the first interval, the end from the last. */
export function buildTaskContext(input: TaskContextInput): TaskContext {
  const first = input.intervals[0];
  const last = input.intervals[input.intervals.length - 1];
  if (!first) throw new Error(`task '${input.taskId}': a call needs at least one interval`);
  return Object.freeze({
    dagId: input.dagId,
    taskId: input.taskId,
    runId: input.runId,
    tryNumber: input.tryNumber,
    logicalDate: first.start,
    ds: toDs(first.start),
    dataIntervalStart: first.start,
    dataIntervalEnd: last.end,
    month: toMonth(first.start),
    intervals: Object.freeze([...input.intervals]),
    signal: input.signal,
    log: input.log,
    settings: input.settings,
    params: Object.freeze({ ...(input.params ?? {}) }),
    upstream: input.upstream ?? upstreamAccessor(input.taskId, [], new Map()),
    mapIndex: input.map?.index ?? -1,
    mapValue: input.map?.value,
    mapLabel: input.map?.label,
  });
}
