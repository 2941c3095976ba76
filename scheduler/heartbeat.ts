/**
 * The heartbeat thread: a worker thread that renews the leases of this process's running attempts
 * and serves the daemon's /healthz and /metrics, so that neither stops while the main thread's event
 * loop is blocked (a task computing synchronously, a DAG file whose import spins). On the main thread
 * the lease heartbeat and the listener froze with everything else: /healthz gave no answer, and once
 * the block outlasted the lease another daemon took the instance over and ran it a second time.
 * Airflow's scheduler keeps its heartbeat apart from the work for the same reason.
 *
 * One thread per process, started on first use and shared by its executors. The main thread tells it
 * which attempts run (with their timeout deadline) and when they end; the thread stops renewing an
 * attempt past its deadline, so a task stuck for ever still loses its lease and a task timeout still
 * bounds it. A shared clock says when the main thread's loop last ran, which /healthz reports.
 * Why and what was measured: docs/design/heartbeat.md.
 */
import type { Worker } from 'node:worker_threads';
import { ConfigError } from './errors/ConfigError.js';
import { BEAT_MS, BLOCKED_AFTER_MS, CLOCK_SLOTS, type ErrorData, type FromHeartbeat, type ServeOptions, type ToHeartbeat, type TrackedItem } from './heartbeatMessages.js';
import type { HttpServerHandle, MetricsText } from './httpServer.js';
import { startTsWorker } from './tsWorker.js';

/** What an executor keeps through the thread. */
export interface LeaseKeeperOptions {
  /** The executor's lease owner id. */
  readonly owner: string;
  /** Its metadata database: a file, or a postgres:// URL (MetadataDb.location). */
  readonly metadataFile: string;
  /** DRIVETRAIN_LEASE_S. */
  readonly leaseS: number;
  /** DRIVETRAIN_HEARTBEAT_S. */
  readonly heartbeatS: number;
  /** Another process holds an instance of attempt `key` now (`holder`, or null: not running any more). */
  onLost(key: number, holder: string | null): void;
  /** A renewal failed, or the thread stopped; one line for the scheduler log. */
  onError(message: string): void;
}

/** An executor's handle on the thread. */
export interface LeaseKeeper {
  /** Attempt `key` started on `items`; past `deadlineMs` (null: no timeout) its leases lapse. */
  track(key: number, items: readonly TrackedItem[], deadlineMs: number | null): void;
  /** Attempt `key` ended; its leases are renewed with the owner's until the completion is recorded. */
  finished(key: number): void;
  /** Stops renewing (after the executor recorded its last completions). */
  release(): Promise<void>;
}

/** What the daemon's listener serves besides the thread's own checks. */
export interface ServeSources extends ServeOptions {
  /** Epoch ms of the scheduler loop's last turn. */
  lastTick(): number;
  /** The main thread's metrics registry as text. */
  metrics(): Promise<MetricsText>;
}

function errorFrom(data: ErrorData): Error {
  if (data.name === 'ConfigError' && data.setting !== undefined) return new ConfigError(data.message, data.setting);
  const err = new Error(data.message);
  err.name = data.name;
  return err;
}

/** The process's heartbeat thread (see the module comment). */
export class HeartbeatThread {
  private static current: HeartbeatThread | undefined;

  /** The thread of this process, started on first use. */
  static shared(): HeartbeatThread {
    HeartbeatThread.current ??= new HeartbeatThread();
    return HeartbeatThread.current;
  }

  private readonly worker: Worker;
  private readonly clock = new BigInt64Array(new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT));
  private readonly beatTimer: NodeJS.Timeout;
  private readonly replies = new Map<number, (m: Extract<FromHeartbeat, { kind: 'reply' }>) => void>();
  private readonly keepers = new Map<string, LeaseKeeperOptions>();
  private nextRef = 1;
  private lastBeat = Date.now();
  /** When the loop was last found free after a block: a stale-loop clock restarts there. */
  private freeSince = Date.now();
  private sources: ServeSources | undefined;
  private dead: Error | undefined;

  private constructor() {
    this.stamp();
    this.worker = startTsWorker(new URL('./heartbeatWorker.ts', import.meta.url).href, { clock: this.clock.buffer });
    this.worker.on('message', (m: FromHeartbeat) => this.onMessage(m));
    this.worker.on('error', (err) => this.die(new Error(`heartbeat thread failed: ${err.message}`)));
    this.worker.on('exit', (code) => this.die(new Error(`heartbeat thread exited with code ${code}`)));
    // The thread must not keep a finished process alive; what it holds is closed by release/unserve.
    // After the listeners: adding one refs the thread again.
    this.worker.unref();
    this.beatTimer = setInterval(() => this.stamp(), BEAT_MS);
    this.beatTimer.unref();
  }

  private stamp(): void {
    const now = Date.now();
    if (now - this.lastBeat > BLOCKED_AFTER_MS) this.freeSince = now;
    this.lastBeat = now;
    Atomics.store(this.clock, CLOCK_SLOTS.beat, BigInt(now));
    const tick = this.sources?.lastTick() ?? 0;
    Atomics.store(this.clock, CLOCK_SLOTS.tick, BigInt(tick > 0 ? Math.max(tick, this.freeSince) : 0));
  }

  private post(message: ToHeartbeat): void {
    if (!this.dead) this.worker.postMessage(message);
  }

  private request(message: ToHeartbeat & { ref: number }): Promise<Extract<FromHeartbeat, { kind: 'reply' }>> {
    if (this.dead) return Promise.reject(this.dead);
    // Held while a reply is due: an unref'd thread would let the process exit with the caller waiting.
    this.worker.ref();
    return new Promise((resolve) => {
      this.replies.set(message.ref, (reply) => {
        if (this.replies.size === 0) this.worker.unref();
        resolve(reply);
      });
      this.worker.postMessage(message);
    });
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    clearInterval(this.beatTimer);
    if (HeartbeatThread.current === this) HeartbeatThread.current = undefined;
    for (const k of this.keepers.values()) k.onError(err.message);
    for (const resolve of this.replies.values()) resolve({ kind: 'reply', ref: 0, error: { name: err.name, message: err.message } });
    this.replies.clear();
  }

  private onMessage(m: FromHeartbeat): void {
    switch (m.kind) {
      case 'reply': {
        const resolve = this.replies.get(m.ref);
        this.replies.delete(m.ref);
        resolve?.(m);
        return;
      }
      case 'lost':
        this.keepers.get(m.owner)?.onLost(m.key, m.holder);
        return;
      case 'error':
        if (m.owner !== undefined) this.keepers.get(m.owner)?.onError(m.message);
        else for (const k of this.keepers.values()) k.onError(m.message);
        return;
      case 'metrics?':
        void this.answerMetrics(m.ref);
        return;
    }
  }

  private async answerMetrics(ref: number): Promise<void> {
    if (!this.sources) return;
    try {
      const { contentType, text } = await this.sources.metrics();
      this.post({ kind: 'metrics', ref, contentType, text });
    } catch {
      // The worker serves its last copy when no answer comes.
    }
  }

  /** Renews `opts.owner`'s leases from the thread until release(). */
  keep(opts: LeaseKeeperOptions): LeaseKeeper {
    this.keepers.set(opts.owner, opts);
    if (this.dead) opts.onError(this.dead.message);
    this.post({ kind: 'keep', owner: opts.owner, file: opts.metadataFile, leaseMs: Math.round(opts.leaseS * 1000), everyMs: Math.round(opts.heartbeatS * 1000) });
    let released: Promise<void> | undefined;
    return {
      track: (key, items, deadlineMs) => this.post({ kind: 'track', owner: opts.owner, key, items, deadlineMs }),
      finished: (key) => this.post({ kind: 'finished', owner: opts.owner, key }),
      release: () =>
        (released ??= (async () => {
          this.keepers.delete(opts.owner);
          if (this.dead) return;
          const reply = await this.request({ kind: 'release', ref: this.nextRef++, owner: opts.owner });
          if (reply.error) opts.onError(reply.error.message);
        })()),
    };
  }

  /**
   * Has the listener forward every path but /healthz and /metrics to the web console listening on
   * 127.0.0.1:`port` in this thread. Until then those paths answer 503 (starting).
   */
  forwardConsole(port: number): void {
    this.post({ kind: 'console', port });
  }

  /**
   * Starts the health and metrics listener in the thread. Rejects as startHttpServer does (a
   * ConfigError naming the variable when the port is taken).
   */
  async serve(sources: ServeSources): Promise<HttpServerHandle> {
    const { lastTick: _lastTick, metrics: _metrics, ...options } = sources;
    this.sources = sources;
    this.stamp();
    const reply = await this.request({ kind: 'serve', ref: this.nextRef++, ...options });
    if (reply.error || reply.port === undefined) {
      this.sources = undefined;
      throw errorFrom(reply.error ?? { name: 'Error', message: 'heartbeat thread did not start the listener' });
    }
    let closing: Promise<void> | undefined;
    return {
      port: reply.port,
      close: () =>
        (closing ??= (async () => {
          this.sources = undefined;
          if (this.dead) return;
          const r = await this.request({ kind: 'unserve', ref: this.nextRef++ });
          if (r.error) throw errorFrom(r.error);
        })()),
    };
  }
}
