/**
 * Airflow's clear, one implementation for both front ends (`drivetrain tasks clear` and
 * `POST /api/v1/dags/{dag_id}/clearTaskInstances`): the chosen tasks (and, if asked, everything
 * downstream of them) in the runs whose logical dates are in range wait again with fresh retries, and
 * their runs are queued. Running instances are left alone.
 */
import type { MetadataDb } from './metadata/db.js';
import { dbDate } from './runIds.js';

/** What a clear needs to know of a DAG: its tasks in dependency order with the retries a clear gives. */
export interface ClearableDag {
  readonly id: string;
  readonly tasks: readonly { readonly id: string; readonly upstream: readonly string[]; readonly retries: number }[];
}

/** Options of {@link clearTasks}. */
export interface ClearOptions {
  /** First logical date (inclusive); default: the first run. */
  readonly from?: Date;
  /** Last logical date (inclusive); default: the last run. */
  readonly to?: Date;
  /** The tasks to clear; default: all. Unknown ids are the caller's to refuse. */
  readonly taskIds?: readonly string[];
  /** Also every task downstream of those. */
  readonly includeDownstream: boolean;
}

/** What a clear did. */
export interface ClearResult {
  /** The tasks cleared, in the DAG's order. */
  readonly taskIds: readonly string[];
  /** Runs in range (each set back to queued unless running). */
  readonly runs: number;
  /** The instances reset, with the state each had. */
  readonly cleared: readonly { readonly runId: string; readonly taskId: string; readonly state: string | null }[];
  /** Logical dates (YYYY-MM-DD) of the backfill runs in range, which only a backfill executes. */
  readonly backfillDays: readonly string[];
}

/** `taskIds` and, with `downstream`, every task downstream of them, in the DAG's order. */
export function withDownstream(dag: ClearableDag, taskIds: readonly string[], downstream = true): string[] {
  const out = new Set(taskIds);
  if (downstream) for (const t of dag.tasks) if (t.upstream.some((u) => out.has(u))) out.add(t.id);
  return dag.tasks.filter((t) => out.has(t.id)).map((t) => t.id);
}

/** Resets the chosen instances (not running ones) to waiting with fresh retries; their runs to queued. */
export async function clearTasks(db: MetadataDb, dag: ClearableDag, o: ClearOptions): Promise<ClearResult> {
  const taskIds = o.taskIds ? withDownstream(dag, o.taskIds, o.includeDownstream) : dag.tasks.map((t) => t.id);
  const st = db.statements;
  return db.tx(async (sql) => {
    // The locks in the order every transaction takes them (docs/design/postgres-metadata.md): the DAG's
    // (waited for; a turn only tries it, so it leaves the DAG to this clear), its runs, then the
    // instances, each in id order. Without it a clear and a turn could each hold what the other waits for.
    await st.lockDags(sql, [dag.id]);
    const runRows = await st.runsBetween(sql, dag.id, o.from ? dbDate(o.from) : '', o.to ? dbDate(o.to) : '9999');
    const backfillDays = runRows.filter((r) => r.run_type === 'backfill').map((r) => r.logical_date.slice(0, 10));
    if (runRows.length === 0 || taskIds.length === 0) return { taskIds, runs: runRows.length, cleared: [], backfillDays };
    const ids = runRows.map((r) => r.id);
    await st.lockInKeyOrder(sql, 'dag_runs', 'id', ids);
    const chosen = (await st.taskInstanceDetails(sql, ids)).filter((ti) => taskIds.includes(ti.task_id));
    await st.lockInKeyOrder(sql, 'task_instances', 'id', chosen.map((ti) => ti.id));
    // Read in the same transaction as the update, with its predicate (not running): exactly what it resets.
    const before = (await st.taskInstanceDetails(sql, ids)).filter((ti) => taskIds.includes(ti.task_id) && ti.state !== 'running');
    for (const taskId of taskIds) {
      const task = dag.tasks.find((t) => t.id === taskId)!;
      await st.clearTaskInstances(sql, ids, taskId, task.retries, false);
    }
    await st.requeueRuns(sql, ids);
    const order = new Map(taskIds.map((t, i) => [t, i]));
    const cleared = before
      .sort((a, b) => a.run_id.localeCompare(b.run_id) || order.get(a.task_id)! - order.get(b.task_id)!)
      .map((ti) => ({ runId: ti.run_id, taskId: ti.task_id, state: ti.state }));
    return { taskIds, runs: ids.length, cleared, backfillDays };
  });
}
