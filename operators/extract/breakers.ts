/**
 * One opossum circuit breaker per source host, shared by every task of the process, so a source that
 * is down is failed fast by all extracts at once instead of being hammered by each. State changes are
 * logged (naming the host) to every task currently using that breaker, and exported as a gauge.
 */
import CircuitBreaker from 'opossum';
import type { Logger } from '../../scheduler/interfaces.js';
import { breakerStateGauge } from '../../scheduler/metrics.js';
import type { Settings } from '../../scheduler/settings.js';
import { CircuitOpenError } from './CircuitOpenError.js';

type Thunk = () => Promise<unknown>;

/** A host's breaker with the loggers of the tasks using it. */
export interface HostBreaker {
  readonly host: string;
  readonly breaker: CircuitBreaker<[Thunk], unknown>;
  /** Loggers of tasks currently calling through this breaker. */
  readonly listeners: Set<Logger>;
  /** State changes seen while no task was listening (e.g. half-open on its timer); told to the next task. */
  readonly pending: Array<{ level: 'info' | 'warn'; message: string; meta: Record<string, unknown> }>;
  /** When it last opened (undefined while closed). */
  openedAt: Date | undefined;
  /** When it first opened since it was last closed: a failed half-open trial re-opens it, the outage goes on. */
  downSince: Date | undefined;
  readonly resetTimeoutMs: number;
  /** `scheme://host:port` of the source, without userinfo: what errors name. */
  readonly origin: string;
}

const registry = new Map<string, HostBreaker>();

/** Failures that say nothing about the host's health (a 404, a bad body) do not count towards opening. */
export type IgnoreError = (err: unknown) => boolean;

function broadcast(b: HostBreaker, level: 'info' | 'warn', message: string, meta: Record<string, unknown>): void {
  if (b.listeners.size === 0) {
    b.pending.push({ level, message, meta });
    if (b.pending.length > 10) b.pending.shift();
  }
  for (const log of b.listeners) log[level](message, meta);
}

/** Registers a task's logger for state-change lines, first telling it what happened while nobody listened. */
export function listen(b: HostBreaker, log: Logger): void {
  for (const p of b.pending.splice(0)) log[p.level](p.message, p.meta);
  b.listeners.add(log);
}

/**
 * Longest wait a task is told while the breaker is half-open with its one trial request still out:
 * the trial decides soon, and a deferral until the next reset would waste a recovery.
 */
const TRIAL_WAIT_MS = 1000;

/** The breaker of `host`, created from `settings` on first use; `origin` (no userinfo) is how errors name the source. */
export function breakerFor(host: string, settings: Settings['source']['breaker'], ignore: IgnoreError, origin = `http://${host}`): HostBreaker {
  let b = registry.get(host);
  if (b) return b;
  const breaker = new CircuitBreaker<[Thunk], unknown>((thunk: Thunk) => thunk(), {
    // Requests have their own timeout (settings.source.timeoutMs); opossum's would cut long bodies.
    timeout: false,
    errorThresholdPercentage: settings.errorThresholdPercentage,
    volumeThreshold: settings.volumeThreshold,
    rollingCountTimeout: settings.rollingCountTimeoutMs,
    resetTimeout: settings.resetTimeoutMs,
    errorFilter: ignore,
  });
  const hb: HostBreaker = { host, breaker, listeners: new Set(), pending: [], openedAt: undefined, downSince: undefined, resetTimeoutMs: settings.resetTimeoutMs, origin };
  breakerStateGauge.set({ host }, 0);
  breaker.on('open', () => {
    hb.openedAt = new Date();
    hb.downSince ??= hb.openedAt;
    breakerStateGauge.set({ host }, 2);
    const until = new Date(hb.openedAt.getTime() + hb.resetTimeoutMs).toISOString();
    broadcast(hb, 'warn', `circuit breaker for ${host} opened: failing fast until ${until}`, { host, state: 'open', until });
  });
  breaker.on('halfOpen', () => {
    breakerStateGauge.set({ host }, 1);
    broadcast(hb, 'info', `circuit breaker for ${host} half-open: letting a trial request through`, { host, state: 'half_open' });
  });
  breaker.on('close', () => {
    hb.openedAt = undefined;
    hb.downSince = undefined;
    breakerStateGauge.set({ host }, 0);
    broadcast(hb, 'info', `circuit breaker for ${host} closed: the source answers again`, { host, state: 'closed' });
  });
  registry.set(host, hb);
  return hb;
}

/** Runs `thunk` through the host's breaker; an open breaker rejects with {@link CircuitOpenError}. */
export async function throughBreaker<T>(hb: HostBreaker, thunk: () => Promise<T>): Promise<T> {
  try {
    return (await hb.breaker.fire(thunk)) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'EOPENBREAKER') throw circuitOpen(hb);
    throw err;
  }
}

/**
 * The CircuitOpenError of an open (or half-open, trial pending) breaker: the time it may let a
 * request through, and since when the host has been down.
 */
export function circuitOpen(hb: HostBreaker, cause?: unknown): CircuitOpenError {
  const now = Date.now();
  const opened = hb.openedAt?.getTime() ?? now;
  let until = opened + hb.resetTimeoutMs;
  // Half-open with the trial still out: its answer decides soon. Told by the breaker's state, not only by
  // the clock: its reset timer may fire a millisecond before openedAt (taken in the 'open' listener) + reset.
  if (until <= now || hb.breaker.halfOpen) until = now + Math.min(hb.resetTimeoutMs, TRIAL_WAIT_MS);
  return new CircuitOpenError(hb.host, new Date(until), hb.origin, hb.downSince ?? new Date(opened), cause === undefined ? undefined : { cause });
}

/** Drops every breaker (tests; a process normally keeps them for its lifetime). */
export function resetBreakers(): void {
  for (const b of registry.values()) b.breaker.shutdown();
  registry.clear();
}
