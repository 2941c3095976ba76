/**
 * The bound parameters of a run, derived only from its data intervals (never the wall clock):
 * :ds, :start_day, :end_day, :start_month, :end_month, :load_date.
 */
import type { DataInterval, TaskContext } from '../../scheduler/interfaces.js';

/** Named parameter values; a statement binds the ones it uses. */
export type RunParams = Readonly<Record<string, string>>;

const day = (d: Date) => d.toISOString().slice(0, 10);
const month = (d: Date) => `${d.toISOString().slice(0, 7)}-01`;

/** 'YYYY-MM-DD HH:MM:SS' (UTC): the vault's load_date of an ingest run = its interval's end. */
export function loadDateOf(interval: DataInterval): string {
  return interval.end.toISOString().slice(0, 19).replace('T', ' ');
}

/** The intervals a call covers, oldest first (ctx.intervals, or the run's own interval). */
export function intervalsOf(ctx: Pick<TaskContext, 'intervals' | 'dataIntervalStart' | 'dataIntervalEnd'>): readonly DataInterval[] {
  return ctx.intervals && ctx.intervals.length > 0 ? ctx.intervals : [{ start: ctx.dataIntervalStart, end: ctx.dataIntervalEnd }];
}

/**
 * Parameters of a call covering `intervals` (consecutive, oldest first): the partition range starts at
 * the first interval; ds and load_date are those of the last one (the newest snapshot it covers).
 */
export function paramsFor(intervals: readonly DataInterval[]): RunParams {
  const first = intervals[0];
  const last = intervals[intervals.length - 1];
  return {
    ds: day(last.start),
    start_day: day(first.start),
    end_day: day(last.end),
    start_month: month(first.start),
    end_month: month(last.end),
    load_date: loadDateOf(last),
  };
}
