/**
 * Creating DAG runs, with Airflow's semantics: a scheduled run exists only once its data interval has
 * ended; catchup on creates every missed interval since the start date (or since the last scheduled
 * run) in order, catchup off only the latest completed one (also after a pause); paused DAGs get
 * nothing; the end date is honoured; `@once` runs once; a null schedule never.
 *
 * Every creator (this tick, `dags trigger`, `backfill`) inserts with ON CONFLICT DO NOTHING on the unique
 * (dag_id, logical_date), so two processes can never create the same run twice.
 */
import { UsageError } from './errors/UsageError.js';
import type { Dag, DataInterval, Logger, RunType } from './interfaces.js';
import type { MetadataDb, Sql } from './metadata/db.js';
import type { Statements } from './metadata/statements.js';
import { dbDate, runIdFor } from './runIds.js';
import { firstInterval, intervalFor, latestCompletedInterval, nextInterval } from './timetable.js';

/** Most runs one tick creates for one DAG, so a years-long catchup does not hold the lock for long. */
const MAX_RUNS_PER_TICK = 1000;

/** A run to insert. */
export interface NewRun {
  readonly dagId: string;
  readonly type: RunType;
  readonly logicalDate: Date;
  readonly interval: DataInterval;
  readonly conf?: Readonly<Record<string, unknown>>;
}

/** Inserts runs (state queued) unless a run of that DAG and logical date exists; returns how many were new. */
export async function insertRuns(sql: Sql, statements: Statements, runs: readonly NewRun[], now = new Date()): Promise<number> {
  const rows = runs.map((r) => ({
    dagId: r.dagId,
    runId: runIdFor(r.type, r.logicalDate),
    logicalDate: dbDate(r.logicalDate),
    intervalStart: dbDate(r.interval.start),
    intervalEnd: dbDate(r.interval.end),
    runType: r.type,
    conf: JSON.stringify(r.conf ?? {}),
  }));
  return statements.insertRuns(sql, rows, now.toISOString());
}

/**
 * The scheduled intervals of `dag` due at `now`, creating from logical date `from` on (undefined: from
 * the start date), and where creation resumes next time. Intervals already taken by other runs are
 * still returned (the insert ignores them) and passed, so creation never sticks on them.
 */
export function dueIntervals(dag: Dag, now: Date, from: Date | undefined): { due: DataInterval[]; next: Date | undefined } {
  if (dag.schedule === null) return { due: [], next: from };
  const endOk = (i: DataInterval) => !dag.endDate || i.start.getTime() <= dag.endDate.getTime();
  if (dag.schedule === '@once') {
    const once = firstInterval(dag.schedule, dag.startDate);
    if (from || !once || once.end.getTime() > now.getTime() || !endOk(once)) return { due: [], next: from };
    return { due: [once], next: new Date(once.start.getTime() + 1) };
  }
  if (!dag.catchup) {
    const latest = latestCompletedInterval(dag.schedule, dag.startDate, now, dag.endDate);
    if (!latest || (from && latest.start.getTime() < from.getTime())) return { due: [], next: from };
    return { due: [latest], next: latest.end };
  }
  const due: DataInterval[] = [];
  let i = from ? firstInterval(dag.schedule, from) : firstInterval(dag.schedule, dag.startDate);
  if (i && i.start.getTime() < dag.startDate.getTime()) i = firstInterval(dag.schedule, dag.startDate);
  let next = from;
  while (i && i.end.getTime() <= now.getTime() && endOk(i) && due.length < MAX_RUNS_PER_TICK) {
    due.push(i);
    next = i.end;
    i = nextInterval(dag.schedule, i);
  }
  return { due, next };
}

/** Creates the due scheduled runs of every unpaused DAG; returns how many were created. */
export async function createDueRuns(db: MetadataDb, dags: Iterable<Dag>, now: Date, log?: Logger): Promise<number> {
  const list = [...dags].filter((d) => d.schedule !== null);
  if (list.length === 0) return 0;
  return db.tx(async (sql) => {
    // Several daemons tick at once: each DAG's lock, waited for in dag_id order, makes the second read
    // where the first left next_dagrun, and the unique (dag_id, logical_date) catches anything else.
    await db.statements.lockDags(sql, list.map((d) => d.id));
    const byId = new Map((await db.statements.dagSchedules(sql)).map((r) => [r.dag_id, r]));
    let total = 0;
    for (const dag of list) {
      const row = byId.get(dag.id);
      if (row?.paused) continue;
      // Where creation resumes; else (first pass, or a database from before next_dagrun) after the last scheduled run.
      const last = row ? row.last_scheduled : await db.statements.lastScheduledDate(sql, dag.id);
      const from = row?.next_dagrun ? new Date(row.next_dagrun) : last ? new Date(new Date(last).getTime() + 1) : undefined;
      const { due, next } = dueIntervals(dag, now, from);
      if (next && next.getTime() !== from?.getTime()) await db.statements.setNextDagrun(sql, dag.id, dag.fileloc ?? null, next.toISOString());
      if (due.length === 0) continue;
      const runs = due.map((interval) => ({ dagId: dag.id, type: 'scheduled' as const, logicalDate: interval.start, interval }));
      const n = await insertRuns(sql, db.statements, runs);
      if (n > 0) log?.info('scheduled runs created', { dagId: dag.id, count: n, first: due[0].start.toISOString() });
      total += n;
    }
    return total;
  });
}

/**
 * Creates a manual run. With `date`, its logical date is that date and its interval the schedule's
 * interval starting there; without, Airflow's choice: logical date = now, interval = the latest
 * completed one. Fails with UsageError if the DAG already has a run at that logical date.
 */
export async function triggerRun(
  db: MetadataDb,
  dag: Pick<Dag, 'id' | 'schedule'>,
  opts: { date?: Date; now: Date; conf?: Readonly<Record<string, unknown>> },
): Promise<string> {
  let logicalDate: Date;
  let interval: DataInterval;
  if (opts.date) {
    interval = intervalFor(dag.schedule, opts.date);
    logicalDate = interval.start;
  } else {
    logicalDate = new Date(Math.floor(opts.now.getTime() / 1000) * 1000);
    interval =
      (dag.schedule !== null && dag.schedule !== '@once'
        ? latestCompletedInterval(dag.schedule, new Date(0), logicalDate)
        : undefined) ?? { start: logicalDate, end: logicalDate };
  }
  const runId = runIdFor('manual', logicalDate);
  const created = await db.tx((sql) => insertRuns(sql, db.statements, [{ dagId: dag.id, type: 'manual', logicalDate, interval, conf: opts.conf }]));
  if (created === 0) {
    throw new UsageError(`DAG '${dag.id}' already has a run at logical date '${logicalDate.toISOString()}'`);
  }
  return runId;
}
