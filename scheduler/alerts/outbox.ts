/**
 * The alerts outbox: the rows an alert starts as, written inside the transaction of the state change
 * that causes it (a turn recording completions, a turn finishing runs, recovery ending a lost
 * attempt), so an alert exists exactly when its change is committed. The deliverer (deliverer.ts)
 * sends them later. Each event has a dedup key, so a second writer of the same event (two processes,
 * a repeated check) adds nothing. See docs/design/alerts.md.
 */
import type { Dag } from '../interfaces.js';
import type { Sql } from '../metadata/interfaces.js';
import type { AlertSubject, CompletionRow, NewAlert, RunRow, Statements } from '../metadata/statements.js';

/** Alert events, the webhook's and the callbacks' (success events only run callbacks). */
export type AlertEvent = 'task_retry' | 'task_failed' | 'task_success' | 'dag_run_failed' | 'dag_run_success' | 'deadline_missed';

/** The events the webhook is sent; the success events exist only for onSuccess callbacks. */
export const WEBHOOK_EVENTS: ReadonlySet<string> = new Set<AlertEvent>(['task_retry', 'task_failed', 'dag_run_failed', 'deadline_missed']);

function taskAlert(event: AlertEvent, ti: AlertSubject, error: string | null): NewAlert {
  return {
    event,
    // The try identifies the attempt: a completion and a recovery racing for one attempt write one row.
    dedupKey: `${event}:${ti.id}:${ti.try_number}`,
    dagId: ti.dag_id,
    runId: ti.run_id,
    taskId: ti.task_id,
    mapIndex: Number(ti.map_index),
    tryNumber: ti.try_number,
    maxTries: ti.max_tries,
    logicalDate: ti.logical_date,
    error,
  };
}

/** The event of a recorded completion, or undefined for one that alerts nobody. */
function completionEvent(c: CompletionRow, hasSuccessCallback: boolean): AlertEvent | undefined {
  // An attempt cut short by shutdown or deferred by an outage is not the task failing.
  if (c.interrupted || c.rescheduled) return undefined;
  // A task that skipped itself neither failed nor did its work: no event.
  if (c.state === 'skipped') return undefined;
  if (c.state === 'failed') return 'task_failed';
  if (c.state === 'up_for_retry') return 'task_retry';
  return hasSuccessCallback ? 'task_success' : undefined;
}

/**
 * Records the alerts of completions about to be recorded by `owner` (call it first, in the same
 * transaction): only those whose instance `owner` still holds, as recordCompletions will write.
 */
export async function recordCompletionAlerts(
  sql: Sql,
  st: Statements,
  owner: string,
  done: readonly CompletionRow[],
  dags: ReadonlyMap<string, Dag>,
  nowIso: string,
): Promise<void> {
  const anySuccessCallback = [...dags.values()].some((d) => d.tasks.some((t) => t.onSuccess));
  const wanted = done.filter((c) => completionEvent(c, anySuccessCallback) !== undefined);
  if (wanted.length === 0) return;
  const subjects = new Map((await st.alertSubjects(sql, wanted.map((c) => c.id))).map((s) => [s.id, s]));
  const alerts: NewAlert[] = [];
  for (const c of wanted) {
    const ti = subjects.get(c.id);
    if (!ti || ti.state !== 'running' || ti.lease_owner !== owner) continue;
    const task = dags.get(ti.dag_id)?.tasks.find((t) => t.id === ti.task_id);
    const event = completionEvent(c, task?.onSuccess !== undefined);
    if (event) alerts.push(taskAlert(event, ti, c.error));
  }
  if (alerts.length > 0) await st.insertAlerts(sql, alerts, nowIso);
}

/** Records the alerts of runs a turn is finishing (call it in the same transaction). */
export async function recordRunAlerts(
  sql: Sql,
  st: Statements,
  finished: readonly { run: RunRow; state: 'success' | 'failed' }[],
  dags: ReadonlyMap<string, Dag>,
  nowIso: string,
): Promise<void> {
  const alerts: NewAlert[] = [];
  for (const { run, state } of finished) {
    if (state === 'success' && !dags.get(run.dag_id)?.onSuccess) continue;
    const event: AlertEvent = state === 'failed' ? 'dag_run_failed' : 'dag_run_success';
    alerts.push({
      event,
      // A cleared run can finish again: each finish is its own event.
      dedupKey: `${event}:${run.id}:${nowIso}`,
      dagId: run.dag_id,
      runId: run.run_id,
      taskId: null,
      tryNumber: null,
      maxTries: null,
      logicalDate: run.logical_date,
      error: null,
    });
  }
  if (alerts.length > 0) await st.insertAlerts(sql, alerts, nowIso);
}

/** Records the alert of a lost attempt that recovery just ended (in the same transaction). */
export async function recordLostAttemptAlert(sql: Sql, st: Statements, id: number, retry: boolean, message: string, nowIso: string): Promise<void> {
  const [ti] = await st.alertSubjects(sql, [id]);
  if (!ti) return;
  await st.insertAlerts(sql, [taskAlert(retry ? 'task_retry' : 'task_failed', ti, message)], nowIso);
}
