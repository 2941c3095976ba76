/**
 * The retry policy, compiled in one place: how many retries a task gets, how long to wait before
 * each, and which errors are worth retrying. Retries are recorded in the metadata (up_for_retry with
 * next_retry_at), never held in memory, so a crash between two attempts loses nothing.
 */
import { NonRetryableError } from './errors/NonRetryableError.js';
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
