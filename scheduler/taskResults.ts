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
import type { Statements, StoredResultRow } from './metadata/statements.js';
import type { Dag } from './interfaces.js';
import { isMappedTask } from './mapping.js';
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

/**
 * One run's upstream results from its stored rows: an unmapped task's result, or a mapped task's
 * array of its instances' results in map-index order (undefined where one returned nothing). A
 * mapped task's expansion (map index -1) stores its list, which is not the task's result.
 */
function resultsOf(rows: readonly StoredResultRow[], upstream: readonly string[], isMapped: (taskId: string) => boolean): UpstreamResults {
  const results = new Map<string, unknown>();
  for (const id of upstream) if (isMapped(id) && rows.some((r) => r.task_id === id && r.map_index >= 0)) results.set(id, []);
  for (const r of rows) {
    if (!upstream.includes(r.task_id)) continue;
    const value = r.result === null ? undefined : (JSON.parse(r.result) as unknown);
    if (!isMapped(r.task_id)) results.set(r.task_id, value);
    else if (r.map_index >= 0) (results.get(r.task_id) as unknown[])[r.map_index] = value;
  }
  // Holes left by instances that are gone read as undefined, as those returning nothing.
  for (const [id, value] of results) if (Array.isArray(value) && isMapped(id)) results.set(id, Array.from(value));
  return results;
}

/** Reads the stored results of `upstream` of `dag` in the run with primary key `runPk` (`tasks test`). */
export async function loadUpstreamResults(db: MetadataDb, dag: Dag, runPk: number, upstream: readonly string[]): Promise<UpstreamResults> {
  if (upstream.length === 0) return new Map();
  const rows = await db.read((sql) => db.statements.storedResults(sql, [runPk], upstream));
  return resultsOf(rows, upstream, (id) => isMappedTask(dag, id));
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
  const byRun = new Map<number, StoredResultRow[]>();
  for (const r of await st.storedResults(sql, runPks, taskIds)) {
    const list = byRun.get(r.run_pk);
    if (list) list.push(r);
    else byRun.set(r.run_pk, [r]);
  }
  for (const c of withUpstream) out.set(c, resultsOf(byRun.get(c.items[0].run.id) ?? [], c.task.upstream, (id) => isMappedTask(c.dag, id)));
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
