/**
 * Airflow's time semantics. A schedule cuts time into data intervals [start, end); a run's logical
 * date is its interval's start, and a scheduled run is due only once its interval has ended.
 * Everything is UTC. The presets are the cron expressions Airflow maps them to; `@once` is a single
 * run whose interval is the instant of the start date, as Airflow's OnceTimetable.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import type { DataInterval, Schedule } from './interfaces.js';

const PRESETS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/** The 5-field cron expression of a schedule, or null for `@once` and manual-only DAGs. */
export function cronOf(schedule: Schedule): string | null {
  if (schedule === null || schedule === '@once') return null;
  return PRESETS[schedule] ?? schedule;
}

function parse(cron: string, currentDate: Date): CronExpression {
  return CronExpressionParser.parse(cron, { currentDate, tz: 'UTC' });
}

/** Throws an Error quoting the schedule when it is neither a preset, a 5-field cron, nor null. */
export function validateSchedule(schedule: Schedule): void {
  if (schedule === null || schedule === '@once') return;
  if (typeof schedule !== 'string') throw new Error(`invalid schedule '${String(schedule)}'`);
  const cron = cronOf(schedule)!;
  if (cron.startsWith('@')) throw new Error(`invalid schedule '${schedule}': unknown preset`);
  if (cron.trim().split(/\s+/).length !== 5) throw new Error(`invalid cron pattern '${schedule}': expected 5 fields`);
  try {
    parse(cron, new Date(0)).next();
  } catch (err) {
    throw new Error(`invalid cron pattern '${schedule}': ${(err as Error).message}`);
  }
}

/** The first cron tick at or after `t`. */
function tickAtOrAfter(cron: string, t: Date): Date {
  return parse(cron, new Date(t.getTime() - 1)).next().toDate();
}

/** The first cron tick strictly after `t`. */
function tickAfter(cron: string, t: Date): Date {
  return parse(cron, t).next().toDate();
}

/** The last cron tick at or before `t`. */
function tickAtOrBefore(cron: string, t: Date): Date {
  return parse(cron, new Date(t.getTime() + 1)).prev().toDate();
}

/** The data interval of the run whose logical date is `logicalDate` (aligned down to a tick). */
export function intervalFor(schedule: Schedule, logicalDate: Date): DataInterval {
  const cron = cronOf(schedule);
  if (cron === null) return { start: logicalDate, end: logicalDate };
  const start = tickAtOrBefore(cron, logicalDate);
  return { start, end: tickAfter(cron, start) };
}

/** True when `logicalDate` is exactly on one of the schedule's ticks. */
export function isAligned(schedule: Schedule, logicalDate: Date): boolean {
  const cron = cronOf(schedule);
  return cron === null || tickAtOrBefore(cron, logicalDate).getTime() === logicalDate.getTime();
}

/** The first interval of a DAG: the first tick at or after its start date. */
export function firstInterval(schedule: Schedule, startDate: Date): DataInterval | undefined {
  if (schedule === null) return undefined;
  const cron = cronOf(schedule);
  if (cron === null) return { start: startDate, end: startDate };
  const start = tickAtOrAfter(cron, startDate);
  return { start, end: tickAfter(cron, start) };
}

/** The interval right after `prev`, or undefined for `@once` and manual-only schedules. */
export function nextInterval(schedule: Schedule, prev: DataInterval): DataInterval | undefined {
  const cron = cronOf(schedule);
  if (cron === null) return undefined;
  return { start: prev.end, end: tickAfter(cron, prev.end) };
}

/**
 * The latest interval that has ended by `now` and starts at or after `startDate` (and at or before
 * `endDate`), or undefined when none has. This is the only run a catchup=false DAG creates.
 */
export function latestCompletedInterval(
  schedule: Schedule,
  startDate: Date,
  now: Date,
  endDate?: Date,
): DataInterval | undefined {
  if (schedule === null) return undefined;
  const cron = cronOf(schedule);
  if (cron === null) return startDate.getTime() <= now.getTime() ? { start: startDate, end: startDate } : undefined;
  let end = tickAtOrBefore(cron, now);
  let start = tickAtOrBefore(cron, new Date(end.getTime() - 1));
  if (endDate && start.getTime() > endDate.getTime()) {
    start = tickAtOrBefore(cron, endDate);
    end = tickAfter(cron, start);
  }
  const first = tickAtOrAfter(cron, startDate);
  return start.getTime() >= first.getTime() ? { start, end } : undefined;
}

/**
 * The intervals whose logical date lies in [from, to], oldest first, clipped to the DAG's start
 * and end dates. A generator, so a long range never becomes one big array by accident.
 */
export function* intervalsBetween(
  schedule: Schedule,
  startDate: Date,
  from: Date,
  to: Date,
  endDate?: Date,
): Generator<DataInterval> {
  const lower = from.getTime() > startDate.getTime() ? from : startDate;
  const upper = endDate && endDate.getTime() < to.getTime() ? endDate : to;
  if (schedule === '@once') {
    // The one run of @once is at the start date itself, whatever [from, to] asks for.
    if (startDate.getTime() >= from.getTime() && startDate.getTime() <= upper.getTime()) yield { start: startDate, end: startDate };
    return;
  }
  let interval = firstInterval(schedule, lower);
  while (interval && interval.start.getTime() <= upper.getTime()) {
    yield interval;
    interval = nextInterval(schedule, interval);
  }
}

/** `YYYY-MM-DD` of a UTC date. */
export function toDs(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** `YYYY-MM-01` of a UTC date's month. */
export function toMonth(d: Date): string {
  return `${d.toISOString().slice(0, 7)}-01`;
}
