/** An outbox row as the alert it becomes: the webhook's JSON body and a callback's argument. */
import os from 'node:os';
import type { AlertPayload } from '../interfaces.js';
import type { AlertRow } from '../metadata/statements.js';
import { redact } from '../redact.js';
import type { Settings } from '../settings.js';

/** The daemon's HTTP API as reachable from elsewhere: a wildcard listener is named by the host name. */
function apiBase(settings: Settings): string {
  const host = ['0.0.0.0', '::', ''].includes(settings.http.host) ? os.hostname() : settings.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${settings.http.port}/api/v1`;
}

/** The attempt log's address on the HTTP API (the contract's log route). */
function logUrl(row: AlertRow, settings: Settings): string | null {
  if (row.run_id === null || row.task_id === null || row.try_number === null) return null;
  const e = encodeURIComponent;
  const mapped = Number(row.map_index) >= 0 ? `?map_index=${row.map_index}` : '';
  return `${apiBase(settings)}/dags/${e(row.dag_id)}/dagRuns/${e(row.run_id)}/taskInstances/${e(row.task_id)}/logs/${row.try_number}${mapped}`;
}

/** `[drivetrain] task_failed ingest.load run scheduled__... try 3/3: <first error line>`; a mapped instance's task is `load[1]`. */
export function alertText(a: Omit<AlertPayload, 'text' | 'log_url'> & { max_tries?: number | null }): string {
  let text = `[drivetrain] ${a.event} ${a.dag_id}${a.task_id ? `.${a.task_id}${a.map_index >= 0 ? `[${a.map_index}]` : ''}` : ''}`;
  if (a.dag_run_id) text += ` run ${a.dag_run_id}`;
  if (a.try_number !== null) text += ` try ${a.try_number}${a.max_tries != null ? `/${a.max_tries + 1}` : ''}`;
  const first = a.error?.split('\n').find((l) => l.trim() !== '');
  if (first) text += `: ${first.trim()}`;
  return redact(text);
}

/** The alert of an outbox row. */
export function payloadOf(row: AlertRow, settings: Settings): AlertPayload {
  const base = {
    event: row.event,
    dag_id: row.dag_id,
    dag_run_id: row.run_id,
    task_id: row.task_id,
    map_index: Number(row.map_index ?? -1),
    try_number: row.try_number,
    logical_date: row.logical_date,
    error: row.error === null ? null : redact(row.error),
  };
  return { ...base, log_url: logUrl(row, settings), text: alertText({ ...base, max_tries: row.max_tries }) };
}

/** The sample alert `drivetrain alerts test` sends. */
export function sampleAlert(): AlertPayload {
  const base = {
    event: 'task_failed',
    dag_id: 'drivetrain',
    dag_run_id: 'manual__1970-01-01T00:00:00+00:00',
    task_id: 'alerts_test',
    map_index: -1,
    try_number: 1,
    logical_date: '1970-01-01T00:00:00.000Z',
    error: 'a sample alert sent by `drivetrain alerts test`; nothing failed',
  };
  return { ...base, log_url: null, text: alertText({ ...base, max_tries: 0 }) };
}
