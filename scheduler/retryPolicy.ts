/**
 * The retry policy, compiled in one place: how many retries a task gets, how long to wait before
 * each, which errors are worth retrying, and when a deferral (TaskDeferredError) is rescheduled
 * without counting its try. Retries are recorded in the metadata (up_for_retry with next_retry_at),
 * never held in memory, so a crash between two attempts loses nothing.
 */
import { NonRetryableError } from './errors/NonRetryableError.js';
import { RescheduleLimitError } from './errors/RescheduleLimitError.js';
import { isTaskDeferred, type TaskDeferredError } from './errors/TaskDeferredError.js';
import type { Dag, Task } from './interfaces.js';
import type { Settings } from './settings.js';

/** The effective retry settings of one task. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  /** Delay before the first retry, seconds; doubles each retry. */
  readonly retryDelayS: number;
}

/** Longest wait between two attempts, whatever the doubling says. */
const MAX_DELAY_MS = 24 * 3600 * 1000;
/** Jitter: the delay is scaled by a factor in [1 - JITTER, 1 + JITTER), so retries of many tasks spread out. */
const JITTER = 0.2;

/** task.retries ?? dag.retries ?? DRIVETRAIN_TASK_RETRIES, and the same for the delay. */
export function retryPolicyFor(task: Task, dag: Dag, settings: Settings): RetryPolicy {
  return {
    retries: task.retries ?? dag.retries ?? settings.task.retries,
    retryDelayS: task.retryDelayS ?? dag.retryDelayS ?? settings.task.retryDelayS,
  };
}

/** Milliseconds to wait after failed attempt `tryNumber` (1-based): delay * 2^(try-1), with jitter. */
export function retryDelayMs(policy: RetryPolicy, tryNumber: number, random: () => number = Math.random): number {
  const base = policy.retryDelayS * 1000 * 2 ** Math.max(0, tryNumber - 1);
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.round(Math.min(MAX_DELAY_MS, jittered));
}

/** False for errors a retry cannot fix (NonRetryableError anywhere in the cause chain). */
export function isRetryable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    // The name check covers a NonRetryableError class from another copy of the module.
    if (e instanceof NonRetryableError || (e as Error).name === 'NonRetryableError') return false;
  }
  return true;
}

/**
 * Shortest wait before a rescheduled attempt, whatever the deferral says: a `notBefore` already past
 * (a breaker half-open with its trial request still out) must not make the scheduler claim and
 * defer the same instance in a tight loop.
 */
const MIN_RESCHEDULE_MS = 250;

/** What becomes of an attempt that ended in a deferral. */
export type RescheduleDecision =
  /** Re-queued for `notBeforeMs`, its try given back. */
  | { readonly kind: 'reschedule'; readonly deferred: TaskDeferredError; readonly notBeforeMs: number }
  /** The condition has lasted past the limit: the attempt fails with `error`, without retries. */
  | { readonly kind: 'give_up'; readonly error: RescheduleLimitError };

/** The first TaskDeferredError in the cause chain of `err`. */
export function deferredCause(err: unknown): TaskDeferredError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (isTaskDeferred(e)) return e;
  }
  return undefined;
}

/**
 * Undefined unless `err` is a deferral (and nothing in its chain says no retry helps); then a
 * reschedule for the deferral's `notBefore`, or, once its condition has lasted `limitS` since its
 * `since`, a RescheduleLimitError ending in `gave up after <n> s`.
 */
export function rescheduleDecision(err: unknown, nowMs: number, limitS: number): RescheduleDecision | undefined {
  if (!isRetryable(err)) return undefined;
  const deferred = deferredCause(err);
  if (!deferred) return undefined;
  const elapsedMs = nowMs - deferred.since.getTime();
  if (elapsedMs >= limitS * 1000) {
    return { kind: 'give_up', error: new RescheduleLimitError(deferred.reason, deferred.since, elapsedMs / 1000, limitS, { cause: err }) };
  }
  return { kind: 'reschedule', deferred, notBeforeMs: Math.max(deferred.notBefore.getTime(), nowMs + MIN_RESCHEDULE_MS) };
}
