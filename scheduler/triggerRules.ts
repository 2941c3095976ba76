/**
 * When a waiting task instance may run, when a queued or retrying one is due, and when a DAG run is
 * over: pure decisions over task-instance states, no database, so each rule is tested by a table.
 *
 * A trigger rule sees its upstream instances only as counts per state (as Airflow's do), so adding
 * a rule (all_done, one_failed, none_failed, ...) is adding one entry to {@link RULES}.
 */
import type { TaskInstanceState } from './interfaces.js';

/** A task instance's state as stored: null = waiting for its upstream (Airflow's "none"). */
export type StoredState = TaskInstanceState | null;

/** The trigger rules this scheduler implements (Airflow's default only, for now). */
export type TriggerRule = 'all_success';

/** What becomes of a waiting instance: stay waiting, or the state it moves to. */
export type TriggerDecision =
  /** Not yet: some upstream is not finished. */
  | 'wait'
  /** Ready to run. */
  | 'queued'
  /** Never runs: an upstream failed. */
  | 'upstream_failed'
  /** Never runs, without failing the run (for rules that skip; none does yet). */
  | 'skipped';

/** How many upstream instances are in each state. */
export interface UpstreamCounts {
  /** Every upstream instance. */
  readonly total: number;
  readonly success: number;
  readonly skipped: number;
  readonly failed: number;
  readonly upstreamFailed: number;
  /** In a terminal state (success, skipped, failed, upstream_failed). */
  readonly done: number;
}

/** The states an instance never leaves by itself. */
const TERMINAL: ReadonlySet<StoredState> = new Set<StoredState>(['success', 'failed', 'upstream_failed', 'skipped']);

/** The states that make a DAG run fail once all its instances are terminal. */
const FAILING: ReadonlySet<StoredState> = new Set<StoredState>(['failed', 'upstream_failed']);

const RULES: Readonly<Record<TriggerRule, (c: UpstreamCounts) => TriggerDecision>> = {
  // Fails as soon as one upstream failed, without waiting for the others: their result cannot help.
  all_success: (c) => (c.failed + c.upstreamFailed > 0 ? 'upstream_failed' : c.success + c.skipped === c.total ? 'queued' : 'wait'),
};

/** True for success, failed, upstream_failed and skipped. */
export function isTerminal(state: StoredState): boolean {
  return TERMINAL.has(state);
}

/** Counts upstream states. A missing upstream instance (task added after the run started) counts as success. */
export function countUpstream(states: Iterable<StoredState | undefined>): UpstreamCounts {
  let total = 0;
  let success = 0;
  let skipped = 0;
  let failed = 0;
  let upstreamFailed = 0;
  for (const s of states) {
    total += 1;
    if (s === undefined || s === 'success') success += 1;
    else if (s === 'skipped') skipped += 1;
    else if (s === 'failed') failed += 1;
    else if (s === 'upstream_failed') upstreamFailed += 1;
  }
  return { total, success, skipped, failed, upstreamFailed, done: success + skipped + failed + upstreamFailed };
}

/** The decision of `rule` for a waiting instance whose upstream instances are in `upstream`. */
export function evaluateTriggerRule(rule: TriggerRule, upstream: Iterable<StoredState | undefined>): TriggerDecision {
  return RULES[rule](countUpstream(upstream));
}

/** True when an instance should be claimed now: queued, or up for retry with its delay over. */
export function isDue(state: StoredState, nextRetryAt: number | null, nowMs: number): boolean {
  return state === 'queued' || (state === 'up_for_retry' && (nextRetryAt ?? 0) <= nowMs);
}

/** A DAG run's state given all its instances' states: running until every one is terminal. */
export function runOutcome(states: Iterable<StoredState>): 'running' | 'success' | 'failed' {
  let failed = false;
  for (const s of states) {
    if (!TERMINAL.has(s)) return 'running';
    if (FAILING.has(s)) failed = true;
  }
  return failed ? 'failed' : 'success';
}
