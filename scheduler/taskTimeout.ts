/**
 * The timeout of a task attempt, compiled in one place as the retry policy is (retryPolicy.ts): the
 * task's own `timeoutS`, else its DAG's, else DRIVETRAIN_TASK_TIMEOUT_S. Without the last fallback a
 * task that never returns stayed running for ever, its lease renewed by the heartbeat.
 */
import type { Dag, Task } from './interfaces.js';
import type { Settings } from './settings.js';

/** task.timeoutS ?? dag.timeoutS ?? DRIVETRAIN_TASK_TIMEOUT_S, in seconds; undefined when that is `0` (no timeout). */
export function attemptTimeoutS(task: Task, dag: Dag, settings: Settings): number | undefined {
  const timeoutS = task.timeoutS ?? dag.timeoutS ?? settings.task.timeoutS;
  return timeoutS > 0 ? timeoutS : undefined;
}
