/**
 * The executor: turns queued DAG runs into finished ones, in this process. Its loop runs scheduler
 * turns (schedulerTurn.ts: one metadata transaction each, which returns the calls it claimed),
 * launches those calls (attempt.ts) and hands their completions to the next turn. Around the loop:
 * lease renewal (in the heartbeat thread, heartbeat.ts, so a blocked event loop does not stop it),
 * recovery of other processes' lost work, and a graceful stop.
 */
import os from 'node:os';
import { recordCompletionAlerts } from './alerts/outbox.js';
import { errorText, runClaim } from './attempt.js';
import type { Clock, Dag, Logger, RunType, SensorEnv } from './interfaces.js';
import { metadataSensorEnv } from './dagSucceeded.js';
import { HeartbeatThread, type LeaseKeeper } from './heartbeat.js';
import { forgetLiveOwner, newLeaseOwner, recoverLostTaskInstances, recoverOrphanedBackfillRuns, registerLiveOwner } from './lease.js';
import type { MetadataDb } from './metadata/db.js';
import type { CompletionRow } from './metadata/statements.js';
import { runTurn, type Claim, type TurnContext, type TurnResult } from './schedulerTurn.js';
import type { Settings } from './settings.js';
import { claimedUpstreamResults, type UpstreamResults } from './taskResults.js';
import { attemptTimeoutS } from './taskTimeout.js';
import { LeaseLostError } from './errors/LeaseLostError.js';
import { ShutdownError } from './errors/ShutdownError.js';
import { InterruptibleSleep } from './InterruptibleSleep.js';

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
  /** The metadata database. */
  readonly db: MetadataDb;
  /** The settings (parallelism, leases, grace period, log directory). */
  readonly settings: Settings;
  /** The scheduler log. */
  readonly log: Logger;
  /** The current DAGs by id (the daemon's bag changes while it runs). */
  readonly dags: () => ReadonlyMap<string, Dag>;
  /** Which runs it works on. */
  readonly scope: ExecutorScope;
  /** Lease owner id; default a fresh `host:pid:random`. */
  readonly owner?: string;
  /** Sleep between idle ticks, ms. Default 200. */
  readonly pollMs?: number;
  /** Most intervals one batched call covers. Default 400. */
  readonly batchCap?: number;
  /** Echo attempt logs here too (tests, debugging). */
  readonly echo?: NodeJS.WritableStream;
  /** The clock sensors' timeouts are measured on; default the wall clock. Tests set it. */
  readonly clock?: Clock;
}

/** A launched claim, with what aborts it when its lease is lost. */
interface Running extends Claim {
  /** Its name in the heartbeat thread. */
  readonly key: number;
  readonly leaseLost: AbortController;
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
  private readonly completions: CompletionRow[] = [];
  private readonly inflight = new Map<Promise<void>, Running>();
  private readonly logCloses = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  /** The loop's wait between turns, cut short when work arrives. */
  private readonly idle = new InterruptibleSleep();
  private dirty = false;
  private leases: LeaseKeeper | undefined;
  /** Expired leases of other owners seen by the last recovery pass (recoverLostTaskInstances). */
  private readonly expiredSeen = new Map<number, string>();
  private nextKey = 1;
  private recovery: NodeJS.Timeout | undefined;
  private idleWhenDone = false;
  private drained = false;
  private stopped: Promise<void> | undefined;
  private lastTickAt = 0;
  private turns = 0;
  private readonly sensorEnv: SensorEnv;
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
    this.sensorEnv = metadataSensorEnv(opts.db);
  }

  /** True when stop() ended the loop before its scope was done (a signal, not completion). */
  get interrupted(): boolean {
    return this.stopping && !this.drained;
  }

  /** Epoch ms of the last completed tick: the daemon's health check reads it. */
  get lastTick(): number {
    return this.lastTickAt;
  }

  /** Scheduler turns this executor has run (a backfill waiting on a sensor must not spin them). */
  get turnCount(): number {
    return this.turns;
  }

  /** Attempts running now. */
  get running(): number {
    return this.inflight.size;
  }

  /** Recovers lost instances, then starts the loop, the lease heartbeat and periodic recovery. */
  async start(): Promise<void> {
    await this.recover();
    this.leases = HeartbeatThread.shared().keep({
      owner: this.owner,
      metadataFile: this.db.location,
      leaseS: this.settings.scheduler.leaseS,
      heartbeatS: this.settings.scheduler.heartbeatS,
      onLost: (key, holder) => this.leaseLost(key, holder),
      onError: (message) => this.log.error('lease heartbeat failed', { error: message }),
    });
    this.recovery = setInterval(() => {
      this.recover().catch((err) => this.log.error('recovery failed', { error: errorText(err) }));
    }, Math.max(1000, (this.settings.scheduler.leaseS * 1000) / 2));
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
    this.idle.wake();
  }

  /**
   * The heartbeat thread found an attempt's instance taken over by another process (this one could
   * not renew in time) or by a later try: its result would be discarded anyway, and aborting it
   * keeps the overlap with the new attempt short.
   */
  private leaseLost(key: number, holder: string | null): void {
    const c = [...this.inflight.values()].find((r) => r.key === key);
    // Finished meanwhile: its completion, not the lease, decides.
    if (!c || c.leaseLost.signal.aborted) return;
    this.log.warn('lease lost: aborting the attempt', { dagId: c.dag.id, taskId: c.task.id, runId: c.items[0].run.run_id, holder });
    c.leaseLost.abort(new LeaseLostError(c.task.id, holder));
  }

  private async recover(): Promise<void> {
    const lost = await recoverLostTaskInstances(this.db, this.owner, Date.now(), this.expiredSeen);
    for (const r of lost) this.log.warn('recovered a lost task instance', { ...r });
    const orphaned = await recoverOrphanedBackfillRuns(this.db, this.owner);
    for (const r of orphaned) this.log.warn('re-queued a backfill run of a dead backfill', { ...r });
    if (lost.length + orphaned.length > 0) this.wake();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let turn: Pick<TurnResult, 'changed' | 'again' | 'nextDueMs'> = { changed: false, again: false };
      let failed = false;
      this.dirty = false;
      try {
        turn = await this.tick();
        this.turns += 1;
        this.lastTickAt = Date.now();
      } catch (err) {
        failed = true;
        this.log.error('scheduler tick failed', { error: errorText(err) });
      }
      if (this.stopping) break;
      if (!turn.changed && this.idleWhenDone && this.inflight.size === 0 && this.completions.length === 0) {
        if (await this.scopeIsDone()) {
          this.drained = true;
          break;
        }
      }
      // A failed tick keeps its completions for the next turn; retrying at once would spin the loop
      // (and the log) as fast as the failure comes back, so it waits a poll interval first. Otherwise
      // the next turn comes at once when this one opened new work; a finished attempt wakes the loop.
      if (!failed && (turn.again || this.dirty || this.completions.length > 0)) continue;
      await this.idle.sleep(failed ? this.pollMs : this.idleWaitMs(turn.nextDueMs));
    }
  }

  /**
   * The wait of an idle loop. A backfill (drain) waiting only for a retry or a sensor's next poke sleeps
   * until then, not a poll interval at a time; what else can bring work (a finished attempt, recovery)
   * wakes it. Capped at the recovery interval, so other processes' changes are seen as they were. The
   * daemon keeps polling: runs are created and DAGs unpaused under it.
   */
  private idleWaitMs(nextDueMs: number | undefined): number {
    if (!this.idleWhenDone || nextDueMs === undefined || this.inflight.size > 0) return this.pollMs;
    const capMs = Math.max(1000, (this.settings.scheduler.leaseS * 1000) / 2);
    return Math.min(capMs, Math.max(this.pollMs, nextDueMs - Date.now()));
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
    this.idle.wake();
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
    if (this.recovery) clearInterval(this.recovery);
    const left = this.completions.splice(0);
    try {
      await this.db.tx(async (sql) => {
        if (left.length > 0) await recordCompletionAlerts(sql, this.db.statements, this.owner, left, this.bagForAlerts(), new Date().toISOString());
        if (left.length > 0) await this.db.statements.recordCompletions(sql, this.owner, left);
        // Only a backfill process runs backfill runs: left 'running', they would hold the daemon's
        // max-active-runs slots until the next backfill. Queued, the next backfill simply restarts them.
        await this.db.statements.releaseBackfillRuns(sql, [this.owner]);
      });
    } finally {
      // Only now: the leases of the completions just recorded were kept until they were written.
      await this.leases?.release();
    }
    forgetLiveOwner(this.owner);
    await Promise.allSettled([...this.logCloses]);
  }

  /**
   * The DAGs for the alerts of the completions a stop writes. Only onSuccess callbacks need them, and
   * those completions must be written even when the bag cannot be had: then no success callback runs.
   */
  private bagForAlerts(): ReadonlyMap<string, Dag> {
    try {
      return this.opts.dags();
    } catch (err) {
      this.log.warn('DAG bag unavailable at stop: success callbacks of the last attempts are skipped', { error: errorText(err) });
      return new Map();
    }
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

  private async scopeIsDone(): Promise<boolean> {
    const dags = this.scopeDags(new Set());
    if (dags.size === 0) return true;
    const n = await this.db.read((sql) => this.db.statements.activeRunCount(sql, [...dags.keys()], this.opts.scope));
    return n === 0;
  }

  /** One turn of the loop. */
  private async tick(): Promise<TurnResult> {
    const done = this.completions.splice(0);
    let turn: TurnResult;
    let results = new Map<Claim, UpstreamResults>();
    try {
      // A fresh context per try: the transaction is retried from the start when the database is busy.
      turn = await this.db.tx(async (sql) => {
        const t = await runTurn(sql, this.turnContext(), done);
        results = await claimedUpstreamResults(sql, this.db.statements, t.claims);
        return t;
      });
    } catch (err) {
      // Rolled back: keep the finished attempts for the next turn, or their instances would stay
      // 'running' under our (renewed) lease forever. Claims were rolled back too and never launched.
      this.completions.unshift(...done);
      throw err;
    }
    for (const c of turn.claims) this.launch(c, results.get(c));
    return turn;
  }

  private turnContext(): TurnContext {
    const nowMs = Date.now();
    return {
      statements: this.db.statements,
      settings: this.settings,
      log: this.log,
      scope: this.opts.scope,
      dagsInScope: (paused) => this.scopeDags(paused),
      stopping: this.stopping,
      slots: this.settings.scheduler.parallelism - this.inflight.size,
      batchCap: this.batchCap,
      stamp: {
        owner: this.owner,
        pid: process.pid,
        hostname: this.hostname,
        nowMs,
        nowIso: new Date(nowMs).toISOString(),
        leaseExpiresAt: nowMs + Math.round(this.settings.scheduler.leaseS * 1000),
      },
    };
  }

  /** Runs a claimed call outside the transaction; its result is recorded by the next turn. */
  private launch(claim: Claim, upstreamResults: UpstreamResults | undefined): void {
    const running: Running = { ...claim, key: this.nextKey++, leaseLost: new AbortController() };
    const timeoutS = attemptTimeoutS(claim.task, claim.dag, this.settings);
    const items = claim.items.map((i) => ({ id: i.ti.id, tryNumber: i.ti.try_number }));
    this.leases?.track(running.key, items, timeoutS === undefined ? null : Date.now() + timeoutS * 1000);
    const deps = {
      settings: this.settings,
      log: this.log,
      shutdown: this.shutdown.signal,
      leaseLost: running.leaseLost.signal,
      echo: this.opts.echo,
      upstreamResults,
      clock: this.opts.clock,
      sensorEnv: this.sensorEnv,
    };
    const p = runClaim(running, deps)
      .then(({ completions, logClosed }) => {
        this.completions.push(...completions);
        this.onAttemptDone?.(completions.length);
        this.logCloses.add(logClosed);
        void logClosed.finally(() => this.logCloses.delete(logClosed));
      })
      .catch((err) => this.log.error('attempt bookkeeping failed', { taskId: claim.task.id, error: errorText(err) }))
      .finally(() => {
        this.leases?.finished(running.key);
        this.inflight.delete(p);
        this.wake();
      });
    this.inflight.set(p, running);
  }
}
