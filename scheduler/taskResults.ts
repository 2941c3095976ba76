/**
 * Task results (Airflow's XCom return value, one per task instance): what a task function returns is
 * stored as JSON with its instance and handed to its downstream tasks through `ctx.upstream(id)`.
 * Results are for small facts (a row count, a file name), not data: the cap keeps the metadata
 * database a scheduler's, and data goes through the lake or the warehouse.
 */
import { NotAnUpstreamError } from './errors/NotAnUpstreamError.js';
import { TaskResultError } from './errors/TaskResultError.js';
import type { MetadataDb } from './metadata/db.js';

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

/** Reads the stored results of `upstream` in the run with primary key `runPk`. */
export async function loadUpstreamResults(db: MetadataDb, runPk: number, upstream: readonly string[]): Promise<UpstreamResults> {
  if (upstream.length === 0) return new Map();
  const rows = await db.read((sql) => db.statements.taskResults(sql, runPk, upstream));
  return new Map(rows.filter((r) => r.result !== null).map((r) => [r.task_id, JSON.parse(r.result!) as unknown]));
}

/**
 * `ctx.upstream` of task `taskId`: the result of one of its upstream tasks (undefined when it returned
 * nothing or was skipped); NotAnUpstreamError for any other id. `results` is read when called, so the
 * context can be built before the results are loaded.
 */
export function upstreamAccessor(taskId: string, upstream: readonly string[], results: () => UpstreamResults): (id: string) => unknown {
  return (id) => {
    if (!upstream.includes(id)) throw new NotAnUpstreamError(taskId, id, upstream);
    return results().get(id);
  };
}
