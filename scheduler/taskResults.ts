/**
 * Task results (Airflow's XCom return value, one per task instance): what a task function returns is
 * stored as JSON with its instance and handed to its downstream tasks through `ctx.upstream(id)`.
 * Results are for small facts (a row count, a file name), not data: the cap keeps the metadata
 * database a scheduler's, and data goes through the lake or the warehouse.
 */
import { NotAnUpstreamError } from './errors/NotAnUpstreamError.js';
import { TaskResultError } from './errors/TaskResultError.js';
import type { MetadataDb } from './metadata/db.js';
import type { Sql } from './metadata/interfaces.js';
import type { Statements } from './metadata/statements.js';
import type { Claim } from './schedulerTurn.js';

/** The largest result kept, in bytes of its JSON (UTF-8). */
export const RESULT_LIMIT_BYTES = 64 * 1024;

/** The JSON to store for a task's return value, null for undefined; TaskResultError when it cannot be kept. */
export function encodeResult(taskId: string, value: unknown): string | null {
  if (value === undefined) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new TaskResultError(taskId, `not serializable as JSON (${(err as Error).message})`);
  }
  if (json === undefined) throw new TaskResultError(taskId, `not serializable as JSON (a ${typeof value})`);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > RESULT_LIMIT_BYTES) {
    throw new TaskResultError(taskId, `${bytes} bytes of JSON, more than the ${RESULT_LIMIT_BYTES} allowed; put data in the lake or warehouse and return where it is`);
  }
  return json;
}

/** The results of `upstream` in one run, by task id (undefined: none stored). */
export type UpstreamResults = ReadonlyMap<string, unknown>;

/** Reads the stored results of `upstream` in the run with primary key `runPk` (`tasks test`). */
export async function loadUpstreamResults(db: MetadataDb, runPk: number, upstream: readonly string[]): Promise<UpstreamResults> {
  if (upstream.length === 0) return new Map();
  const rows = await db.read((sql) => db.statements.storedResults(sql, [runPk], upstream));
  return new Map(rows.map((r) => [r.task_id, JSON.parse(r.result) as unknown]));
}

/**
 * The upstream results of each claim of a scheduler turn, read in its transaction with one statement
 * for the whole turn rather than one per attempt: most tasks have upstream, and a read per attempt
 * would be a metadata round trip on every claim. A batched call reads its first run's.
 */
export async function claimedUpstreamResults(sql: Sql, st: Statements, claims: readonly Claim[]): Promise<Map<Claim, UpstreamResults>> {
  const out = new Map<Claim, UpstreamResults>();
  const withUpstream = claims.filter((c) => c.task.upstream.length > 0);
  if (withUpstream.length === 0) return out;
  const runPks = [...new Set(withUpstream.map((c) => c.items[0].run.id))];
  const taskIds = [...new Set(withUpstream.flatMap((c) => c.task.upstream))];
  const byRun = new Map<number, Map<string, string>>();
  for (const r of await st.storedResults(sql, runPks, taskIds)) {
    let m = byRun.get(r.run_pk);
    if (!m) byRun.set(r.run_pk, (m = new Map()));
    m.set(r.task_id, r.result);
  }
  for (const c of withUpstream) {
    const stored = byRun.get(c.items[0].run.id);
    const results = new Map<string, unknown>();
    for (const u of c.task.upstream) {
      const json = stored?.get(u);
      if (json !== undefined) results.set(u, JSON.parse(json) as unknown);
    }
    out.set(c, results);
  }
  return out;
}

/**
 * `ctx.upstream` of task `taskId`: the result of one of its upstream tasks (undefined when it returned
 * nothing or was skipped); NotAnUpstreamError for any other id.
 */
export function upstreamAccessor(taskId: string, upstream: readonly string[], results: UpstreamResults): (id: string) => unknown {
  return (id) => {
    if (!upstream.includes(id)) throw new NotAnUpstreamError(taskId, id, upstream);
    return results.get(id);
  };
}
