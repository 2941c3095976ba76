/** Metadata rows as the API's resources: Airflow's field names, secrets redacted, JSON parsed. */
import type { DagRunRow, TaskInstanceRow } from '../metadata/models.js';
import type { SerializedDagRow } from '../metadata/statements.js';
import { nextRunDate } from '../cli/dagsCommands.js';
import { redact } from '../redact.js';
import type { SerializedDag } from '../serializedDag.js';
import { summariseMapped } from './mappedSummary.js';

/** A stored DAG with its parsed structure. */
export interface StoredDag {
  readonly row: SerializedDagRow;
  readonly dag: SerializedDag;
}

export function parseStoredDag(row: SerializedDagRow): StoredDag {
  return { row, dag: JSON.parse(row.data) as SerializedDag };
}

const text = (s: string | null): string | null => (s === null ? null : redact(s));

/** The DAG resource; `now` only places the next scheduled run. */
export function dagResource({ row, dag }: StoredDag, now: Date) {
  // As `dags list`: where run creation resumes, else just after the last scheduled run.
  const last = row.next_dagrun ? new Date(new Date(row.next_dagrun).getTime() - 1) : row.last_scheduled ? new Date(row.last_scheduled) : undefined;
  const next = nextRunDate(
    { schedule: dag.schedule, startDate: new Date(dag.start_date), endDate: dag.end_date ? new Date(dag.end_date) : undefined, catchup: dag.catchup },
    last,
    now,
  );
  return {
    dag_id: dag.dag_id,
    description: text(dag.description),
    schedule: dag.schedule,
    is_paused: row.paused === 1,
    catchup: dag.catchup,
    next_dagrun: next?.toISOString() ?? null,
    file: dag.file,
    tasks: dag.tasks.map((t) => ({
      task_id: t.task_id,
      upstream: [...t.upstream],
      description: text(t.description),
      retries: t.retries,
      trigger_rule: t.trigger_rule ?? 'all_success',
      group: t.group ?? null,
      sensor: t.sensor ?? null,
      is_mapped: t.is_mapped ?? false,
    })),
    params: dag.params ?? null,
  };
}

function parseConf(conf: string): Record<string, unknown> {
  try {
    const v = JSON.parse(redact(conf)) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function dagRunResource(r: DagRunRow) {
  return {
    dag_id: r.dag_id,
    dag_run_id: r.run_id,
    run_type: r.run_type,
    state: r.state,
    logical_date: r.logical_date,
    data_interval_start: r.data_interval_start,
    data_interval_end: r.data_interval_end,
    start_date: r.started_at,
    end_date: r.ended_at,
    conf: parseConf(r.conf),
  };
}

export function taskInstanceResource(ti: TaskInstanceRow) {
  return {
    dag_id: ti.dag_id,
    dag_run_id: ti.run_id,
    task_id: ti.task_id,
    map_index: ti.map_index,
    // A label is whatever the DAG's mapLabel made of a value: user data, redacted like any text shown.
    rendered_map_index: ti.map_index < 0 ? null : text(ti.map_label),
    state: ti.state,
    try_number: ti.try_number,
    max_tries: ti.max_tries,
    start_date: ti.start_date,
    end_date: ti.end_date,
    duration: ti.duration,
    hostname: ti.hostname,
    pid: ti.pid,
    next_retry_date: ti.next_retry_at === null ? null : new Date(ti.next_retry_at).toISOString(),
    error: text(ti.last_error),
    result: resultOf(ti.result),
  };
}

/** A stored task result, parsed; what a task returns can quote a secret, so it is redacted as text first. */
function resultOf(json: string | null | undefined): unknown {
  if (json === null || json === undefined) return null;
  try {
    return JSON.parse(redact(json)) as unknown;
  } catch {
    return null;
  }
}

/**
 * A grid cell: a task's instance at map index -1; for a mapped task whose mapped instances exist, their
 * summary (mappedSummary.ts) in place of the expansion's own state and times.
 */
export function gridCellResource(ti: TaskInstanceRow, mapped: readonly TaskInstanceRow[] = []) {
  const cell = { task_id: ti.task_id, state: ti.state, try_number: ti.try_number, start_date: ti.start_date, end_date: ti.end_date, duration: ti.duration, mapped: 0, mapped_states: null };
  const summary = summariseMapped(ti, mapped);
  return summary ? { ...cell, ...summary } : cell;
}
