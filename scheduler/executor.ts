/**
 * The executor: turns queued DAG runs into finished ones, in this process.
 *
 * One loop; each turn ("tick") is ONE metadata write transaction that
 *   1. records the attempts that finished since the last tick,
 *   2. starts queued runs (logical-date order, max active runs, waitFor),
 *   3. moves waiting task instances to queued or upstream_failed (trigger rule all_success),
 *   4. finishes runs whose instances are all done,
 *   5. claims ready instances up to the free slots (parallelism, max active tasks) under a lease.
 * The claimed attempts then run outside the transaction; their results wait in memory for the next
 * tick. Batching every write of a tick into one transaction is what makes a claim cost a fraction of
 * a millisecond, and BEGIN IMMEDIATE makes it exclusive across processes.
 */
import os from 'node:os';
import { TaskTimeoutError } from './errors/TaskTimeoutError.js';
import type { Dag, DataInterval, Logger, RunType, Task } from './interfaces.js';
import {
  forgetLiveOwner,
  newLeaseOwner,
  recoverLostTaskInstances,
  recoverOrphanedBackfillRuns,
  registerLiveOwner,
  releaseBackfillRuns,
  renewLeases,
} from './lease.js';
import { openAttemptLog, type AttemptRef } from './logging.js';
import type { MetadataDb, Sql } from './metadata/db.js';
import type { DagRunRow } from './metadata/models.js';
import { taskAttemptsCounter, taskDurationHistogram } from './metrics.js';
import { isRetryable, retryDelayMs, retryPolicyFor } from './retryPolicy.js';
import { runAttempt } from './runner.js';
import type { Settings } from './settings.js';
import { buildTaskContext } from './taskContext.js';
import { LeaseLostError } from './errors/LeaseLostError.js';
import { ShutdownError } from './errors/ShutdownError.js';

/** Which runs an executor works on. */
export interface ExecutorScope {
  /** Run types it executes (the daemon leaves backfill runs to the backfill command). */
  readonly runTypes: readonly RunType[];
  /** Only these DAGs; default every DAG the executor knows. */
  readonly dagIds?: readonly string[];
  /** Only runs with logical date >= this (ISO, as stored). */
  readonly from?: string;
  /** Only runs with logical date <= this (ISO, as stored). */
  readonly to?: string;
  /** Skip DAGs paused in the metadata (the daemon does; a backfill does not). */
  readonly respectPause: boolean;
  /** Hand `batch: true` tasks several consecutive backfill runs in one call. */
  readonly batching: boolean;
}

/** Options of {@link Executor}. */
export interface ExecutorOptions {
  readonly db: MetadataDb;
  readonly settings: Settings;
  /** The scheduler log. */
  readonly log: Logger;
  /** The current DAGs by id (the daemon's bag changes while it runs). */
  readonly dags: () => ReadonlyMap<string, Dag>;
  readonly scope: ExecutorScope;
  /** Lease owner id; default a fresh `host:pid:random`. */
  readonly owner?: string;
  /** Sleep between idle ticks, ms. Default 200. */
  readonly pollMs?: number;
  /** Most intervals one batched call covers. Default 400. */
  readonly batchCap?: number;
  /** Echo attempt logs here too (tests, debugging). */
  readonly echo?: NodeJS.WritableStream;
}

/** The columns of a DAG run the executor reads. */
type RunRow = Pick<DagRunRow, 'id' | 'dag_id' | 'run_id' | 'logical_date' | 'data_interval_start' | 'data_interval_end' | 'run_type' | 'state' | 'conf'>;

interface TiRow {
  id: number;
  run_pk: number;
  task_id: string;
  state: string | null;
  try_number: number;
  max_tries: number;
  next_retry_at: number | null;
}

/** One claimed call: one task instance, or several of one task (a batch), oldest first. */
interface Claim {
  readonly dag: Dag;
  readonly task: Task;
  readonly items: readonly { readonly ti: TiRow; readonly run: RunRow }[];
}

/** A launched claim, with what aborts it when its lease is lost. */
interface Running extends Claim {
  readonly leaseLost: AbortController;
}

interface Completion {
  readonly id: number;
  readonly state: 'success' | 'failed' | 'up_for_retry';
  readonly endIso: string;
  readonly durationS: number;
  readonly nextRetryAt: number | null;
  readonly error: string | null;
  /** Shutdown interrupted the attempt: its try counts, but it must get another one. */
  readonly interrupted: boolean;
}

const TERMINAL = new Set(['success', 'failed', 'upstream_failed', 'skipped']);
const OK = new Set(['success', 'skipped']);
const BAD = new Set(['failed', 'upstream_failed']);

/** `(?, ?, ?), (?, ?, ?)` for rows of `width` values. */
function placeholders(rows: number, width: number): string {
  const one = `(${Array.from({ length: width }, () => '?').join(', ')})`;
  return Array.from({ length: rows }, () => one).join(', ');
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}

function interval(run: RunRow): DataInterval {
  return { start: new Date(run.data_interval_start), end: new Date(run.data_interval_end) };
}

/** Runs the ready task instances of the runs in its scope until stopped (or, with drain(), until done). */
export class Executor {
  /** This process's lease owner id. */
  readonly owner: string;
  private readonly db: MetadataDb;
  private readonly settings: Settings;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly batchCap: number;
  private readonly hostname = os.hostname();
  private readonly completions: Completion[] = [];
  private readonly inflight = new Map<Promise<void>, Running>();
  private readonly logCloses = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private dirty = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private recovery: NodeJS.Timeout | undefined;
  private idleWhenDone = false;
  private drained = false;
  private stopped: Promise<void> | undefined;
  private lastTickAt = 0;
  /** Called with the number of task instances each finished call covered (bench, progress). */
  onAttemptDone: ((covered: number) => void) | undefined;

  constructor(private readonly opts: ExecutorOptions) {
    this.db = opts.db;
    this.settings = opts.settings;
    this.log = opts.log;
    this.owner = opts.owner ?? newLeaseOwner();
    registerLiveOwner(this.owner);
    this.pollMs = opts.pollMs ?? 200;
    this.batchCap = opts.batchCap ?? 400;
  }

  /** True when stop() ended the loop before its scope was done (a signal, not completion). */
  get interrupted(): boolean {
    return this.stopping && !this.drained;
  }

  /** Epoch ms of the last completed tick: the daemon's health check reads it. */
  get lastTick(): number {
    return this.lastTickAt;
  }

  /** Attempts running now. */
  get running(): number {
    return this.inflight.size;
  }

  /** Recovers lost instances, then starts the loop, the heartbeat and periodic recovery. */
  async start(): Promise<void> {
    await this.recover();
    this.heartbeat = setInterval(() => {
      if (this.inflight.size === 0) return;
      this.keepLeases().catch((err) => this.log.error('lease heartbeat failed', { error: errorText(err) }));
    }, this.settings.scheduler.heartbeatS * 1000);
    this.recovery = setInterval(() => {
      this.recover().catch((err) => this.log.error('recovery failed', { error: errorText(err) }));
    }, Math.max(1000, (this.settings.scheduler.leaseS * 1000) / 2));
    this.heartbeat.unref();
    this.recovery.unref();
    this.loopDone = this.loop();
  }

  /** Runs until no run in scope is queued or running and nothing is in flight. */
  async drain(): Promise<void> {
    this.idleWhenDone = true;
    if (!this.loopDone) await this.start();
    await this.loopDone;
    await this.stop();
  }

  /** Nudges the loop: something changed (a run was created, a DAG unpaused). */
  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  /**
   * Renews this process's leases, then aborts the attempts whose instance another process has taken
   * over meanwhile (this process could not renew in time): their result would be discarded anyway,
   * and aborting them keeps the overlap with the new attempt short.
   */
  private async keepLeases(): Promise<void> {
    await renewLeases(this.db, this.owner, this.settings.scheduler.leaseS);
    const running = [...this.inflight.values()];
    const ids = running.flatMap((c) => c.items.map((i) => i.ti.id));
    if (ids.length === 0) return;
    const rows = await this.db.read((sql) =>
      sql.all<{ id: number; state: string | null; lease_owner: string | null }>('SELECT id, state, lease_owner FROM task_instances WHERE id IN (?)', [ids]),
    );
    const held = new Map(rows.map((r) => [r.id, r]));
    const still = new Set(this.inflight.values());
    for (const c of running) {
      // Finished meanwhile: its completion, not the lease, decides.
      if (!still.has(c) || c.leaseLost.signal.aborted) continue;
      const lost = c.items.map((i) => held.get(i.ti.id)).find((r) => !r || r.state !== 'running' || r.lease_owner !== this.owner);
      if (!lost) continue;
      const holder = lost.state === 'running' ? lost.lease_owner : null;
      this.log.warn('lease lost: aborting the attempt', { dagId: c.dag.id, taskId: c.task.id, runId: c.items[0].run.run_id, holder });
      c.leaseLost.abort(new LeaseLostError(c.task.id, holder));
    }
  }

  private async recover(): Promise<void> {
    const lost = await recoverLostTaskInstances(this.db, this.owner);
    for (const r of lost) this.log.warn('recovered a lost task instance', { ...r });
    const orphaned = await recoverOrphanedBackfillRuns(this.db, this.owner);
    for (const r of orphaned) this.log.warn('re-queued a backfill run of a dead backfill', { ...r });
    if (lost.length + orphaned.length > 0) this.wake();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let progressed = false;
      let failed = false;
      this.dirty = false;
      try {
        progressed = await this.tick();
        this.lastTickAt = Date.now();
      } catch (err) {
        failed = true;
        this.log.error('scheduler tick failed', { error: errorText(err) });
      }
      if (this.stopping) break;
      if (!progressed && this.idleWhenDone && this.inflight.size === 0 && this.completions.length === 0) {
        if (await this.scopeIsDone()) {
          this.drained = true;
          break;
        }
      }
      // A failed tick keeps its completions for the next turn; retrying at once would spin the loop
      // (and the log) as fast as the failure comes back, so it waits a poll interval first.
      if (!failed && (progressed || this.dirty || this.completions.length > 0)) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  /**
   * Stops claiming, lets running attempts finish for up to `graceMs`, then aborts their signals and
   * records them up_for_retry (try counted). Resolves once everything is written.
   */
  stop(graceMs = this.settings.scheduler.shutdownGraceMs): Promise<void> {
    this.stopped ??= this.stopNow(graceMs);
    return this.stopped;
  }

  private async stopNow(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loopDone;
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...this.inflight.keys()]), grace]);
      clearTimeout(timer);
    }
    if (this.inflight.size > 0) {
      this.log.warn('grace period over: aborting running tasks', { running: this.inflight.size });
      this.shutdown.abort(new ShutdownError(graceMs));
      await Promise.allSettled([...this.inflight.keys()]);
    }
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.recovery) clearInterval(this.recovery);
    const left = this.completions.splice(0);
    await this.db.tx(async (sql) => {
      if (left.length > 0) await this.writeCompletions(sql, left);
      // Only a backfill process runs backfill runs: left 'running', they would hold the daemon's
      // max-active-runs slots until the next backfill. Queued, the next backfill simply restarts them.
      await releaseBackfillRuns(sql, this.owner);
    });
    forgetLiveOwner(this.owner);
    await Promise.allSettled([...this.logCloses]);
  }

  private scopeDags(paused: ReadonlySet<string>): Map<string, Dag> {
    const all = this.opts.dags();
    const ids = this.opts.scope.dagIds ?? [...all.keys()];
    const out = new Map<string, Dag>();
    for (const id of ids) {
      const dag = all.get(id);
      if (dag && !(this.opts.scope.respectPause && paused.has(id))) out.set(id, dag);
    }
    return out;
  }

  /** SQL predicate (and params) restricting dag_runs to the scope's types and dates. */
  private scopeWhere(): { where: string; params: (string | readonly string[])[] } {
    const s = this.opts.scope;
    let where = 'run_type IN (?)';
    const params: (string | readonly string[])[] = [s.runTypes];
    if (s.from) {
      where += ' AND logical_date >= ?';
      params.push(s.from);
    }
    if (s.to) {
      where += ' AND logical_date <= ?';
      params.push(s.to);
    }
    return { where, params };
  }

  private inScope(run: RunRow): boolean {
    const s = this.opts.scope;
    return (
      s.runTypes.includes(run.run_type) &&
      (!s.from || run.logical_date >= s.from) &&
      (!s.to || run.logical_date <= s.to)
    );
  }

  private async scopeIsDone(): Promise<boolean> {
    const dags = this.scopeDags(new Set());
    if (dags.size === 0) return true;
    const { where, params } = this.scopeWhere();
    const [row] = await this.db.read((sql) =>
      sql.all<{ n: number }>(`SELECT COUNT(*) AS n FROM dag_runs WHERE state IN ('queued', 'running') AND dag_id IN (?) AND ${where}`, [
        [...dags.keys()],
        ...params,
      ]),
    );
    return row.n === 0;
  }

  /** One turn of the loop; true when anything changed. */
  private async tick(): Promise<boolean> {
    const done = this.completions.splice(0);
    const claims: Claim[] = [];
    let changed = done.length > 0;
    try {
      await this.tickTx(done, claims, (c) => (changed = changed || c));
    } catch (err) {
      // Rolled back: keep the finished attempts for the next turn, or their instances would stay
      // 'running' under our (renewed) lease forever. Claims were rolled back too and never launched.
      this.completions.unshift(...done);
      throw err;
    }
    for (const c of claims) this.launch(c);
    return changed;
  }

  private async tickTx(done: readonly Completion[], claims: Claim[], markChanged: (changed: boolean) => void): Promise<void> {
    let changed = false;
    await this.db.tx(async (sql) => {
      // The transaction may be retried (SQLITE_BUSY): start from scratch each time.
      claims.length = 0;
      changed = false;
      if (done.length > 0) await this.writeCompletions(sql, done);
      if (this.stopping) return;
      const paused = this.opts.scope.respectPause
        ? new Set((await sql.all<{ dag_id: string }>('SELECT dag_id FROM dags WHERE paused = 1')).map((r) => r.dag_id))
        : new Set<string>();
      const dags = this.scopeDags(paused);
      if (dags.size === 0) return;
      const nowMs = Date.now();
      const nowIso = new Date(nowMs).toISOString();

      // One statement: each DAG's running runs (whoever runs them: max active runs counts them all),
      // numbered in logical-date order, with the instances of those inside the window.
      const caps: (string | number)[] = [];
      for (const dag of dags.values()) caps.push(dag.id, dag.maxActiveRuns);
      const rows = await sql.all<RunRow & { rn: number; ti_id: number | null; task_id: string | null; ti_state: string | null; try_number: number | null; max_tries: number | null; next_retry_at: number | null }>(
        `WITH m AS (SELECT column1 AS dag_id, column2 AS max_runs FROM (VALUES ${placeholders(dags.size, 2)})),
         r AS (
           SELECT dr.id, dr.dag_id, dr.run_id, dr.logical_date, dr.data_interval_start, dr.data_interval_end, dr.run_type, dr.state, dr.conf,
             ROW_NUMBER() OVER (PARTITION BY dr.dag_id ORDER BY dr.logical_date) AS rn, m.max_runs
           FROM dag_runs dr JOIN m ON m.dag_id = dr.dag_id WHERE dr.state = 'running')
         SELECT r.id, r.dag_id, r.run_id, r.logical_date, r.data_interval_start, r.data_interval_end, r.run_type, r.state, r.conf, r.rn,
           ti.id AS ti_id, ti.task_id, ti.state AS ti_state, ti.try_number, ti.max_tries, ti.next_retry_at
         FROM r LEFT JOIN task_instances ti ON ti.run_pk = r.id AND r.rn <= r.max_runs
         ORDER BY r.dag_id, r.logical_date`,
        caps,
      );
      const runningByDag = new Map<string, RunRow[]>();
      const tisByRun = new Map<number, Map<string, TiRow>>();
      for (const row of rows) {
        let byTask = tisByRun.get(row.id);
        if (!byTask) {
          tisByRun.set(row.id, (byTask = new Map()));
          let list = runningByDag.get(row.dag_id);
          if (!list) runningByDag.set(row.dag_id, (list = []));
          list.push(row);
        }
        if (row.ti_id !== null && row.task_id !== null) {
          byTask.set(row.task_id, {
            id: row.ti_id,
            run_pk: row.id,
            task_id: row.task_id,
            state: row.ti_state,
            try_number: row.try_number ?? 0,
            max_tries: row.max_tries ?? 0,
            next_retry_at: row.next_retry_at,
          });
        }
      }
      const waitCache = new Map<string, string | null>();
      const started: RunRow[] = [];
      for (const dag of dags.values()) {
        const list = runningByDag.get(dag.id) ?? [];
        if (list.length >= dag.maxActiveRuns) continue;
        const now = await this.startQueuedRuns(sql, dag, dag.maxActiveRuns - list.length, nowIso, waitCache);
        if (now.length > 0) {
          changed = true;
          list.push(...now);
          started.push(...now);
          runningByDag.set(dag.id, list);
        }
      }
      if (started.length > 0) {
        const fresh = await sql.all<TiRow>(
          'SELECT id, run_pk, task_id, state, try_number, max_tries, next_retry_at FROM task_instances WHERE run_pk IN (?)',
          [started.map((r) => r.id)],
        );
        for (const ti of fresh) {
          let m = tisByRun.get(ti.run_pk);
          if (!m) tisByRun.set(ti.run_pk, (m = new Map()));
          m.set(ti.task_id, ti);
        }
      }

      // The window: each DAG's oldest max-active-runs running runs, so tasks run in logical-date order.
      const window: RunRow[] = [];
      for (const [dagId, list] of runningByDag) {
        const dag = dags.get(dagId)!;
        for (const r of list.slice(0, dag.maxActiveRuns)) if (this.inScope(r)) window.push(r);
      }
      if (window.length === 0) return;

      const toQueue: number[] = [];
      const toUpstreamFailed: number[] = [];
      const finished: { run: RunRow; state: 'success' | 'failed' }[] = [];
      const ready: { dag: Dag; task: Task; run: RunRow; ti: TiRow }[] = [];
      for (const run of window) {
        const dag = dags.get(run.dag_id)!;
        const byTask = tisByRun.get(run.id) ?? new Map<string, TiRow>();
        let allDone = true;
        let anyBad = false;
        for (const task of dag.tasks) {
          const ti = byTask.get(task.id);
          if (!ti) continue; // a task added to the DAG after this run started
          if (ti.state === null) {
            let bad = false;
            let ok = true;
            for (const u of task.upstream) {
              // An upstream with no instance (added to the DAG after this run started) does not block.
              const up = byTask.get(u);
              const s = up ? (up.state ?? 'none') : 'success';
              if (BAD.has(s)) bad = true;
              else if (!OK.has(s)) ok = false;
            }
            if (bad) {
              ti.state = 'upstream_failed';
              toUpstreamFailed.push(ti.id);
            } else if (ok) {
              ti.state = 'queued';
              toQueue.push(ti.id);
            }
          }
          if (!TERMINAL.has(ti.state ?? '')) allDone = false;
          if (BAD.has(ti.state ?? '')) anyBad = true;
          if (ti.state === 'queued' || (ti.state === 'up_for_retry' && (ti.next_retry_at ?? 0) <= nowMs)) {
            ready.push({ dag, task, run, ti });
          }
        }
        if (allDone) finished.push({ run, state: anyBad ? 'failed' : 'success' });
      }
      if (toUpstreamFailed.length > 0) {
        await sql.run("UPDATE task_instances SET state = 'upstream_failed', end_date = ? WHERE id IN (?) AND state IS NULL", [
          nowIso,
          toUpstreamFailed,
        ]);
      }
      for (const f of finished) {
        await sql.run("UPDATE dag_runs SET state = ?, ended_at = ? WHERE id = ? AND state = 'running'", [f.state, nowIso, f.run.id]);
        this.log.info('dag run finished', { dagId: f.run.dag_id, runId: f.run.run_id, state: f.state });
      }
      if (toQueue.length + toUpstreamFailed.length + finished.length > 0) changed = true;

      // Claim within the free slots. Instances running in the window count against max active tasks
      // (only a batch reaches past the window, and a batch is one call).
      let slots = this.stopping ? 0 : this.settings.scheduler.parallelism - this.inflight.size;
      const claimedIds = new Set<number>();
      if (slots > 0 && ready.length > 0) {
        const runningPerDag = new Map<string, number>();
        for (const run of window) {
          for (const ti of tisByRun.get(run.id)?.values() ?? []) {
            if (ti.state === 'running') runningPerDag.set(run.dag_id, (runningPerDag.get(run.dag_id) ?? 0) + 1);
          }
        }
        for (const r of ready) {
          if (slots <= 0) break;
          if (claimedIds.has(r.ti.id)) continue;
          const dagRunning = runningPerDag.get(r.dag.id) ?? 0;
          if (dagRunning >= r.dag.maxActiveTasks) continue;
          let items = [{ ti: r.ti, run: r.run }];
          if (r.task.batch && this.opts.scope.batching && r.run.run_type === 'backfill') {
            items = items.concat(await this.extendBatch(sql, r.dag, r.task, r.run, nowMs, nowIso, waitCache, claimedIds));
          }
          for (const it of items) claimedIds.add(it.ti.id);
          runningPerDag.set(r.dag.id, dagRunning + 1);
          slots -= 1;
          claims.push({ dag: r.dag, task: r.task, items });
        }
      }
      // Instances that became ready but were not claimed now are recorded queued; claimed ones go straight to running.
      const stillQueued = toQueue.filter((id) => !claimedIds.has(id));
      if (stillQueued.length > 0) await sql.run("UPDATE task_instances SET state = 'queued' WHERE id IN (?) AND state IS NULL", [stillQueued]);
      if (claims.length === 0) return;
      const ids = claims.flatMap((c) => c.items.map((i) => i.ti.id));
      await sql.run(
        `UPDATE task_instances SET state = 'running', try_number = try_number + 1, start_date = ?, end_date = NULL, duration = NULL,
           pid = ?, hostname = ?, lease_owner = ?, lease_expires_at = ?, heartbeat_at = ?, next_retry_at = NULL
         WHERE id IN (?)`,
        [nowIso, process.pid, this.hostname, this.owner, nowMs + Math.round(this.settings.scheduler.leaseS * 1000), nowMs, ids],
      );
      for (const c of claims) for (const it of c.items) it.ti.try_number += 1;
      changed = true;
    });
    markChanged(changed);
  }

  /** Max data_interval_end of the successful runs of `dagId` (cached per tick). */
  private async upstreamDoneUntil(sql: Sql, dagId: string, cache: Map<string, string | null>): Promise<string | null> {
    if (!cache.has(dagId)) {
      const [row] = await sql.all<{ e: string | null }>(
        "SELECT MAX(data_interval_end) AS e FROM dag_runs WHERE dag_id = ? AND state = 'success'",
        [dagId],
      );
      cache.set(dagId, row?.e ?? null);
    }
    return cache.get(dagId)!;
  }

  /** True when every DAG `dag` waits for has a successful run reaching this run's interval end. */
  private async waitForMet(sql: Sql, dag: Dag, run: RunRow, cache: Map<string, string | null>): Promise<boolean> {
    for (const up of dag.waitFor) {
      const until = await this.upstreamDoneUntil(sql, up, cache);
      if (until === null || until < run.data_interval_end) return false;
    }
    return true;
  }

  /** Starts up to `n` queued runs of `dag` in logical-date order; stops at the first still waiting. */
  private async startQueuedRuns(sql: Sql, dag: Dag, n: number, nowIso: string, cache: Map<string, string | null>): Promise<RunRow[]> {
    const { where, params } = this.scopeWhere();
    const queued = await sql.all<RunRow>(
      `SELECT id, dag_id, run_id, logical_date, data_interval_start, data_interval_end, run_type, state, conf
       FROM dag_runs WHERE dag_id = ? AND state = 'queued' AND ${where} ORDER BY logical_date LIMIT ?`,
      [dag.id, ...params, n],
    );
    const started: RunRow[] = [];
    for (const run of queued) {
      if (!(await this.waitForMet(sql, dag, run, cache))) break;
      started.push(run);
    }
    if (started.length > 0) await this.markRunsRunning(sql, dag, started, nowIso);
    return started;
  }

  /** queued -> running, and the run's task instances created (waiting, or kept when cleared). */
  private async markRunsRunning(sql: Sql, dag: Dag, runs: readonly RunRow[], nowIso: string): Promise<void> {
    await sql.run("UPDATE dag_runs SET state = 'running', started_at = COALESCE(started_at, ?), ended_at = NULL, owner = ? WHERE id IN (?)", [
      nowIso,
      this.owner,
      runs.map((r) => r.id),
    ]);
    const rows: (string | number)[] = [];
    for (const run of runs) {
      for (const task of dag.tasks) rows.push(run.id, dag.id, run.run_id, task.id, retryPolicyFor(task, dag, this.settings).retries);
      run.state = 'running';
    }
    // Chunked so one statement stays small even for a wide DAG and a long batch.
    const width = 5;
    const perChunk = 200;
    for (let i = 0; i < rows.length; i += width * perChunk) {
      const chunk = rows.slice(i, i + width * perChunk);
      await sql.run(
        `INSERT OR IGNORE INTO task_instances (run_pk, dag_id, run_id, task_id, max_tries) VALUES ${placeholders(chunk.length / width, width)}`,
        chunk,
      );
    }
    for (const run of runs) this.log.info('dag run started', { dagId: dag.id, runId: run.run_id });
  }

  /**
   * The consecutive backfill runs after `first` whose instance of `task` is ready too, up to the
   * batch cap: they join the call. Their runs are started (so the window keeps date order for
   * every other task).
   */
  private async extendBatch(
    sql: Sql,
    dag: Dag,
    task: Task,
    first: RunRow,
    nowMs: number,
    nowIso: string,
    cache: Map<string, string | null>,
    taken: ReadonlySet<number>,
  ): Promise<{ ti: TiRow; run: RunRow }[]> {
    const { where, params } = this.scopeWhere();
    const next = await sql.all<RunRow>(
      `SELECT id, dag_id, run_id, logical_date, data_interval_start, data_interval_end, run_type, state, conf
       FROM dag_runs WHERE dag_id = ? AND state IN ('queued', 'running') AND run_type = 'backfill' AND logical_date > ? AND ${where}
       ORDER BY logical_date LIMIT ?`,
      [dag.id, first.logical_date, ...params, this.batchCap - 1],
    );
    const candidates: RunRow[] = [];
    let prevEnd = first.data_interval_end;
    for (const run of next) {
      if (run.data_interval_start !== prevEnd) break;
      if (run.state === 'queued' && !(await this.waitForMet(sql, dag, run, cache))) break;
      candidates.push(run);
      prevEnd = run.data_interval_end;
    }
    if (candidates.length === 0) return [];
    const queued = candidates.filter((r) => r.state === 'queued');
    if (queued.length > 0) {
      // Create their instances first (OR IGNORE keeps cleared ones); they are started below only if they join.
      const rows: (string | number)[] = [];
      for (const run of queued) {
        for (const t of dag.tasks) rows.push(run.id, dag.id, run.run_id, t.id, retryPolicyFor(t, dag, this.settings).retries);
      }
      for (let i = 0; i < rows.length; i += 1000) {
        const chunk = rows.slice(i, i + 1000);
        await sql.run(
          `INSERT OR IGNORE INTO task_instances (run_pk, dag_id, run_id, task_id, max_tries) VALUES ${placeholders(chunk.length / 5, 5)}`,
          chunk,
        );
      }
    }
    const tis = await sql.all<TiRow>(
      'SELECT id, run_pk, task_id, state, try_number, max_tries, next_retry_at FROM task_instances WHERE run_pk IN (?) AND task_id IN (?)',
      [candidates.map((r) => r.id), [task.id, ...task.upstream]],
    );
    const byRun = new Map<number, Map<string, TiRow>>();
    for (const ti of tis) {
      let m = byRun.get(ti.run_pk);
      if (!m) byRun.set(ti.run_pk, (m = new Map()));
      m.set(ti.task_id, ti);
    }
    const out: { ti: TiRow; run: RunRow }[] = [];
    for (const run of candidates) {
      const m = byRun.get(run.id);
      const ti = m?.get(task.id);
      if (!ti || taken.has(ti.id)) break;
      const due = ti.state === null || ti.state === 'queued' || (ti.state === 'up_for_retry' && (ti.next_retry_at ?? 0) <= nowMs);
      if (!due) break;
      if (!task.upstream.every((u) => { const up = m!.get(u); return !up || OK.has(up.state ?? 'none'); })) break;
      out.push({ ti, run });
    }
    const toStart = out.filter((o) => o.run.state === 'queued').map((o) => o.run);
    if (toStart.length > 0) {
      await sql.run("UPDATE dag_runs SET state = 'running', started_at = COALESCE(started_at, ?), ended_at = NULL, owner = ? WHERE id IN (?)", [
        nowIso,
        this.owner,
        toStart.map((r) => r.id),
      ]);
      for (const r of toStart) r.state = 'running';
    }
    return out;
  }

  /** Records finished attempts in one statement; only rows this process still holds the lease of. */
  private async writeCompletions(sql: Sql, done: readonly Completion[]): Promise<void> {
    const perChunk = 300;
    for (let i = 0; i < done.length; i += perChunk) {
      const chunk = done.slice(i, i + perChunk);
      const values: (string | number | null)[] = [];
      for (const c of chunk) values.push(c.id, c.state, c.endIso, c.durationS, c.nextRetryAt, c.error, c.interrupted ? 1 : 0);
      await sql.run(
        `UPDATE task_instances SET state = v.column2, end_date = v.column3, duration = v.column4, next_retry_at = v.column5,
           last_error = v.column6, max_tries = CASE WHEN v.column7 = 1 AND max_tries < try_number THEN try_number ELSE max_tries END,
           lease_owner = NULL, lease_expires_at = NULL
         FROM (VALUES ${placeholders(chunk.length, 7)}) AS v
         WHERE task_instances.id = v.column1 AND task_instances.lease_owner = ? AND task_instances.state = 'running'`,
        [...values, this.owner],
      );
    }
  }

  /** Runs a claimed call outside the transaction; its result is recorded by the next tick. */
  private launch(claim: Claim): void {
    const running: Running = { ...claim, leaseLost: new AbortController() };
    const p = this.execute(running)
      .catch((err) => this.log.error('attempt bookkeeping failed', { taskId: claim.task.id, error: errorText(err) }))
      .finally(() => {
        this.inflight.delete(p);
        this.wake();
      });
    this.inflight.set(p, running);
  }

  private async execute(claim: Running): Promise<void> {
    const { dag, task, items } = claim;
    const first = items[0];
    const refs: AttemptRef[] = items.map((i) => ({ dagId: dag.id, runId: i.run.run_id, taskId: task.id, attempt: i.ti.try_number }));
    const endOf = (ok: boolean, error: unknown, durationS: number, aborted: boolean): void => {
      const endIso = new Date().toISOString();
      const interrupted = !ok && aborted && this.shutdown.signal.aborted && !(error instanceof TaskTimeoutError);
      const retryable = isRetryable(error);
      let outcome: Completion['state'] = 'success';
      for (const { ti } of items) {
        let state: Completion['state'] = 'success';
        let nextRetryAt: number | null = null;
        if (!ok) {
          if (interrupted) {
            state = 'up_for_retry';
            nextRetryAt = Date.now();
          } else if (retryable && ti.try_number <= ti.max_tries) {
            state = 'up_for_retry';
            nextRetryAt = Date.now() + retryDelayMs(retryPolicyFor(task, dag, this.settings), ti.try_number);
          } else state = 'failed';
        }
        outcome = state;
        this.completions.push({
          id: ti.id,
          state,
          endIso,
          durationS,
          nextRetryAt,
          error: ok ? null : errorText(error),
          interrupted,
        });
      }
      taskAttemptsCounter.inc({ dag_id: dag.id, task_id: task.id, outcome });
      taskDurationHistogram.observe({ dag_id: dag.id, task_id: task.id }, durationS);
      this.onAttemptDone?.(items.length);
    };
    // openAttemptLog never throws: a file that cannot be opened or written is reported here, and the
    // attempt still runs (its log lines are lost, not its work).
    const log = openAttemptLog(this.settings.logDir, refs, {
      echo: this.opts.echo,
      onError: (err, file) => this.log.error('attempt log write failed', { dagId: dag.id, taskId: task.id, file, error: errorText(err) }),
    });
    const intervals = items.map((i) => interval(i.run));
    log.info(`attempt ${first.ti.try_number} of ${dag.id}.${task.id}`, {
      runId: first.run.run_id,
      intervals: intervals.length,
      dataIntervalStart: intervals[0].start.toISOString(),
      dataIntervalEnd: intervals[intervals.length - 1].end.toISOString(),
    });
    let params: Record<string, unknown> = {};
    try {
      params = JSON.parse(first.run.conf || '{}') as Record<string, unknown>;
    } catch {
      params = {};
    }
    const outcome = await runAttempt(
      task.id,
      task.run,
      (signal) =>
        buildTaskContext({
          dagId: dag.id,
          taskId: task.id,
          runId: first.run.run_id,
          tryNumber: first.ti.try_number,
          intervals,
          signal,
          log,
          settings: this.settings,
          params,
        }),
      { timeoutS: task.timeoutS ?? dag.timeoutS, signal: AbortSignal.any([this.shutdown.signal, claim.leaseLost.signal]) },
    );
    if (outcome.ok) {
      log.info('attempt succeeded', outcome.value === undefined ? { durationS: outcome.durationS } : { durationS: outcome.durationS, returned: outcome.value });
      endOf(true, undefined, outcome.durationS, false);
    } else {
      log.logError(outcome.error);
      endOf(false, outcome.error, outcome.durationS, outcome.aborted);
    }
    const closing = log.close().catch(() => undefined);
    this.logCloses.add(closing);
    void closing.finally(() => this.logCloses.delete(closing));
  }
}
