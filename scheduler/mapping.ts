/**
 * Dynamic task mapping (Airflow's `expand`). A mapped task's instance at map index -1 is its
 * expansion: it runs `expand` as an attempt of its own (user code never runs inside a scheduler
 * turn's transaction), with a log and retries, and stores the list as its result. The next turn
 * creates one instance per value (map index 0..n-1), each with its own state, retries and log, and
 * from then on the task's downstream count every mapped instance, as Airflow's trigger rules do.
 */
import { MapExpansionError } from './errors/MapExpansionError.js';
import type { Dag, Task } from './interfaces.js';
import type { NewTaskInstance, RunRow, TiRow } from './metadata/statements.js';
import type { StoredState } from './triggerRules.js';

/** Most values one expansion takes (Airflow's max_map_length). */
export const MAX_MAP_LENGTH = 1024;

/** Longest label kept; a longer one is cut. */
export const MAP_LABEL_MAX_CHARS = 64;

/** The map index of an unmapped instance, and of a mapped task's expansion. */
export const UNMAPPED = -1;

/** What an expansion stores as its result: the values and their labels, in map-index order. */
export interface Expansion {
  readonly values: readonly unknown[];
  readonly labels: readonly string[];
}

function cut(text: string): string {
  return text.length > MAP_LABEL_MAX_CHARS ? `${text.slice(0, MAP_LABEL_MAX_CHARS - 1)}…` : text;
}

/** A value's label when the task gives no mapLabel: a string or number as it is, anything else as JSON. */
export function defaultMapLabel(value: unknown): string {
  return cut(typeof value === 'string' ? value : JSON.stringify(value));
}

/** What a value is, for an error message: `null`, `undefined`, `an object`, `a string`. */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Checks what `expand` returned and labels each value; MapExpansionError names the first problem.
 * The values must be JSON, since each is stored with its instance and read back by its attempt.
 */
export function expansionOf(task: Pick<Task, 'id' | 'mapLabel'>, list: unknown): Expansion {
  if (!Array.isArray(list)) {
    throw new MapExpansionError(task.id, `returned ${kindOf(list)}, not an array`);
  }
  if (list.length > MAX_MAP_LENGTH) throw new MapExpansionError(task.id, `returned ${list.length} values, more than the ${MAX_MAP_LENGTH} allowed`);
  const labels = list.map((value: unknown, i) => {
    if (value === undefined || JSON.stringify(value) === undefined) {
      throw new MapExpansionError(task.id, `value ${i} is ${kindOf(value)}, not JSON`);
    }
    if (task.mapLabel === undefined) return defaultMapLabel(value);
    let label: unknown;
    try {
      label = task.mapLabel(value, i);
    } catch (err) {
      throw new MapExpansionError(task.id, `value ${i}: mapLabel threw ${(err as Error)?.message ?? String(err)}`);
    }
    if (typeof label !== 'string' || label === '') throw new MapExpansionError(task.id, `value ${i}: mapLabel returned ${JSON.stringify(label) ?? 'undefined'}, not a non-empty string`);
    return cut(label);
  });
  return { values: list as unknown[], labels };
}

/** The expansion stored as an expansion instance's result. */
export function parseExpansion(taskId: string, json: string): Expansion {
  const parsed = JSON.parse(json) as Partial<Expansion> | null;
  if (!parsed || !Array.isArray(parsed.values) || !Array.isArray(parsed.labels) || parsed.values.length !== parsed.labels.length) {
    throw new MapExpansionError(taskId, `result stored by its expansion is not {values, labels}: ${json.slice(0, 80)}`);
  }
  return parsed as Expansion;
}

/** The mapped instances of an expansion, waiting, with the tries and pool of the task. */
export function mappedInstances(run: RunRow, task: Pick<Task, 'id' | 'pool'>, expansion: Expansion, maxTries: number): NewTaskInstance[] {
  return expansion.values.map((value, i) => ({
    runPk: run.id,
    dagId: run.dag_id,
    runId: run.run_id,
    taskId: task.id,
    maxTries,
    pool: task.pool,
    mapIndex: i,
    mapLabel: expansion.labels[i],
    mapValue: JSON.stringify(value),
  }));
}

/** A run's instances by task id, each task's in map-index order (its -1 instance first). */
export function instancesByTask(tis: Iterable<TiRow>): Map<string, TiRow[]> {
  const out = new Map<string, TiRow[]>();
  for (const ti of tis) {
    const list = out.get(ti.task_id);
    if (list) list.push(ti);
    else out.set(ti.task_id, [ti]);
  }
  for (const list of out.values()) if (list.length > 1) list.sort((a, b) => a.map_index - b.map_index);
  return out;
}

/** Instances by run, then by task (instancesByTask). */
export function instancesByRun(tis: Iterable<TiRow>): Map<number, Map<string, TiRow[]>> {
  const byRun = new Map<number, TiRow[]>();
  for (const ti of tis) {
    const list = byRun.get(ti.run_pk);
    if (list) list.push(ti);
    else byRun.set(ti.run_pk, [ti]);
  }
  return new Map([...byRun].map(([runPk, list]) => [runPk, instancesByTask(list)]));
}

/** The ids of a DAG's mapped tasks, computed once per loaded DAG. */
const mappedIdsOf = new WeakMap<Dag, ReadonlySet<string>>();

function mappedIds(dag: Dag): ReadonlySet<string> {
  let ids = mappedIdsOf.get(dag);
  if (ids === undefined) mappedIdsOf.set(dag, (ids = new Set(dag.tasks.filter((t) => t.expand !== undefined).map((t) => t.id))));
  return ids;
}

/** True when task `taskId` of `dag` is mapped (has expand). */
export function isMappedTask(dag: Dag, taskId: string): boolean {
  return mappedIds(dag).has(taskId);
}

/** True when `dag` has a mapped task: without one, every task has exactly one instance per run. */
export function hasMappedTasks(dag: Dag): boolean {
  return mappedIds(dag).size > 0;
}

/**
 * The states a downstream trigger rule counts for one upstream task: once a mapped task's expansion
 * succeeded, each of its mapped instances (none yet: one waiting state, so nothing downstream runs
 * before they exist); otherwise the task's one instance. No instance at all (a task added after the
 * run started) is `undefined`, which the rules count as done.
 */
export function countedStates(mapped: boolean, rows: readonly TiRow[] | undefined, stateOf: (ti: TiRow) => StoredState | undefined): (StoredState | undefined)[] {
  if (rows === undefined || rows.length === 0) return [undefined];
  const first = stateOf(rows[0]);
  if (!mapped || first !== 'success') return [first];
  return rows.length === 1 ? [null] : rows.slice(1).map(stateOf);
}
