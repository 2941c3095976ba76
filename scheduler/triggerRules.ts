/**
 * When a waiting task instance may run, when a queued or retrying one is due, and when a DAG run is
 * over: pure decisions over task-instance states, no database, so each rule is tested by a table.
 *
 * A trigger rule sees its upstream instances only as counts per state (as Airflow's do), so each rule
 * is one entry of {@link RULES}; docs/design/dag-features.md gives the table.
 */
import type { TaskInstanceState } from './interfaces.js';

/** A task instance's state as stored: null = waiting for its upstream (Airflow's "none"). */
export type StoredState = TaskInstanceState | null;

/** Airflow's trigger rules: when a task runs, given how its upstream ended. */
export type TriggerRule = 'all_success' | 'all_done' | 'all_failed' | 'one_failed' | 'one_success' | 'none_failed' | 'none_skipped' | 'always';

/** Every trigger rule, for validating a DAG file (which tsx loads without type checking). */
export const TRIGGER_RULES: readonly TriggerRule[] = ['all_success', 'all_done', 'all_failed', 'one_failed', 'one_success', 'none_failed', 'none_skipped', 'always'];

/** What becomes of a waiting instance: stay waiting, or the state it moves to. */
export type TriggerDecision =
  /** Not yet: some upstream is not finished. */
  | 'wait'
  /** Ready to run. */
  | 'queued'
  /** Never runs: an upstream failed. */
  | 'upstream_failed'
  /** Never runs, without failing the run: the rule cannot be met, and no upstream failure is why. */
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

/**
 * Airflow's decisions (its TriggerRuleDep with flag_upstream_failed), in the same order: a decision
 * that can be made before every upstream is done is made at once (one failure fails all_success, one
 * success starts one_success), so nothing waits on a result that cannot change it.
 */
const RULES: Readonly<Record<TriggerRule, (c: UpstreamCounts) => TriggerDecision>> = {
  // A failure wins over a skip: the run must show it failed, not that a branch was skipped.
  all_success: (c) =>
    c.failed + c.upstreamFailed > 0 ? 'upstream_failed' : c.skipped > 0 ? 'skipped' : c.success === c.total ? 'queued' : 'wait',
  all_done: (c) => (c.done === c.total ? 'queued' : 'wait'),
  // Something did not fail, so "all failed" can no longer come true: skipped, as Airflow.
  all_failed: (c) => (c.success + c.skipped > 0 ? 'skipped' : c.done === c.total ? 'queued' : 'wait'),
  one_failed: (c) => (c.failed + c.upstreamFailed > 0 ? 'queued' : c.done === c.total ? 'skipped' : 'wait'),
  // Every upstream skipped: skipped; done without one success: that is an upstream failure.
  one_success: (c) =>
    c.success > 0 ? 'queued' : c.done < c.total ? 'wait' : c.skipped === c.total ? 'skipped' : 'upstream_failed',
  // A skipped upstream is as good as a successful one; only failures stop it.
  none_failed: (c) => (c.failed + c.upstreamFailed > 0 ? 'upstream_failed' : c.done === c.total ? 'queued' : 'wait'),
  none_skipped: (c) => (c.skipped > 0 ? 'skipped' : c.done === c.total ? 'queued' : 'wait'),
  // No dependency at all: runs as soon as its run starts, whatever the upstream do.
  always: () => 'queued',
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
  const counts = countUpstream(upstream);
  // As Airflow: a task without upstream has nothing to wait for, whatever its rule (one_failed would skip).
  return counts.total === 0 ? 'queued' : RULES[rule](counts);
}

/** True when an instance should be claimed now: queued, or up for retry (or a sensor's next poke) with its delay over. */
export function isDue(state: StoredState, nextRetryAt: number | null, nowMs: number): boolean {
  return state === 'queued' || ((state === 'up_for_retry' || state === 'up_for_reschedule') && (nextRetryAt ?? 0) <= nowMs);
}

/**
 * A DAG run's state given all its instances' states: running until every one is terminal, then failed
 * if any instance failed. Stricter than Airflow, which looks only at the leaves: there an all_done
 * cleanup leaf that succeeds turns a failed run green, and DAGs need a "watcher" task to undo that.
 */
export function runOutcome(states: Iterable<StoredState>): 'running' | 'success' | 'failed' {
  let failed = false;
  for (const s of states) {
    if (!TERMINAL.has(s)) return 'running';
    if (FAILING.has(s)) failed = true;
  }
  return failed ? 'failed' : 'success';
}
