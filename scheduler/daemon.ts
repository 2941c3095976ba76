/**
 * The long-running scheduler (`drivetrain start`): loads and watches the DAG bag, creates due runs on
 * a node-cron tick, executes scheduled and manual runs, recovers lost task instances, serves
 * /healthz and /metrics (from the heartbeat thread, heartbeat.ts, so they answer while a task or a
 * DAG import blocks this thread), and shuts down cleanly on SIGTERM/SIGINT.
 */
import type { FastifyInstance } from 'fastify';
import cron, { type Logger as CronLogger } from 'node-cron';
import { startAlerts, type RunningAlerts } from './alerts/service.js';
import type { AddressInfo } from 'node:net';
import { clockFromSettings } from './clock.js';
import { DEFAULT_IMPORT_TIMEOUT_MS, loadConfiguredDagBag, watchDagBag, type DagBag } from './dagLoader.js';
import { ConfigError } from './errors/ConfigError.js';
import { Executor } from './executor.js';
import { HeartbeatThread } from './heartbeat.js';
import type { HttpServerHandle } from './httpServer.js';
import type { Clock, Dag, Logger } from './interfaces.js';
import { removeOldTaskLogs } from './logRetention.js';
import type { SchedulerLogger } from './logging.js';
import { syncDags } from './metadata/dagTable.js';
import type { MetadataDb } from './metadata/db.js';
import { dagRunsGauge, metricsText, setPoolGauges, taskInstancesGauge } from './metrics.js';
import { poolUses } from './pools.js';
import { createDueRuns } from './runCreator.js';
import { storeDagBag } from './serializedDag.js';
import type { Settings } from './settings.js';
import { consoleDepsFromSettings, createConsoleApp } from './web/app.js';

/** Options of {@link Daemon}. */
export interface DaemonOptions {
  readonly settings: Settings;
  readonly db: MetadataDb;
  readonly log: SchedulerLogger;
  /** Default: the fixed clock of DRIVETRAIN_NOW, else the wall clock. */
  readonly clock?: Clock;
}

/**
 * How old the executor loop's last turn may be before /healthz turns unhealthy: one lease period
 * (DRIVETRAIN_LEASE_S). A loop stalled that long can no longer renew its leases, so other processes
 * may already be taking its task instances over; that is exactly when ops should hear about it.
 */
export function staleLoopMs(settings: Settings): number {
  return settings.scheduler.leaseS * 1000;
}

/**
 * How long /healthz lets the event loop stay blocked while no task runs: a DAG file imported in this
 * thread spins at most as long as the import probe let it (the import time limit), and a stale-loop
 * period in any case. While tasks run, each may block it until its own timeout.
 */
export function blockedLimitMs(settings: Settings): number {
  return Math.max(staleLoopMs(settings), DEFAULT_IMPORT_TIMEOUT_MS);
}
const HOUR_MS = 3600_000;

/** node-cron's logger interface, routed into the scheduler log. */
function cronLogger(log: Logger): CronLogger {
  const text = (m: string | Error): string => (m instanceof Error ? m.message : m);
  return {
    info: (m) => log.info(`node-cron: ${m}`),
    warn: (m) => log.warn(`node-cron: ${m}`),
    error: (m, err) => log.error(`node-cron: ${text(m)}`, err ? { error: err.message } : undefined),
    debug: (m, err) => log.debug(`node-cron: ${text(m)}`, err ? { error: err.message } : undefined),
  };
}

/** The daemon; start() then wait for stopped, or call stop(). */
export class Daemon {
  private bag: DagBag = { dags: new Map(), errors: [] };
  private executor: Executor | undefined;
  private watcher: { close(): void } | undefined;
  private tickTask: ReturnType<typeof cron.schedule> | undefined;
  /** The listener in the heartbeat thread, once asked for (it starts while the DAG files load). */
  private http: Promise<HttpServerHandle> | undefined;
  private httpPortBound: number | undefined;
  /** The web console, on a loopback port of this thread that the heartbeat thread's listener forwards to. */
  private console: FastifyInstance | undefined;
  private retention: NodeJS.Timeout | undefined;
  private alerts: RunningAlerts | undefined;
  private stopping: Promise<void> | undefined;
  private readonly clock: Clock;

  constructor(private readonly opts: DaemonOptions) {
    this.clock = opts.clock ?? clockFromSettings(opts.settings);
  }

  /** The bound health/metrics port (after start). */
  get httpPort(): number | undefined {
    return this.httpPortBound;
  }

  private setBag(bag: DagBag): void {
    this.bag = bag;
    // Import errors are not logged here: the loader already logs each with its file and reason.
    // A waitFor naming a DAG that is not loaded (a typo, or its file failed) holds every run's tasks
    // back until its sensor times out, without a word from the sensor itself.
    for (const dag of bag.dags.values()) {
      const missing = dag.waitFor.filter((id) => !bag.dags.has(id));
      if (missing.length > 0) this.opts.log.warn('DAG waits for DAGs that are not loaded: its waitFor sensors will time out', { dagId: dag.id, missing });
    }
    this.opts.log.info('DAG bag loaded', { dags: [...bag.dags.keys()], errors: bag.errors.length });
  }

  private dags(): ReadonlyMap<string, Dag> {
    return this.bag.dags;
  }

  /** Starts the listener, loads the bag, recovers, and starts every loop. */
  async start(): Promise<void> {
    const { settings, db, log } = this.opts;
    if (!cron.validate(settings.scheduler.tick)) {
      throw new ConfigError(`DRIVETRAIN_SCHEDULER_TICK: '${settings.scheduler.tick}' is not a valid node-cron pattern`, 'DRIVETRAIN_SCHEDULER_TICK');
    }
    // Asked first and awaited before anything is scheduled, so a port in use stops the start (exit 2);
    // the thread starts it while the DAG files load. Health is judged in the heartbeat thread
    // (heartbeatWorker.ts): the loop's last turn, a write on the metadata database, the warehouse file.
    this.http = HeartbeatThread.shared().serve({
      host: settings.http.host,
      port: settings.http.port,
      metadataFile: db.location,
      warehouseFile: settings.warehouseDb,
      staleLoopMs: staleLoopMs(settings),
      blockedLimitMs: blockedLimitMs(settings),
      lastTick: () => this.executor?.lastTick ?? 0,
      metrics: metricsText,
    });
    // Awaited below; a DAG folder that fails first must not leave it unhandled.
    this.http.catch(() => undefined);
    this.setBag(await loadConfiguredDagBag(settings, log));
    this.httpPortBound = (await this.http).port;
    await syncDags(db, this.bag.dags.values());
    await storeDagBag(db, this.bag, settings);
    this.executor = new Executor({
      db,
      settings,
      log,
      dags: () => this.dags(),
      scope: { runTypes: ['scheduled', 'manual'], respectPause: true, batching: false },
    });
    await this.executor.start();
    this.watcher = watchDagBag(
      settings.dagsDir,
      (bag) => {
        this.setBag(bag);
        syncDags(db, bag.dags.values())
          .then(() => storeDagBag(db, bag, settings))
          .then(() => this.createRuns())
          .catch((err) => log.error('DAG bag sync failed', { error: (err as Error).message }));
      },
      log,
      { pools: settings.scheduler.pools },
    );
    await this.createRuns();
    this.tickTask = cron.schedule(settings.scheduler.tick, () => void this.createRuns(), {
      noOverlap: true,
      // node-cron's own logger prints coloured plain text through console.*; stdout is JSON lines.
      logger: cronLogger(log),
    });
    // A blocked event loop makes node-cron skip ticks; the next tick creates whatever is due anyway,
    // so a missed tick is worth a debug line, not a warning (listening also silences node-cron's own).
    this.tickTask.on('execution:missed', (ctx) => log.debug('run-creation tick missed', { at: ctx.date.toISOString() }));
    // The console runs here, beside the DAG bag and the scheduler log; the listener in the heartbeat
    // thread forwards to it, so /healthz keeps answering while this thread is blocked.
    this.console = await createConsoleApp(await consoleDepsFromSettings(settings, db, log));
    await this.console.listen({ host: '127.0.0.1', port: 0 });
    HeartbeatThread.shared().forwardConsole((this.console.server.address() as AddressInfo).port);
    // The bound port, so an alert's log_url points at this listener also when the setting is 0.
    const bound = { ...settings, http: { ...settings.http, port: this.httpPortBound ?? settings.http.port } };
    this.alerts = await startAlerts({ db, settings: bound, log, dags: () => this.dags(), clock: this.clock });
    this.retention = setInterval(() => void this.removeOldLogs(), HOUR_MS);
    this.retention.unref();
    void this.removeOldLogs();
    log.info('scheduler started', { pid: process.pid, owner: this.executor.owner, httpPort: this.httpPortBound, dagsDir: settings.dagsDir });
  }

  private async createRuns(): Promise<void> {
    const { db, log } = this.opts;
    try {
      const n = await createDueRuns(db, this.bag.dags.values(), this.clock.now(), log);
      if (n > 0) this.executor?.wake();
      await this.updateGauges();
    } catch (err) {
      log.error('run creation failed', { error: (err as Error).message });
    }
  }

  private async updateGauges(): Promise<void> {
    const { db } = this.opts;
    const rows = await db.read(async (sql) => ({
      runs: await db.statements.runCountsByState(sql),
      tis: await db.statements.taskInstanceCountsByState(sql),
      // The wall clock, as the executor's: whether a retry is due is a scheduling fact, not data.
      pools: await db.statements.poolUse(sql, Date.now()),
    }));
    dagRunsGauge.reset();
    taskInstancesGauge.reset();
    for (const r of rows.runs) dagRunsGauge.set({ dag_id: r.dag_id, state: r.state }, r.n);
    for (const r of rows.tis) taskInstancesGauge.set({ dag_id: r.dag_id, state: r.state ?? 'none' }, r.n);
    setPoolGauges(poolUses(this.opts.settings.scheduler.pools, rows.pools));
  }

  private async removeOldLogs(): Promise<void> {
    const { settings, log } = this.opts;
    try {
      // Retention is housekeeping on real files, so it uses the wall clock, not DRIVETRAIN_NOW.
      const removed = await removeOldTaskLogs(settings.logDir, settings.scheduler.logRetentionDays, new Date());
      if (removed > 0) log.info('old task logs removed', { runs: removed });
    } catch (err) {
      log.error('log retention failed', { error: (err as Error).message });
    }
  }

  /** Stops creating runs and claiming, gives running tasks the grace period, records the rest up_for_retry. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { log } = this.opts;
      log.info('scheduler stopping', { graceMs: this.opts.settings.scheduler.shutdownGraceMs, running: this.executor?.running ?? 0 });
      await this.tickTask?.stop();
      this.watcher?.close();
      if (this.retention) clearInterval(this.retention);
      await this.executor?.stop();
      await this.alerts?.stop();
      await this.http?.then((h) => h.close(), () => undefined);
      await this.console?.close();
      log.info('scheduler stopped');
    })();
    return this.stopping;
  }
}
