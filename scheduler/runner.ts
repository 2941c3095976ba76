/**
 * Runs one attempt of a task function: a timeout that aborts the attempt's signal and fails it with
 * TaskTimeoutError, and an outside signal (shutdown) that aborts it too. The function is raced against
 * the abort, so an attempt that ignores its signal still ends on time (its promise is left behind).
 */
import { TaskTimeoutError } from './errors/TaskTimeoutError.js';
import type { TaskContext, TaskFn } from './interfaces.js';

/** How an attempt ended. */
export type AttemptOutcome =
  | { readonly ok: true; readonly value: unknown; readonly durationS: number }
  | { readonly ok: false; readonly error: unknown; readonly durationS: number; readonly aborted: boolean };

/** Options of {@link runAttempt}. */
export interface RunAttemptOptions {
  /** Attempt timeout in seconds; none when undefined. */
  readonly timeoutS?: number;
  /** Aborts the attempt from outside (shutdown). */
  readonly signal?: AbortSignal;
}

/** Runs `fn` with a context built for the attempt's own AbortSignal. */
export async function runAttempt(
  taskId: string,
  fn: TaskFn,
  makeContext: (signal: AbortSignal) => TaskContext,
  opts: RunAttemptOptions = {},
): Promise<AttemptOutcome> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  if (opts.timeoutS !== undefined && opts.timeoutS > 0) {
    const timeoutS = opts.timeoutS;
    timer = setTimeout(() => controller.abort(new TaskTimeoutError(taskId, timeoutS)), timeoutS * 1000);
  }
  if (opts.signal) {
    const outer = opts.signal;
    onOuterAbort = () => controller.abort(outer.reason ?? new Error(`task '${taskId}' aborted`));
    if (outer.aborted) onOuterAbort();
    else outer.addEventListener('abort', onOuterAbort, { once: true });
  }
  try {
    const value = await Promise.race([Promise.resolve().then(() => fn(makeContext(controller.signal))), aborted]);
    return { ok: true, value, durationS: (performance.now() - started) / 1000 };
  } catch (error) {
    return { ok: false, error, durationS: (performance.now() - started) / 1000, aborted: controller.signal.aborted };
  } finally {
    if (timer) clearTimeout(timer);
    if (onOuterAbort) opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}
