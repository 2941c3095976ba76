/**
 * Backfill: create (or resume) the runs of some DAGs over a range of logical dates and execute them
 * in this process, in date order, with batching of `batch: true` tasks.
 *
 * Idempotent and resumable: runs already successful are skipped unless `reset`; failed ones are
 * cleared and run again; unfinished ones (an earlier backfill was interrupted) simply continue. Runs
 * are recorded as run_type backfill under the same unique (dag_id, logical_date) the daemon uses, so a
 * daemon never creates them again.
 */
import { planBackfill, type Plan } from './backfillPlan.js';
import { UsageError } from './errors/UsageError.js';
import { Executor } from './executor.js';
import type { Clock, Dag, DataInterval, Logger } from './interfaces.js';
import type { MetadataDb } from './metadata/db.js';
import { retryPolicyFor } from './retryPolicy.js';
import { redact } from './redact.js';
import { dbDate } from './runIds.js';
import { insertRuns, type NewRun } from './runCreator.js';
import type { Settings } from './settings.js';
import { intervalsBetween, latestCompletedInterval } from './timetable.js';

/** Options of {@link runBackfill}. */
export interface BackfillOptions {
  readonly db: MetadataDb;
  readonly settings: Settings;
  readonly clock: Clock;
  /** The scheduler log. */
  readonly log: Logger;
  /** Every loaded DAG (waitFor upstreams are looked up here). */
  readonly dags: ReadonlyMap<string, Dag>;
  /** DAGs to backfill; default every DAG with catchup on and a recurring schedule. */
  readonly dagIds?: readonly string[];
  /** First logical date (inclusive). */
  readonly from: Date;
  /** Last logical date (inclusive); default, and at most, each DAG's last completed interval. */
  readonly to?: Date;
  /** Re-run runs that already succeeded. */
  readonly reset: boolean;
  /** Called with progress counts while running. */
  readonly onProgress?: (p: BackfillProgress) => void;
  /** Most intervals one batched call covers. */
  readonly batchCap?: number;
  /** Called once the executor exists, so the caller can stop it on a signal. */
  readonly onExecutor?: (executor: Executor) => void;
}

/** Run counts of the backfill's range. */
export interface BackfillProgress {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly left: number;
}

/** One DAG's line of the summary. */
export interface BackfillSummaryRow {
  readonly dagId: string;
  /** A DAG others wait for, run once for its last completed interval before them. */
  readonly waitedFor: boolean;
  readonly from: string;
  readonly to: string;
  readonly runs: number;
  /** Already successful before this backfill, and not reset. */
  readonly skipped: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Still queued or running (interrupted). */
  readonly left: number;
}

/** A task instance that failed in a run of the backfill. */
export interface BackfillFailure {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  /** The first line of its last error, secrets redacted. */
  readonly error: string;
}

/** What a backfill did. */
export interface BackfillResult {
  readonly ok: boolean;
  /** The waited-for DAGs that ran first, then each DAG of the range. */
  readonly rows: readonly BackfillSummaryRow[];
  /** Failed task instances of those runs, oldest run first. */
  readonly failures: readonly BackfillFailure[];
  /** DAGs of the range not run because a DAG they wait for failed, with those DAGs. */
  readonly notRun: readonly { readonly dagId: string; readonly waitsFor: readonly string[] }[];
  /** Task instances executed by this process. */
  readonly taskInstances: number;
}

/** Creates missing runs and clears failed (or, with reset, all finished) ones in [from, to]; returns skipped count. */
async function prepareRuns(db: MetadataDb, settings: Settings, dag: Dag, intervals: Iterable<DataInterval>, reset: boolean): Promise<number> {
  let skipped = 0;
  let chunk: DataInterval[] = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const list = chunk;
    chunk = [];
    skipped += await db.tx(async (sql) => {
      const st = db.statements;
      const existing = await st.runsBetween(sql, dag.id, dbDate(list[0].start), dbDate(list[list.length - 1].start));
      const byDate = new Map(existing.map((r) => [r.logical_date, r]));
      const fresh: NewRun[] = [];
      const clear: number[] = [];
      let skip = 0;
      for (const i of list) {
        const run = byDate.get(dbDate(i.start));
        if (!run) fresh.push({ dagId: dag.id, type: 'backfill', logicalDate: i.start, interval: i });
        else if (run.state === 'success' && !reset) skip += 1;
        else if (run.state === 'success' || run.state === 'failed') clear.push(run.id);
        // queued / running: an interrupted backfill (or the daemon) is on it; it just continues.
      }
      await insertRuns(sql, st, fresh);
      if (clear.length > 0) {
        await st.requeueRuns(sql, clear);
        // Airflow's clear: the instance gets its retries again on top of the tries it already used.
        for (const task of dag.tasks) await st.clearTaskInstances(sql, clear, task.id, retryPolicyFor(task, dag, settings).retries, !reset);
      }
      return skip;
    });
  };
  for (const i of intervals) {
    chunk.push(i);
    if (chunk.length >= 500) await flush();
  }
  await flush();
  return skipped;
}

/** Counts of runs by state for each plan's range. */
async function countRuns(db: MetadataDb, plans: readonly Plan[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  await db.read(async (sql) => {
    for (const p of plans) {
      const rows = await db.statements.runCountsBetween(sql, p.dag.id, dbDate(p.from), dbDate(p.to));
      out.set(p.dag.id, Object.fromEntries(rows.map((r) => [r.state, r.n])));
    }
  });
  return out;
}

/**
 * Runs a waited-for DAG once for its last completed interval, unless a successful run already covers
 * it (and not reset). Returns false if that run failed; `ran`, when it ran, is its plan for the summary.
 */
async function runUpstreamOnce(
  opts: BackfillOptions,
  upstream: Dag,
  executorFor: (scope: { dagIds: string[]; from: string; to: string }) => Executor,
  ran: (plan: Plan) => void,
): Promise<boolean> {
  const now = opts.clock.now();
  const last = latestCompletedInterval(upstream.schedule, upstream.startDate, now, upstream.endDate);
  if (!last) {
    opts.log.warn('waited-for DAG has no completed interval yet', { dagId: upstream.id });
    return true;
  }
  const until = await opts.db.read((sql) => opts.db.statements.successfulUntil(sql, upstream.id));
  if (until !== null && until >= dbDate(last.end) && !opts.reset) return true;
  ran({ dag: upstream, from: last.start, to: last.start, waitedFor: true });
  opts.log.info('running the waited-for DAG once first', { dagId: upstream.id, logicalDate: last.start.toISOString() });
  await prepareRuns(opts.db, opts.settings, upstream, [last], opts.reset);
  const executor = executorFor({ dagIds: [upstream.id], from: dbDate(last.start), to: dbDate(last.start) });
  await executor.drain();
  if (executor.interrupted) return false;
  const state = await opts.db.read((sql) => opts.db.statements.runState(sql, upstream.id, dbDate(last.start)));
  return state === 'success';
}

/**
 * UsageError unless every DAG `plan` waits for can reach its last run: a successful run of it, or the
 * one the backfill runs first (its last completed interval), must end at or after that run's end.
 * Otherwise the waitFor sensors of the runs past it could only time out, days later, while the backfill waits.
 */
async function checkWaitForReach(opts: BackfillOptions, plan: Plan, now: Date): Promise<void> {
  if (plan.dag.waitFor.length === 0) return;
  let last: DataInterval | undefined;
  for (const i of intervalsBetween(plan.dag.schedule, plan.dag.startDate, plan.from, plan.to, plan.dag.endDate)) last = i;
  if (!last) return;
  for (const id of plan.dag.waitFor) {
    const up = opts.dags.get(id)!;
    const until = await opts.db.read((sql) => opts.db.statements.successfulUntil(sql, id));
    const reach = [latestCompletedInterval(up.schedule, up.startDate, now, up.endDate)?.end.getTime(), until ? new Date(until).getTime() : undefined]
      .filter((t): t is number => t !== undefined)
      .reduce((a, b) => Math.max(a, b), -Infinity);
    if (reach < last.end.getTime()) {
      const upTo = Number.isFinite(reach) ? `data up to ${new Date(reach).toISOString()}` : 'no data yet';
      throw new UsageError(
        `DAG '${plan.dag.id}' waits for '${id}', which has ${upTo}; its run of ${last.start.toISOString().slice(0, 10)} needs '${id}' up to ${last.end.toISOString()} (run '${id}' that far first, or use an earlier --to)`,
      );
    }
  }
}

/** Sends the run counts of the plans' ranges to `opts.onProgress`, if set. */
async function reportProgress(opts: BackfillOptions, plans: readonly Plan[]): Promise<void> {
  if (!opts.onProgress) return;
  const counts = await countRuns(opts.db, plans);
  let total = 0;
  let done = 0;
  let failed = 0;
  for (const c of counts.values()) {
    for (const [state, n] of Object.entries(c)) {
      total += n;
      if (state === 'success') done += n;
      if (state === 'failed') failed += n;
    }
  }
  opts.onProgress({ total, done, failed, left: total - done - failed });
}

/** One summary row per plan from its run counts; runs skipped as already successful are not "succeeded". */
function summarise(plans: readonly Plan[], counts: ReadonlyMap<string, Record<string, number>>, skippedByDag: ReadonlyMap<string, number>): BackfillSummaryRow[] {
  return plans.map((p) => {
    const c = counts.get(p.dag.id) ?? {};
    const skipped = skippedByDag.get(p.dag.id) ?? 0;
    return {
      dagId: p.dag.id,
      waitedFor: p.waitedFor ?? false,
      from: p.from.toISOString().slice(0, 10),
      to: p.to.toISOString().slice(0, 10),
      runs: Object.values(c).reduce((a, b) => a + b, 0),
      skipped,
      succeeded: (c.success ?? 0) - skipped,
      failed: c.failed ?? 0,
      left: (c.queued ?? 0) + (c.running ?? 0),
    };
  });
}

/** The failed task instances of the plans' ranges, each with the first line of its last error. */
async function failuresOf(db: MetadataDb, plans: readonly Plan[]): Promise<BackfillFailure[]> {
  return db.read(async (sql) => {
    const out: BackfillFailure[] = [];
    for (const p of plans) {
      for (const ti of await db.statements.failedTaskInstancesBetween(sql, p.dag.id, dbDate(p.from), dbDate(p.to))) {
        // Stored redacted already; redacted again because this line goes to the terminal and CI logs.
        const error = redact((ti.last_error ?? 'no error recorded').split('\n')[0]);
        // A mapped instance is named with its index and label, e.g. `load[1: us]`.
        const taskId = Number(ti.map_index) >= 0 ? `${ti.task_id}[${ti.map_index}: ${ti.map_label ?? ''}]` : ti.task_id;
        out.push({ dagId: p.dag.id, runId: ti.run_id, taskId, error });
      }
    }
    return out;
  });
}

/** Runs the backfill to the end (or until its executor is stopped) and summarises it. */
export async function runBackfill(opts: BackfillOptions): Promise<BackfillResult> {
  const now = opts.clock.now();
  const plans = planBackfill(opts.dags, opts.dagIds, opts.from, opts.to, now);
  let taskInstances = 0;
  let stopped = false;
  const executorFor = (scope: { dagIds: string[]; from: string; to: string }): Executor => {
    const executor = new Executor({
      db: opts.db,
      settings: opts.settings,
      log: opts.log,
      dags: () => opts.dags,
      scope: { runTypes: ['scheduled', 'manual', 'backfill'], respectPause: false, batching: true, ...scope },
      batchCap: opts.batchCap,
    });
    executor.onAttemptDone = (n) => (taskInstances += n);
    opts.onExecutor?.(executor);
    return executor;
  };
  const drain = async (executor: Executor): Promise<void> => {
    await executor.drain();
    if (executor.interrupted) stopped = true;
  };

  // Waited-for DAGs first, once each, for their own last completed interval.
  let current: Executor | undefined;
  const upstreamIds = new Set(plans.flatMap((p) => p.dag.waitFor));
  for (const p of plans) {
    const missing = p.dag.waitFor.find((id) => !opts.dags.has(id));
    if (missing) throw new UsageError(`DAG '${p.dag.id}' waits for unknown DAG '${missing}' (see 'drivetrain dags list')`);
    await checkWaitForReach(opts, p, now);
  }
  const upstreamFailed: string[] = [];
  const upstreamRan: Plan[] = [];
  for (const id of upstreamIds) {
    const upstream = opts.dags.get(id)!;
    const executorOnce = (scope: { dagIds: string[]; from: string; to: string }): Executor => {
      const e = executorFor(scope);
      current = e;
      return e;
    };
    if (!(await runUpstreamOnce(opts, upstream, executorOnce, (plan) => upstreamRan.push(plan)))) upstreamFailed.push(id);
    if (current?.interrupted) stopped = true;
    if (stopped) break;
  }

  const skippedByDag = new Map<string, number>();
  const runnable = plans.filter((p) => !p.dag.waitFor.some((w) => upstreamFailed.includes(w)));
  if (!stopped) {
    for (const p of runnable) {
      const intervals = intervalsBetween(p.dag.schedule, p.dag.startDate, p.from, p.to, p.dag.endDate);
      skippedByDag.set(p.dag.id, await prepareRuns(opts.db, opts.settings, p.dag, intervals, opts.reset));
    }
  }

  if (!stopped && runnable.length > 0) {
    const from = runnable.reduce((m, p) => (p.from < m ? p.from : m), runnable[0].from);
    const to = runnable.reduce((m, p) => (p.to > m ? p.to : m), runnable[0].to);
    const executor = executorFor({ dagIds: runnable.map((p) => p.dag.id), from: dbDate(from), to: dbDate(to) });
    const report = (): Promise<void> => reportProgress(opts, runnable);
    await report();
    const timer = setInterval(() => void report().catch(() => undefined), 500);
    try {
      await drain(executor);
    } finally {
      clearInterval(timer);
    }
    await report();
  }

  // A waited-for DAG that is also in the range is summarised once, by its range.
  const summarised = [...upstreamRan.filter((u) => !plans.some((p) => p.dag.id === u.dag.id)), ...plans];
  const rows = summarise(summarised, await countRuns(opts.db, summarised), skippedByDag);
  const failures = await failuresOf(opts.db, summarised);
  const notRun = plans
    .filter((p) => !runnable.includes(p))
    .map((p) => ({ dagId: p.dag.id, waitsFor: p.dag.waitFor.filter((w) => upstreamFailed.includes(w)) }));
  const ok = upstreamFailed.length === 0 && !stopped && rows.every((r) => r.failed === 0 && r.left === 0);
  return { ok, rows, failures, notRun, taskInstances };
}
