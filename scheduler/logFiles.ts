/**
 * Finding log files: the attempt logs under `$logDir/dag_id=*\/run_id=*\/task_id=*\/attempt=N.log`,
 * a mapped instance's with a `map_index=N` directory before the file (filtered by DAG, task and run) and the scheduler log with its rotated copies. Used by
 * `drivetrain logs`; knows the layout written by logging.ts.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { decodePathSegment, encodePathSegment, SCHEDULER_LOG_FILE, type AttemptRef } from './logging.js';

/** Which attempt logs to show. */
export interface AttemptLogFilter {
  /** Exact DAG id. */
  readonly dagId?: string;
  /** Exact task id. */
  readonly taskId?: string;
  /** A run id, or any part of one (`--run 2024-01-01` matches `scheduled__2024-01-01T00:00:00+00:00`). */
  readonly run?: string;
}

const ATTEMPT_FILE = /^attempt=(\d+)\.log$/;
const MAP_INDEX_DIR = /^map_index=(\d+)$/;

/** The attempt a log file belongs to, from its path below `logDir`; undefined for any other file. */
export function parseAttemptLogPath(logDir: string, file: string): AttemptRef | undefined {
  const parts = path.relative(logDir, file).split(path.sep);
  if (parts.length !== 4 && parts.length !== 5) return undefined;
  const [dag, run, task] = parts;
  const mapIndex = parts.length === 5 ? MAP_INDEX_DIR.exec(parts[3]) : undefined;
  const attempt = ATTEMPT_FILE.exec(parts[parts.length - 1]);
  if (!dag.startsWith('dag_id=') || !run.startsWith('run_id=') || !task.startsWith('task_id=') || !attempt || mapIndex === null) return undefined;
  return {
    dagId: decodePathSegment(dag.slice('dag_id='.length)),
    runId: decodePathSegment(run.slice('run_id='.length)),
    taskId: decodePathSegment(task.slice('task_id='.length)),
    attempt: Number(attempt[1]),
    ...(mapIndex === undefined ? {} : { mapIndex: Number(mapIndex[1]) }),
  };
}

/** True when an attempt matches the filter. */
export function matchesFilter(ref: AttemptRef, filter: AttemptLogFilter): boolean {
  return (
    (filter.dagId === undefined || ref.dagId === filter.dagId) &&
    (filter.taskId === undefined || ref.taskId === filter.taskId) &&
    (filter.run === undefined || ref.runId.includes(filter.run))
  );
}

/** The line prefix of an attempt's log lines: `[dag/task/run#try]`, a mapped instance's `[dag/task[N]/run#try]`. */
export function attemptPrefix(ref: AttemptRef): string {
  const task = ref.mapIndex === undefined ? ref.taskId : `${ref.taskId}[${ref.mapIndex}]`;
  return `[${ref.dagId}/${task}/${ref.runId}#${ref.attempt}]`;
}

/** The line prefix of the scheduler log's lines. */
export const SCHEDULER_PREFIX = '[scheduler]';

/** Path order, but attempt=10 after attempt=9 (numeric-aware). */
export function comparePaths(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

async function entries(dir: string, prefix: string, exact?: string): Promise<string[]> {
  if (exact !== undefined) return [path.join(dir, `${prefix}${encodePathSegment(exact)}`)];
  try {
    const names = await readdir(dir);
    return names.filter((n) => n.startsWith(prefix)).map((n) => path.join(dir, n));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/**
 * Every attempt log matching the filter, sorted by path (attempt numbers numerically). Descends only
 * into the DAG and task directories the filter names, so a filtered listing stays cheap.
 */
export async function listAttemptLogs(logDir: string, filter: AttemptLogFilter = {}): Promise<string[]> {
  const out: string[] = [];
  for (const dagDir of await entries(logDir, 'dag_id=', filter.dagId)) {
    for (const runDir of await entries(dagDir, 'run_id=')) {
      for (const taskDir of await entries(runDir, 'task_id=', filter.taskId)) {
        const mapDirs = await entries(taskDir, 'map_index=');
        for (const dir of [taskDir, ...mapDirs]) {
          for (const file of await entries(dir, 'attempt=')) {
            const ref = parseAttemptLogPath(logDir, file);
            if (ref && matchesFilter(ref, filter)) out.push(file);
          }
        }
      }
    }
  }
  return out.sort(comparePaths);
}

/** The scheduler log's files that exist, oldest first: scheduler.log.N ... scheduler.log.1, scheduler.log. */
export async function listSchedulerLogs(logDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(logDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const rotated = names
    .map((n) => /^scheduler\.log\.(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((m) => path.join(logDir, m[0]));
  return names.includes(SCHEDULER_LOG_FILE) ? [...rotated, path.join(logDir, SCHEDULER_LOG_FILE)] : rotated;
}
