/**
 * Creating DAG runs, with Airflow's semantics: a scheduled run exists only once its data interval has
 * ended; catchup on creates every missed interval since the start date (or since the last scheduled
 * run) in order, catchup off only the latest completed one (also after a pause); paused DAGs get
 * nothing; the end date is honoured; `@once` runs once; a null schedule never.
 *
 * Every creator (this tick, `dags trigger`, `backfill`) inserts with OR IGNORE on the unique
 * (dag_id, logical_date), so two processes can never create the same run twice.
 */
import { UsageError } from './errors/UsageError.js';
import type { Dag, DataInterval, Logger, RunType } from './interfaces.js';
import type { MetadataDb, Sql } from './metadata/db.js';
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
export async function insertRuns(sql: Sql, runs: readonly NewRun[], now = new Date()): Promise<number> {
  let created = 0;
  const createdAt = now.toISOString();
  for (let i = 0; i < runs.length; i += 200) {
    const chunk = runs.slice(i, i + 200);
    const values: (string | number)[] = [];
    for (const r of chunk) {
      values.push(
        r.dagId,
        runIdFor(r.type, r.logicalDate),
        dbDate(r.logicalDate),
        dbDate(r.interval.start),
        dbDate(r.interval.end),
        r.type,
        JSON.stringify(r.conf ?? {}),
        createdAt,
      );
    }
    const before = await sql.all<{ n: number }>('SELECT total_changes() AS n');
    await sql.run(
      `INSERT OR IGNORE INTO dag_runs (dag_id, run_id, logical_date, data_interval_start, data_interval_end, run_type, state, conf, created_at)
       VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, 'queued', ?, ?)").join(', ')}`,
      values,
    );
    const after = await sql.all<{ n: number }>('SELECT total_changes() AS n');
    created += after[0].n - before[0].n;
  }
  return created;
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
    const rows = await sql.all<{ dag_id: string; paused: number; next_dagrun: string | null }>('SELECT dag_id, paused, next_dagrun FROM dags');
    const byId = new Map(rows.map((r) => [r.dag_id, r]));
    let total = 0;
    for (const dag of list) {
      const row = byId.get(dag.id);
      if (row?.paused) continue;
      let from = row?.next_dagrun ? new Date(row.next_dagrun) : undefined;
      if (!from) {
        // First pass for this DAG (or a database from before next_dagrun): resume after its last scheduled run.
        const [last] = await sql.all<{ d: string | null }>(
          "SELECT MAX(logical_date) AS d FROM dag_runs WHERE dag_id = ? AND run_type = 'scheduled'",
          [dag.id],
        );
        if (last?.d) from = new Date(new Date(last.d).getTime() + 1);
      }
      const { due, next } = dueIntervals(dag, now, from);
      if (next && next.getTime() !== from?.getTime()) {
        await sql.run(
          `INSERT INTO dags (dag_id, paused, fileloc, next_dagrun) VALUES (?, 0, ?, ?)
           ON CONFLICT (dag_id) DO UPDATE SET next_dagrun = excluded.next_dagrun`,
          [dag.id, dag.fileloc ?? null, next.toISOString()],
        );
      }
      if (due.length === 0) continue;
      const n = await insertRuns(
        sql,
        due.map((interval) => ({ dagId: dag.id, type: 'scheduled' as const, logicalDate: interval.start, interval })),
      );
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
  dag: Dag,
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
  const created = await db.tx((sql) => insertRuns(sql, [{ dagId: dag.id, type: 'manual', logicalDate, interval, conf: opts.conf }]));
  if (created === 0) {
    throw new UsageError(`DAG '${dag.id}' already has a run at logical date '${logicalDate.toISOString()}'`);
  }
  return runId;
}
