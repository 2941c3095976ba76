/**
 * Every statement on the metadata tables, each written once, as a typed function of the open
 * transaction (or read). Callers decide what to do; these only say how it is stored. The parts that
 * differ between engines come from the dialect (dialect.ts); what is left here is SQL that SQLite
 * and PostgreSQL both accept (ON CONFLICT, UPDATE ... FROM, window functions, CASE, COALESCE).
 *
 * Dates are ISO 8601 UTC strings made by the caller (no SQL date functions), lease times epoch ms.
 */
import type { RunType, TaskInstanceState } from '../interfaces.js';
import type { MetadataDialect } from './dialect.js';
import type { Sql, SqlValue } from './interfaces.js';
import type { DagRunRow, TaskInstanceRow } from './models.js';

/** The columns of a DAG run the scheduler works with. */
export type RunRow = Pick<
  DagRunRow,
  'id' | 'dag_id' | 'run_id' | 'logical_date' | 'data_interval_start' | 'data_interval_end' | 'run_type' | 'state' | 'conf'
>;

/** The columns of a task instance the scheduler decides on. */
export interface TiRow {
  id: number;
  run_pk: number;
  task_id: string;
  state: TaskInstanceState | null;
  try_number: number;
  max_tries: number;
  next_retry_at: number | null;
  /** A sensor's first poke (epoch ms on the executor's clock), kept across its reschedules; null otherwise. */
  first_poke_at: number | null;
  /** Its place in its mapped task's list from 0; -1 unmapped, or a mapped task's expansion (mapping.ts). */
  map_index: number;
  /**
   * A mapped instance's label and its value as JSON; null otherwise. The turn's window leaves them out
   * (they are only needed by an attempt) and a claim reads them (schedulerTurn.ts withMapValues).
   */
  map_label: string | null;
  map_value: string | null;
}

/** A run of {@link Statements.activeWindow}, with its instances (none when it was not joined). */
export interface WindowRun extends RunRow {
  rn: number;
  tis: TiRow[];
}

/** The instance columns {@link Statements.activeWindow} aggregates per run, in this order. */
const WINDOW_TI_COLUMNS = ['id', 'task_id', 'state', 'try_number', 'max_tries', 'next_retry_at', 'first_poke_at', 'map_index'] as const;
type WindowTiTuple = [number, string, TaskInstanceState | null, number, number, number | null, number | null, number];

/** Which runs a statement covers: run types and an inclusive logical-date range (ISO). */
export interface RunScope {
  readonly runTypes: readonly RunType[];
  readonly from?: string;
  readonly to?: string;
}

/** A task instance to create: waiting, with its tries. */
export interface NewTaskInstance {
  readonly runPk: number;
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly maxTries: number;
  /** Its task's pool, so the instances waiting in a pool can be counted before any is claimed. */
  readonly pool?: string;
  /** A mapped instance's index, label and value (JSON); default unmapped (-1). */
  readonly mapIndex?: number;
  readonly mapLabel?: string;
  readonly mapValue?: string;
}

/** A result of {@link Statements.storedResults}. */
export interface StoredResultRow {
  run_pk: number;
  task_id: string;
  map_index: number;
  /** Null only for a mapped instance (every one is listed, so a mapped task's results keep their places). */
  result: string | null;
}

/** A row of {@link Statements.serializedDags}. */
export interface SerializedDagRow {
  dag_id: string;
  /** The JSON of scheduler/serializedDag.ts. */
  data: string;
  paused: number;
  next_dagrun: string | null;
  last_scheduled: string | null;
}

/** A run to create (queued). */
export interface NewRunRow {
  readonly dagId: string;
  readonly runId: string;
  readonly logicalDate: string;
  readonly intervalStart: string;
  readonly intervalEnd: string;
  readonly runType: RunType;
  readonly conf: string;
}

/** A finished attempt to record. */
export interface CompletionRow {
  readonly id: number;
  /** The try the attempt ran as: a copy that lost its instance to a later try records nothing. */
  readonly tryNumber: number;
  readonly state: 'success' | 'failed' | 'up_for_retry' | 'up_for_reschedule' | 'skipped';
  readonly endIso: string;
  readonly durationS: number;
  readonly nextRetryAt: number | null;
  readonly error: string | null;
  /** Shutdown interrupted the attempt: its try counts, but it gets another one. */
  readonly interrupted: boolean;
  /** The attempt was deferred (TaskDeferredError): up for retry at nextRetryAt, its try given back. */
  readonly rescheduled?: boolean;
  /** The task's return value as JSON (taskResults.ts), null when none. */
  readonly result?: string | null;
  /** A sensor's first poke to keep (sensor.ts); null clears it. */
  readonly firstPokeAt?: number | null;
}

/** Who claims, and until when. */
export interface ClaimStamp {
  readonly owner: string;
  readonly pid: number;
  readonly hostname: string;
  readonly nowIso: string;
  readonly nowMs: number;
  readonly leaseExpiresAt: number;
}

/** An alert event to record in the outbox (see scheduler/alerts/outbox.ts). */
export interface NewAlert {
  readonly event: string;
  /** Unique per event: a second insert of the same key is ignored. */
  readonly dedupKey: string;
  readonly dagId: string;
  readonly runId: string | null;
  readonly taskId: string | null;
  readonly tryNumber: number | null;
  readonly maxTries: number | null;
  readonly logicalDate: string | null;
  readonly error: string | null;
  /** The instance's map index: -1 unless a mapped instance's (default -1). */
  readonly mapIndex?: number;
}

/** A row of `alerts`. */
export interface AlertRow {
  id: number;
  event: string;
  dedup_key: string;
  dag_id: string;
  run_id: string | null;
  task_id: string | null;
  /** -1 unless the alert is about a mapped instance (migration 9). */
  map_index: number;
  try_number: number | null;
  max_tries: number | null;
  logical_date: string | null;
  error: string | null;
  created_at: string;
  callback_pending: number;
  attempts: number;
  next_attempt_at: number;
  claimed_by: string | null;
  claim_expires_at: number | null;
  delivered_at: string | null;
  last_error: string | null;
}

/** A task instance with its run's logical date: what an alert about it names. */
export type AlertSubject = Pick<TaskInstanceRow, 'id' | 'dag_id' | 'run_id' | 'task_id' | 'state' | 'try_number' | 'max_tries' | 'lease_owner' | 'map_index'> & {
  logical_date: string;
};

const RUN_COLUMNS = 'id, dag_id, run_id, logical_date, data_interval_start, data_interval_end, run_type, state, conf';
const TI_COLUMNS = 'id, run_pk, task_id, state, try_number, max_tries, next_retry_at, first_poke_at, map_index, map_label, map_value';

/** Rows per multi-row statement, so one statement stays small for a wide DAG and a long backfill. */
const CHUNK = 200;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `run_type IN (...) AND logical_date >= ... AND <= ...` with its parameters, for dag_runs aliased `alias`. */
function scopeWhere(scope: RunScope, alias = 'dag_runs'): { where: string; params: SqlValue[] } {
  let where = `${alias}.run_type IN (?)`;
  const params: SqlValue[] = [scope.runTypes];
  if (scope.from) {
    where += ` AND ${alias}.logical_date >= ?`;
    params.push(scope.from);
  }
  if (scope.to) {
    where += ` AND ${alias}.logical_date <= ?`;
    params.push(scope.to);
  }
  return { where, params };
}

/** The metadata statements, bound to a dialect. */
export class Statements {
  constructor(private readonly dialect: MetadataDialect) {}

  // ---- dags ----

  /** Records DAGs as seen now (new ones unpaused). */
  async upsertDagsSeen(sql: Sql, dags: readonly { id: string; fileloc: string | null }[], nowIso: string): Promise<void> {
    // In key order: two daemons loading the same DAGs upsert the same rows.
    for (const chunk of chunks([...dags].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)))) {
      await sql.run(
        `INSERT INTO dags (dag_id, paused, fileloc, last_seen_at) VALUES ?
         ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, last_seen_at = excluded.last_seen_at`,
        [chunk.map((d) => [d.id, 0, d.fileloc, nowIso])],
      );
    }
  }

  /** Pauses or unpauses a DAG, creating its row if no daemon has seen it. */
  async setPaused(sql: Sql, dagId: string, fileloc: string | null, paused: boolean): Promise<void> {
    await sql.run(
      `INSERT INTO dags (dag_id, paused, fileloc, last_seen_at) VALUES (?, ?, ?, NULL)
       ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused`,
      [dagId, paused ? 1 : 0, fileloc],
    );
  }

  /** Where run creation resumes for a DAG (creating its row if needed). */
  async setNextDagrun(sql: Sql, dagId: string, fileloc: string | null, nextIso: string): Promise<void> {
    await sql.run(
      `INSERT INTO dags (dag_id, paused, fileloc, next_dagrun) VALUES (?, 0, ?, ?)
       ON CONFLICT (dag_id) DO UPDATE SET next_dagrun = excluded.next_dagrun`,
      [dagId, fileloc, nextIso],
    );
  }

  /** The ids of the paused DAGs. */
  async pausedDagIds(sql: Sql): Promise<string[]> {
    return (await sql.all<{ dag_id: string }>('SELECT dag_id FROM dags WHERE paused = 1')).map((r) => r.dag_id);
  }

  /** Each DAG's pause flag, where run creation resumes, and (only when that is unknown) its last scheduled logical date. */
  async dagSchedules(sql: Sql): Promise<{ dag_id: string; paused: number; next_dagrun: string | null; last_scheduled: string | null }[]> {
    return sql.all(
      `SELECT d.dag_id, d.paused, d.next_dagrun,
         CASE WHEN d.next_dagrun IS NULL THEN
           (SELECT MAX(logical_date) FROM dag_runs r WHERE r.dag_id = d.dag_id AND r.run_type = 'scheduled') END AS last_scheduled
       FROM dags d`,
    );
  }

  /** The last scheduled logical date of a DAG (for one without a dags row yet). */
  async lastScheduledDate(sql: Sql, dagId: string): Promise<string | null> {
    const [row] = await sql.all<{ d: string | null }>("SELECT MAX(logical_date) AS d FROM dag_runs WHERE dag_id = ? AND run_type = 'scheduled'", [dagId]);
    return row?.d ?? null;
  }

  // ---- dag runs ----

  /** Inserts queued runs unless their DAG already has a run at that logical date; returns how many are new. */
  async insertRuns(sql: Sql, runs: readonly NewRunRow[], createdAt: string): Promise<number> {
    let created = 0;
    for (const chunk of chunks(runs)) {
      created += await sql.run(
        `INSERT INTO dag_runs (dag_id, run_id, logical_date, data_interval_start, data_interval_end, run_type, state, conf, created_at)
         VALUES ? ON CONFLICT DO NOTHING`,
        [chunk.map((r) => [r.dagId, r.runId, r.logicalDate, r.intervalStart, r.intervalEnd, r.runType, 'queued', r.conf, createdAt])],
      );
    }
    return created;
  }

  /** A DAG's runs with logical dates in [from, to], oldest first. */
  async runsBetween(sql: Sql, dagId: string, from: string, to: string): Promise<Pick<DagRunRow, 'id' | 'logical_date' | 'state' | 'run_type'>[]> {
    return sql.all(
      'SELECT id, logical_date, state, run_type FROM dag_runs WHERE dag_id = ? AND logical_date >= ? AND logical_date <= ? ORDER BY logical_date',
      [dagId, from, to],
    );
  }

  /** Counts of a DAG's runs by state, logical dates in [from, to]. */
  async runCountsBetween(sql: Sql, dagId: string, from: string, to: string): Promise<{ state: string; n: number }[]> {
    return sql.all('SELECT state, COUNT(*) AS n FROM dag_runs WHERE dag_id = ? AND logical_date >= ? AND logical_date <= ? GROUP BY state', [
      dagId,
      from,
      to,
    ]);
  }

  /** The failed task instances (not upstream_failed) of a DAG's runs with logical dates in [from, to], oldest run first. */
  async failedTaskInstancesBetween(
    sql: Sql,
    dagId: string,
    from: string,
    to: string,
  ): Promise<{ run_id: string; task_id: string; map_index: number; map_label: string | null; last_error: string | null }[]> {
    return sql.all(
      `SELECT r.run_id, ti.task_id, ti.map_index, ti.map_label, ti.last_error FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
       WHERE r.dag_id = ? AND r.logical_date >= ? AND r.logical_date <= ? AND ti.state = 'failed'
       ORDER BY r.logical_date, ti.id`,
      [dagId, from, to],
    );
  }

  /** The state of a DAG's run at a logical date, if it exists. */
  async runState(sql: Sql, dagId: string, logicalDate: string): Promise<string | undefined> {
    const [row] = await sql.all<{ state: string }>('SELECT state FROM dag_runs WHERE dag_id = ? AND logical_date = ?', [dagId, logicalDate]);
    return row?.state;
  }

  /** The latest data_interval_end of a DAG's successful runs: how far its data is complete. */
  async successfulUntil(sql: Sql, dagId: string): Promise<string | null> {
    const [row] = await sql.all<{ e: string | null }>("SELECT MAX(data_interval_end) AS e FROM dag_runs WHERE dag_id = ? AND state = 'success'", [dagId]);
    return row?.e ?? null;
  }

  /** True when a DAG has a successful run of exactly this data interval (ISO bounds, as stored). */
  async runSucceededFor(sql: Sql, dagId: string, intervalStart: string, intervalEnd: string): Promise<boolean> {
    const rows = await sql.all(
      "SELECT 1 AS ok FROM dag_runs WHERE dag_id = ? AND data_interval_start = ? AND data_interval_end = ? AND state = 'success'",
      [dagId, intervalStart, intervalEnd],
    );
    return rows.length > 0;
  }

  /** How many runs of these DAGs in scope are still queued or running. */
  async activeRunCount(sql: Sql, dagIds: readonly string[], scope: RunScope): Promise<number> {
    const { where, params } = scopeWhere(scope);
    const [row] = await sql.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM dag_runs WHERE state IN ('queued', 'running') AND dag_id IN (?) AND ${where}`,
      [dagIds, ...params],
    );
    return row.n;
  }

  /** Sets runs back to queued (not running ones), as a clear does. */
  async requeueRuns(sql: Sql, ids: readonly number[]): Promise<void> {
    for (const chunk of chunks(ids, 500)) {
      await sql.run("UPDATE dag_runs SET state = 'queued', ended_at = NULL WHERE id IN (?) AND state <> 'running'", [chunk]);
    }
  }

  /** queued -> running under `owner`; keeps the first start time of a cleared run. */
  async startRuns(sql: Sql, ids: readonly number[], owner: string, nowIso: string): Promise<void> {
    for (const chunk of chunks(ids, 500)) {
      await sql.run("UPDATE dag_runs SET state = 'running', started_at = COALESCE(started_at, ?), ended_at = NULL, owner = ? WHERE id IN (?)", [
        nowIso,
        owner,
        chunk,
      ]);
    }
  }

  /** Ends running runs with their final states. */
  async finishRuns(sql: Sql, runs: readonly { id: number; state: 'success' | 'failed' }[], nowIso: string): Promise<void> {
    for (const chunk of chunks(runs)) {
      await sql.run(
        `UPDATE dag_runs SET state = v.state, ended_at = ? FROM ${this.dialect.valuesTable('v', { id: 'int', state: 'text' })}
         WHERE dag_runs.id = v.id AND dag_runs.state = 'running'`,
        [nowIso, chunk.map((r) => [r.id, r.state])],
      );
    }
  }

  /**
   * Each DAG's running runs (all of them: max active runs counts every runner's) and its oldest
   * `max_runs` queued runs in scope, oldest first, with the task instances of the oldest `max_runs`
   * of each: what one scheduler turn decides on, in one statement. A run's instances come as one
   * aggregated column rather than a row each: a row repeating the run's columns per instance made
   * this read, done every turn, the costliest statement of a turn with many active runs
   * (docs/design/metadata-storage.md).
   */
  async activeWindow(sql: Sql, caps: readonly { dagId: string; maxRuns: number }[], scope: RunScope): Promise<WindowRun[]> {
    const { where, params } = scopeWhere(scope, 'dr');
    const tis = this.dialect.jsonArrayAgg(WINDOW_TI_COLUMNS.map((c) => `ti.${c}`));
    const rows = await sql.all<RunRow & { rn: number; tis: unknown }>(
      `WITH m AS (SELECT dag_id, max_runs FROM ${this.dialect.valuesTable('c', { dag_id: 'text', max_runs: 'int' })}),
       r AS (
         SELECT dr.${RUN_COLUMNS.split(', ').join(', dr.')},
           ROW_NUMBER() OVER (PARTITION BY dr.dag_id, dr.state ORDER BY dr.logical_date) AS rn, m.max_runs
         FROM dag_runs dr JOIN m ON m.dag_id = dr.dag_id
         WHERE dr.state = 'running' OR (dr.state = 'queued' AND ${where}))
       SELECT r.${RUN_COLUMNS.split(', ').join(', r.')}, r.rn,
         CASE WHEN r.rn <= r.max_runs THEN (SELECT ${tis} FROM task_instances ti WHERE ti.run_pk = r.id) END AS tis
       FROM r
       WHERE r.state = 'running' OR r.rn <= r.max_runs
       ORDER BY r.dag_id, r.state DESC, r.logical_date`,
      [caps.map((c) => [c.dagId, c.maxRuns]), ...params],
    );
    return rows.map(({ tis: agg, ...run }) => {
      const tuples = (agg === null ? [] : this.dialect.parseJsonColumn(agg)) as WindowTiTuple[];
      const out: TiRow[] = tuples.map(([id, taskId, state, tryNumber, maxTries, nextRetryAt, firstPokeAt, mapIndex]) => ({
        id,
        run_pk: run.id,
        task_id: taskId,
        state,
        try_number: tryNumber ?? 0,
        max_tries: maxTries ?? 0,
        next_retry_at: nextRetryAt,
        first_poke_at: firstPokeAt ?? null,
        map_index: Number(mapIndex ?? -1),
        map_label: null,
        map_value: null,
      }));
      return { ...run, tis: out };
    });
  }

  /** A DAG's queued or running backfill runs in scope after a logical date, oldest first. */
  async laterBackfillRuns(sql: Sql, dagId: string, after: string, scope: RunScope, limit: number): Promise<RunRow[]> {
    const { where, params } = scopeWhere(scope);
    return sql.all(
      `SELECT ${RUN_COLUMNS} FROM dag_runs
       WHERE dag_id = ? AND state IN ('queued', 'running') AND run_type = 'backfill' AND logical_date > ? AND ${where}
       ORDER BY logical_date LIMIT ?`,
      [dagId, after, ...params, limit],
    );
  }

  /**
   * Puts these owners' running backfill runs back to queued, unless one of their instances is still
   * running (another backfill racing over the same range holds it); returns how many. Only a backfill
   * executes backfill runs: left 'running' after it ended they would hold max-active-runs slots.
   */
  async releaseBackfillRuns(sql: Sql, owners: readonly string[]): Promise<number> {
    return sql.run(
      `UPDATE dag_runs SET state = 'queued', owner = NULL
       WHERE owner IN (?) AND state = 'running' AND run_type = 'backfill'
         AND NOT EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = dag_runs.id AND ti.state = 'running')`,
      [owners],
    );
  }

  /** The owners of running backfill runs other than `self`. */
  async backfillRunOwners(sql: Sql, self: string): Promise<string[]> {
    const rows = await sql.all<{ owner: string }>(
      "SELECT DISTINCT owner FROM dag_runs WHERE state = 'running' AND run_type = 'backfill' AND owner IS NOT NULL AND owner <> ?",
      [self],
    );
    return rows.map((r) => r.owner);
  }

  /** The running backfill runs of these owners that {@link releaseBackfillRuns} would release. */
  async releasableBackfillRuns(sql: Sql, owners: readonly string[]): Promise<{ dag_id: string; run_id: string; owner: string }[]> {
    return sql.all(
      `SELECT dag_id, run_id, owner FROM dag_runs WHERE state = 'running' AND run_type = 'backfill' AND owner IN (?)
         AND NOT EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = dag_runs.id AND ti.state = 'running')`,
      [owners],
    );
  }

  /** Run counts by DAG and state (the daemon's gauges). */
  async runCountsByState(sql: Sql): Promise<{ dag_id: string; state: string; n: number }[]> {
    return sql.all('SELECT dag_id, state, COUNT(*) AS n FROM dag_runs GROUP BY dag_id, state');
  }

  // ---- task instances ----

  /** Creates waiting instances; existing ones (a cleared run's) are kept as they are. */
  async insertTaskInstances(sql: Sql, rows: readonly NewTaskInstance[]): Promise<void> {
    for (const chunk of chunks(rows)) {
      await sql.run(
        'INSERT INTO task_instances (run_pk, dag_id, run_id, task_id, max_tries, pool, map_index, map_label, map_value) VALUES ? ON CONFLICT DO NOTHING',
        [chunk.map((r) => [r.runPk, r.dagId, r.runId, r.taskId, r.maxTries, r.pool ?? null, r.mapIndex ?? -1, r.mapLabel ?? null, r.mapValue ?? null])],
      );
    }
  }

  /** The instances of these runs (of these tasks only, when given). */
  async taskInstancesOf(sql: Sql, runPks: readonly number[], taskIds?: readonly string[]): Promise<TiRow[]> {
    if (runPks.length === 0) return [];
    const out: TiRow[] = [];
    for (const chunk of chunks(runPks, 500)) {
      out.push(
        ...(taskIds
          ? await sql.all<TiRow>(`SELECT ${TI_COLUMNS} FROM task_instances WHERE run_pk IN (?) AND task_id IN (?)`, [chunk, taskIds])
          : await sql.all<TiRow>(`SELECT ${TI_COLUMNS} FROM task_instances WHERE run_pk IN (?)`, [chunk])),
      );
    }
    return out;
  }

  /** The labels and values (JSON) of these mapped instances. */
  async mapValuesOf(sql: Sql, ids: readonly number[]): Promise<{ id: number; map_label: string | null; map_value: string | null }[]> {
    const out: { id: number; map_label: string | null; map_value: string | null }[] = [];
    for (const chunk of chunks(ids, 500)) out.push(...(await sql.all<{ id: number; map_label: string | null; map_value: string | null }>('SELECT id, map_label, map_value FROM task_instances WHERE id IN (?)', [chunk])));
    return out;
  }

  /** The stored results of these instances (those without one are left out). */
  async resultsOf(sql: Sql, ids: readonly number[]): Promise<{ id: number; result: string }[]> {
    const out: { id: number; result: string }[] = [];
    for (const chunk of chunks(ids, 500)) {
      out.push(...(await sql.all<{ id: number; result: string }>('SELECT id, result FROM task_instances WHERE id IN (?) AND result IS NOT NULL', [chunk])));
    }
    return out;
  }

  /** Fails these instances with their errors (a mapped task's expansion whose stored list cannot be read). */
  async failInstances(sql: Sql, failures: readonly { id: number; error: string }[], nowIso: string): Promise<void> {
    for (const f of failures) {
      await sql.run("UPDATE task_instances SET state = 'failed', last_error = ?, end_date = ? WHERE id = ?", [f.error, nowIso, f.id]);
    }
  }

  /** Moves waiting instances on (queued, upstream_failed, skipped); only those still waiting. */
  async decideWaiting(sql: Sql, changes: readonly { id: number; state: 'queued' | 'upstream_failed' | 'skipped' }[], nowIso: string): Promise<void> {
    for (const chunk of chunks(changes)) {
      await sql.run(
        `UPDATE task_instances SET state = v.state, end_date = CASE WHEN v.state = 'queued' THEN NULL ELSE ? END
         FROM ${this.dialect.valuesTable('v', { id: 'int', state: 'text' })}
         WHERE task_instances.id = v.id AND task_instances.state IS NULL`,
        [nowIso, chunk.map((c) => [c.id, c.state])],
      );
    }
  }

  /**
   * Claims instances for an attempt: running, try counted, under the claimer's lease. An instance given
   * with the try it was read at is claimed only while it is still claimable at that try (another
   * daemon may have claimed it since); a bare id is claimed as it is. The inner SELECT is where a
   * row-locking dialect takes the rows, passing those another claimer holds (see
   * MetadataDialect.lockClaimedRows). Returns how many were claimed.
   */
  async claim(sql: Sql, items: readonly (number | { id: number; readTry: number })[], stamp: ClaimStamp): Promise<number> {
    const set = `UPDATE task_instances SET state = 'running', try_number = try_number + 1, start_date = ?, end_date = NULL, duration = NULL,
           pid = ?, hostname = ?, lease_owner = ?, lease_expires_at = ?, heartbeat_at = ?, next_retry_at = NULL`;
    const stampValues = [stamp.nowIso, stamp.pid, stamp.hostname, stamp.owner, stamp.leaseExpiresAt, stamp.nowMs];
    const bare = items.filter((i): i is number => typeof i === 'number').sort((a, b) => a - b);
    const read = items.filter((i): i is { id: number; readTry: number } => typeof i !== 'number').sort((a, b) => a.id - b.id);
    let n = 0;
    for (const chunk of chunks(bare, 500)) {
      n += await sql.run(`${set} WHERE id IN (SELECT id FROM task_instances WHERE id IN (?) ORDER BY id${this.dialect.lockClaimedRows})`, [...stampValues, chunk]);
    }
    for (const chunk of chunks(read, 500)) {
      n += await sql.run(
        `${set} WHERE id IN (SELECT id FROM task_instances WHERE (id, try_number) IN (VALUES ?)
           AND (state IS NULL OR state IN ('queued', 'up_for_retry', 'up_for_reschedule')) ORDER BY id${this.dialect.lockClaimedRows})`,
        [...stampValues, chunk.map((i) => [i.id, i.readTry])],
      );
    }
    return n;
  }

  /**
   * Takes the locks of these rows in key order, before a statement that updates them in its plan's
   * order; nothing where the write transaction is exclusive already (docs/design/postgres-metadata.md).
   */
  async lockInKeyOrder(sql: Sql, table: 'task_instances' | 'dag_runs', key: 'id', ids: readonly number[]): Promise<void> {
    if (this.dialect.lockInKeyOrder === '' || ids.length === 0) return;
    for (const chunk of chunks([...ids].sort((a, b) => a - b), 500)) {
      await sql.all(`SELECT ${key} FROM ${table} WHERE ${key} IN (?) ORDER BY ${key}${this.dialect.lockInKeyOrder}`, [chunk]);
    }
  }

  /**
   * The DAGs of `dagIds` this transaction now holds the scheduling lock of, without waiting: a DAG
   * another daemon's turn holds is left to it. All of them where the write transaction is exclusive.
   */
  async tryLockDags(sql: Sql, dagIds: readonly string[]): Promise<string[]> {
    if (!this.dialect.dagLock || dagIds.length === 0) return [...dagIds];
    const rows = await sql.all<{ dag_id: string }>(
      `SELECT d.dag_id FROM ${this.dialect.valuesTable('d', { dag_id: 'text' })} WHERE ${this.dialect.dagLock('d.dag_id', false)}`,
      [[...dagIds].map((id) => [id])],
    );
    return rows.map((r) => r.dag_id);
  }

  /** Takes the scheduling locks of these DAGs, waiting for them, one at a time in dag_id order. */
  async lockDags(sql: Sql, dagIds: readonly string[]): Promise<void> {
    if (!this.dialect.dagLock) return;
    for (const id of [...dagIds].sort()) await sql.all(`SELECT ${this.dialect.dagLock('?', true)} AS locked`, [id]);
  }

  // ---- pools (scheduler/pools.ts) ----

  /**
   * Takes the locks of these pools, waiting for them, in name order: between the count of a pool's
   * slots in use and the commit of the claims made on it, no other transaction claims from it. Nothing
   * where the write transaction is exclusive already (docs/design/postgres-metadata.md, the lock order).
   */
  async lockPools(sql: Sql, pools: readonly string[]): Promise<void> {
    if (!this.dialect.poolLock) return;
    for (const pool of [...new Set(pools)].sort()) await sql.all(`SELECT ${this.dialect.poolLock('?')} AS locked`, [pool]);
  }

  /** Slots held by running instances, by pool, of these pools (one absent holds none). */
  async usedPoolSlots(sql: Sql, pools: readonly string[]): Promise<Map<string, number>> {
    if (pools.length === 0) return new Map();
    const rows = await sql.all<{ pool: string; used: number }>(
      "SELECT pool, SUM(pool_slots) AS used FROM task_instances WHERE pool IN (?) AND state = 'running' GROUP BY pool",
      [[...new Set(pools)]],
    );
    return new Map(rows.map((r) => [r.pool, Number(r.used)]));
  }

  /** Records the pool and slots each just-claimed instance holds while it runs. */
  async recordPoolUse(sql: Sql, rows: readonly { id: number; pool: string; slots: number }[]): Promise<void> {
    for (const chunk of chunks([...rows].sort((a, b) => a.id - b.id))) {
      await sql.run(
        `UPDATE task_instances SET pool = v.pool, pool_slots = v.slots FROM ${this.dialect.valuesTable('v', { id: 'int', pool: 'text', slots: 'int' })}
         WHERE task_instances.id = v.id`,
        [chunk.map((r) => [r.id, r.pool, r.slots])],
      );
    }
  }

  /** Per pool recorded on an instance: slots held and instances running, instances waiting (queued, or up for retry and due at `nowMs`). */
  async poolUse(sql: Sql, nowMs: number): Promise<{ pool: string; used_slots: number; running: number; queued: number }[]> {
    const rows = await sql.all<{ pool: string; used_slots: number; running: number; queued: number }>(
      `SELECT pool,
         SUM(CASE WHEN state = 'running' THEN pool_slots ELSE 0 END) AS used_slots,
         SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running,
         SUM(CASE WHEN state = 'queued' OR (state IN ('up_for_retry', 'up_for_reschedule') AND next_retry_at <= ?) THEN 1 ELSE 0 END) AS queued
       FROM task_instances WHERE pool IS NOT NULL AND state IN ('running', 'queued', 'up_for_retry', 'up_for_reschedule') GROUP BY pool ORDER BY pool`,
      [nowMs],
    );
    return rows.map((r) => ({ pool: r.pool, used_slots: Number(r.used_slots), running: Number(r.running), queued: Number(r.queued) }));
  }

  /**
   * Records finished attempts; only rows `owner` still holds the lease of, at the try each attempt
   * ran as (the same owner may have claimed a later try after another process recovered this one).
   */
  async recordCompletions(sql: Sql, owner: string, done: readonly CompletionRow[]): Promise<void> {
    const columns = {
      id: 'int',
      ran_try: 'int',
      state: 'text',
      end_date: 'text',
      duration: 'real',
      next_retry_at: 'int',
      last_error: 'text',
      interrupted: 'int',
      rescheduled: 'int',
      result: 'text',
      first_poke_at: 'int',
    } as const;
    // In key order, as every statement that updates several instances (the lease renewal of the same
    // owner runs beside this on the heartbeat thread's connection).
    const sorted = [...done].sort((a, b) => a.id - b.id);
    await this.lockInKeyOrder(sql, 'task_instances', 'id', sorted.map((c) => c.id));
    for (const chunk of chunks(sorted)) {
      await sql.run(
        `UPDATE task_instances SET state = v.state, end_date = v.end_date, duration = v.duration, next_retry_at = v.next_retry_at,
           last_error = v.last_error, result = v.result, first_poke_at = v.first_poke_at, lease_owner = NULL, lease_expires_at = NULL,
           max_tries = CASE WHEN v.interrupted = 1 AND max_tries < try_number THEN try_number ELSE max_tries END,
           try_number = CASE WHEN v.rescheduled = 1 THEN try_number - 1 ELSE try_number END
         FROM ${this.dialect.valuesTable('v', columns)}
         WHERE task_instances.id = v.id AND task_instances.try_number = v.ran_try AND task_instances.lease_owner = ? AND task_instances.state = 'running'`,
        [chunk.map((c) => [c.id, c.tryNumber, c.state, c.endIso, c.durationS, c.nextRetryAt, c.error, c.interrupted ? 1 : 0, c.rescheduled ? 1 : 0, c.result ?? null, c.firstPokeAt ?? null]), owner],
      );
    }
  }

  /** Extends every lease `owner` holds on running instances, but those of `except` (attempts past their timeout). */
  async renewLeases(sql: Sql, owner: string, expiresAt: number, nowMs: number, except: readonly number[] = []): Promise<void> {
    const where = `lease_owner = ? AND state = 'running'${except.length > 0 ? ' AND id NOT IN (?)' : ''}`;
    const params: SqlValue[] = except.length > 0 ? [owner, except] : [owner];
    // The rows in key order first, as recordCompletions takes them (see lockInKeyOrder).
    if (this.dialect.lockInKeyOrder !== '') await sql.all(`SELECT id FROM task_instances WHERE ${where} ORDER BY id${this.dialect.lockInKeyOrder}`, params);
    await sql.run(`UPDATE task_instances SET lease_expires_at = ?, heartbeat_at = ? WHERE ${where}`, [expiresAt, nowMs, ...params]);
  }

  /** State, try and lease owner of these instances. */
  async leaseHolders(sql: Sql, ids: readonly number[]): Promise<{ id: number; state: string | null; try_number: number; lease_owner: string | null }[]> {
    return sql.all('SELECT id, state, try_number, lease_owner FROM task_instances WHERE id IN (?)', [ids]);
  }

  /** Running instances not held by `self`: the candidates for recovery. */
  async runningNotOwnedBy(sql: Sql, self: string): Promise<
    { id: number; dag_id: string; run_id: string; task_id: string; try_number: number; max_tries: number; lease_owner: string | null; lease_expires_at: number | null }[]
  > {
    return sql.all(
      `SELECT id, dag_id, run_id, task_id, try_number, max_tries, lease_owner, lease_expires_at FROM task_instances
       WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner <> ?)${this.dialect.lockClaimedRows}`,
      [self],
    );
  }

  /** Ends a lost attempt: up for retry now, or failed; unless it stopped running meanwhile. */
  async endLostAttempt(sql: Sql, id: number, retry: boolean, nowMs: number, endIso: string, message: string): Promise<void> {
    await sql.run(
      `UPDATE task_instances SET state = ?, next_retry_at = ?, end_date = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL
       WHERE id = ? AND state = 'running'`,
      [retry ? 'up_for_retry' : 'failed', retry ? nowMs : null, endIso, message, id],
    );
  }

  /**
   * Airflow's clear: these runs' instances of `taskId` (not running ones; with `onlyFailed`, only
   * failed or upstream_failed ones) wait again, with `retries` more tries on top of those used.
   * A whole clear (not `onlyFailed`) removes a mapped task's mapped instances that are not running,
   * so its expansion runs again and may find another list. Returns how many were cleared or removed.
   */
  async clearTaskInstances(sql: Sql, runPks: readonly number[], taskId: string, retries: number, onlyFailed: boolean): Promise<number> {
    let n = 0;
    for (const chunk of chunks(runPks, 500)) {
      if (!onlyFailed) {
        n += await sql.run("DELETE FROM task_instances WHERE run_pk IN (?) AND task_id = ? AND map_index >= 0 AND (state IS NULL OR state <> 'running')", [chunk, taskId]);
      }
      n += await sql.run(
        `UPDATE task_instances SET state = NULL, max_tries = try_number + ?, next_retry_at = NULL, end_date = NULL, duration = NULL, last_error = NULL, result = NULL,
           first_poke_at = NULL
         WHERE run_pk IN (?) AND task_id = ? AND ${onlyFailed ? "state IN ('failed', 'upstream_failed')" : "(state IS NULL OR state <> 'running')"}`,
        [retries, chunk, taskId],
      );
    }
    return n;
  }

  /** The results stored by these tasks' instances in these runs (unmapped instances without one are left out). */
  async storedResults(sql: Sql, runPks: readonly number[], taskIds: readonly string[]): Promise<StoredResultRow[]> {
    if (taskIds.length === 0) return [];
    const out: StoredResultRow[] = [];
    for (const chunk of chunks(runPks, 500)) {
      out.push(...(await sql.all<StoredResultRow>(
        'SELECT run_pk, task_id, map_index, result FROM task_instances WHERE run_pk IN (?) AND task_id IN (?) AND (result IS NOT NULL OR map_index >= 0)',
        [chunk, taskIds],
      )));
    }
    return out;
  }

  /** Instance counts by DAG and state (the daemon's gauges). */
  async taskInstanceCountsByState(sql: Sql): Promise<{ dag_id: string; state: string | null; n: number }[]> {
    return sql.all('SELECT dag_id, state, COUNT(*) AS n FROM task_instances GROUP BY dag_id, state');
  }

  // ---- the DAG bag as last loaded, and the console's reads ----

  /** Replaces the stored DAG bag: every serialized DAG and import error becomes the given ones. */
  async replaceDagBag(
    sql: Sql,
    dags: readonly { dagId: string; fileloc: string | null; data: string }[],
    errors: readonly { file: string; error: string }[],
    nowIso: string,
  ): Promise<void> {
    // It locks nothing else, so waiting here cannot close a cycle (the lock order: postgres-metadata.md).
    if (this.dialect.dagBagLock !== '') await sql.all(this.dialect.dagBagLock);
    await sql.run('DELETE FROM serialized_dags');
    await sql.run('DELETE FROM import_errors');
    for (const chunk of chunks(dags)) {
      await sql.run('INSERT INTO serialized_dags (dag_id, fileloc, data, updated_at) VALUES ?', [chunk.map((d) => [d.dagId, d.fileloc, d.data, nowIso])]);
    }
    for (const chunk of chunks(errors)) {
      await sql.run('INSERT INTO import_errors (file, error, updated_at) VALUES ? ON CONFLICT DO NOTHING', [chunk.map((e) => [e.file, e.error, nowIso])]);
    }
  }

  /** The stored DAGs (one, when `dagId` is given) with their pause flag and where run creation resumes. */
  async serializedDags(sql: Sql, dagId?: string): Promise<SerializedDagRow[]> {
    return sql.all(
      `SELECT s.dag_id, s.data, COALESCE(d.paused, 0) AS paused, d.next_dagrun,
         (SELECT MAX(logical_date) FROM dag_runs r WHERE r.dag_id = s.dag_id AND r.run_type = 'scheduled') AS last_scheduled
       FROM serialized_dags s LEFT JOIN dags d ON d.dag_id = s.dag_id
       ${dagId === undefined ? '' : 'WHERE s.dag_id = ?'} ORDER BY s.dag_id`,
      dagId === undefined ? [] : [dagId],
    );
  }

  /** The DAG files that failed to load, by file. */
  async importErrors(sql: Sql): Promise<{ file: string; error: string; updated_at: string }[]> {
    return sql.all('SELECT file, error, updated_at FROM import_errors ORDER BY file');
  }

  /** A page of a DAG's runs, newest logical date first, optionally of some states, and how many there are. */
  async runsPage(sql: Sql, dagId: string, states: readonly string[] | undefined, limit: number, offset: number): Promise<{ rows: DagRunRow[]; total: number }> {
    const where = states && states.length > 0 ? 'dag_id = ? AND state IN (?)' : 'dag_id = ?';
    const params: SqlValue[] = states && states.length > 0 ? [dagId, states] : [dagId];
    const rows = await sql.all<DagRunRow>(`SELECT * FROM dag_runs WHERE ${where} ORDER BY logical_date DESC LIMIT ? OFFSET ?`, [...params, limit, offset]);
    const [count] = await sql.all<{ n: number }>(`SELECT COUNT(*) AS n FROM dag_runs WHERE ${where}`, params);
    return { rows, total: count.n };
  }

  /** Runs of a DAG by run id. */
  async runsByRunId(sql: Sql, dagId: string, runIds: readonly string[]): Promise<DagRunRow[]> {
    if (runIds.length === 0) return [];
    return sql.all('SELECT * FROM dag_runs WHERE dag_id = ? AND run_id IN (?) ORDER BY logical_date', [dagId, runIds]);
  }

  /** Every column of these runs' task instances (of one task, when given). */
  async taskInstanceDetails(sql: Sql, runPks: readonly number[], taskId?: string): Promise<TaskInstanceRow[]> {
    const out: TaskInstanceRow[] = [];
    for (const chunk of chunks(runPks, 500)) {
      out.push(
        ...(taskId === undefined
          ? await sql.all<TaskInstanceRow>('SELECT * FROM task_instances WHERE run_pk IN (?)', [chunk])
          : await sql.all<TaskInstanceRow>('SELECT * FROM task_instances WHERE run_pk IN (?) AND task_id = ?', [chunk, taskId])),
      );
    }
    return out;
  }

  /** The latest instances of one task (newest logical date first), with their run's logical date. */
  async taskHistory(sql: Sql, dagId: string, taskId: string, limit: number, onlyState?: string): Promise<(TaskInstanceRow & { logical_date: string })[]> {
    return sql.all(
      `SELECT ti.*, r.logical_date FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
       WHERE ti.dag_id = ? AND ti.task_id = ?${onlyState === undefined ? '' : ' AND ti.state = ?'}
       ORDER BY r.logical_date DESC LIMIT ?`,
      onlyState === undefined ? [dagId, taskId, limit] : [dagId, taskId, onlyState, limit],
    );
  }

  // ---- alerts (the outbox) ----

  /** Records alert events; one whose dedup key exists is ignored. Returns how many are new. */
  async insertAlerts(sql: Sql, alerts: readonly NewAlert[], createdAt: string): Promise<number> {
    let n = 0;
    for (const chunk of chunks(alerts)) {
      n += await sql.run(
        `INSERT INTO alerts (event, dedup_key, dag_id, run_id, task_id, map_index, try_number, max_tries, logical_date, error, created_at)
         VALUES ? ON CONFLICT (dedup_key) DO NOTHING`,
        [chunk.map((a) => [a.event, a.dedupKey, a.dagId, a.runId, a.taskId, a.mapIndex ?? -1, a.tryNumber, a.maxTries, a.logicalDate, a.error, createdAt])],
      );
    }
    return n;
  }

  /** These instances with their state, lease and run's logical date. */
  async alertSubjects(sql: Sql, ids: readonly number[]): Promise<AlertSubject[]> {
    const out: AlertSubject[] = [];
    for (const chunk of chunks(ids, 500)) {
      out.push(
        ...(await sql.all<AlertSubject>(
          `SELECT ti.id, ti.dag_id, ti.run_id, ti.task_id, ti.state, ti.try_number, ti.max_tries, ti.lease_owner, ti.map_index, r.logical_date
           FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk WHERE ti.id IN (?)`,
          [chunk],
        )),
      );
    }
    return out;
  }

  /** When the earliest undelivered alert is due (epoch ms), or null when none is left. */
  async nextAlertDue(sql: Sql): Promise<number | null> {
    const [row] = await sql.all<{ at: number | null }>('SELECT MIN(next_attempt_at) AS at FROM alerts WHERE delivered_at IS NULL');
    return row?.at ?? null;
  }

  /** The deliverers holding claims on undelivered alerts, other than `self`. */
  async alertClaimOwners(sql: Sql, self: string): Promise<string[]> {
    const rows = await sql.all<{ claimed_by: string }>(
      'SELECT DISTINCT claimed_by FROM alerts WHERE delivered_at IS NULL AND claimed_by IS NOT NULL AND claimed_by <> ?',
      [self],
    );
    return rows.map((r) => r.claimed_by);
  }

  /**
   * Claims up to `limit` due, undelivered alerts for `owner` (unclaimed, its own claims renewed, claim
   * expired, or claimed by one of `deadOwners`) and returns every alert `owner` now holds, oldest first.
   */
  async claimAlerts(sql: Sql, owner: string, nowMs: number, expiresAt: number, deadOwners: readonly string[], limit: number): Promise<AlertRow[]> {
    await sql.run(
      `UPDATE alerts SET claimed_by = ?, claim_expires_at = ?
       WHERE id IN (SELECT id FROM alerts WHERE delivered_at IS NULL AND next_attempt_at <= ?
         AND (claimed_by IS NULL OR claimed_by = ? OR claim_expires_at < ? OR claimed_by IN (?)) ORDER BY id LIMIT ?${this.dialect.lockClaimedRows})`,
      [owner, expiresAt, nowMs, owner, nowMs, deadOwners.length > 0 ? deadOwners : [''], limit],
    );
    return sql.all('SELECT * FROM alerts WHERE claimed_by = ? AND delivered_at IS NULL ORDER BY id', [owner]);
  }

  /** The alert's callback has run; only while `owner` holds it. Returns 1 when recorded. */
  async alertCallbackDone(sql: Sql, id: number, owner: string): Promise<number> {
    return sql.run('UPDATE alerts SET callback_pending = 0 WHERE id = ? AND claimed_by = ?', [id, owner]);
  }

  /** The alert is delivered; only while `owner` holds it. */
  async alertDelivered(sql: Sql, id: number, owner: string, nowIso: string): Promise<number> {
    return sql.run('UPDATE alerts SET delivered_at = ?, claimed_by = NULL, claim_expires_at = NULL, last_error = NULL, attempts = attempts + 1 WHERE id = ? AND claimed_by = ?', [
      nowIso,
      id,
      owner,
    ]);
  }

  /** A delivery failed: released, due again at `nextAt`. */
  async alertDeferred(sql: Sql, id: number, owner: string, nextAt: number, error: string): Promise<number> {
    return sql.run(
      'UPDATE alerts SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, claimed_by = NULL, claim_expires_at = NULL WHERE id = ? AND claimed_by = ?',
      [nextAt, error, id, owner],
    );
  }

  /** Per DAG, the intervals whose deadline was missed and that have still not succeeded. */
  async missedDeadlineCounts(sql: Sql): Promise<{ dag_id: string; n: number }[]> {
    return sql.all(
      `SELECT a.dag_id, COUNT(*) AS n FROM alerts a
       WHERE a.event = 'deadline_missed'
         AND NOT EXISTS (SELECT 1 FROM dag_runs r WHERE r.dag_id = a.dag_id AND r.logical_date = a.logical_date AND r.state = 'success')
       GROUP BY a.dag_id`,
    );
  }
}
