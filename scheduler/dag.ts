/**
 * The DAG-authoring API. A DAG file does `export default defineDag({...})`; the task ids are inferred
 * from the `tasks` object, so a misspelt `upstream` entry fails to compile. At run time the same
 * checks run again (DAG files are loaded by tsx without type checking): cycles, unknown upstream,
 * bad ids, bad schedule or dates each throw a DagDefinitionError that names the DAG and the problem.
 */
import { parseDuration } from './alerts/duration.js';
import { DagDefinitionError } from './errors/DagDefinitionError.js';
import type { AlertCallbacks, Dag, DagSpec, Task, TaskSpec } from './interfaces.js';
import type { ParamsSchema } from './params.js';
import { DEFAULT_POOL } from './pools.js';
import { dagCaughtUp } from './dagSucceeded.js';
import { sensor } from './sensor.js';

// DAG files import sensor() with defineDag.
export { sensor } from './sensor.js';
import { validateSchedule } from './timetable.js';
import { TRIGGER_RULES, type TriggerRule } from './triggerRules.js';

const ID_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Marks a DAG object so the loader can tell a DAG export from anything else. */
const DAG_BRAND = Symbol.for('drivetrain.dag');

/** Parses `YYYY-MM-DD` or an ISO date-time as UTC. */
export function parseUtcDate(value: string | Date, what: string, dagId: string): Date {
  const d =
    value instanceof Date
      ? new Date(value.getTime())
      : new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) throw new DagDefinitionError(`DAG '${dagId}': invalid ${what} '${String(value)}'`, dagId);
  return d;
}

function nonNegative(value: number | undefined, what: string, dagId: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < 0) throw new DagDefinitionError(`DAG '${dagId}': invalid ${what} '${value}'`, dagId);
  return value;
}

function nonNegativeInt(value: number | undefined, what: string, dagId: string): number | undefined {
  if (value !== undefined && !Number.isInteger(value)) throw new DagDefinitionError(`DAG '${dagId}': invalid ${what} '${value}'`, dagId);
  return nonNegative(value, what, dagId);
}

/** waitFor names other DAGs, each once. */
function waitForList(dagId: string, waitFor: readonly string[] | undefined): string[] {
  const list = [...(waitFor ?? [])];
  for (const [i, other] of list.entries()) {
    if (typeof other !== 'string' || !ID_PATTERN.test(other)) throw new DagDefinitionError(`DAG '${dagId}': invalid waitFor entry '${String(other)}'`, dagId);
    if (other === dagId) throw new DagDefinitionError(`DAG '${dagId}' cannot waitFor itself`, dagId);
    if (list.indexOf(other) !== i) throw new DagDefinitionError(`DAG '${dagId}' lists waitFor '${other}' twice`, dagId);
  }
  return list;
}

/** The callbacks of a task or DAG spec, each a function. */
function callbacksOf(spec: AlertCallbacks, what: string, dagId: string): AlertCallbacks {
  const out: { -readonly [K in keyof AlertCallbacks]: AlertCallbacks[K] } = {};
  for (const name of ['onFailure', 'onRetry', 'onSuccess'] as const) {
    const fn = spec[name];
    if (fn === undefined) continue;
    if (typeof fn !== 'function') throw new DagDefinitionError(`DAG '${dagId}': ${name} of ${what} is not a function`, dagId);
    out[name] = fn;
  }
  return out;
}

/** The deadline option with its duration parsed; a bad duration is an error quoting it. */
function deadlineOf(dagId: string, deadline: DagSpec['deadline']): Dag['deadline'] {
  if (deadline === undefined) return undefined;
  const text = (deadline as { afterIntervalEnd?: unknown } | null)?.afterIntervalEnd;
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new DagDefinitionError(`DAG '${dagId}': invalid deadline.afterIntervalEnd '${String(text)}': use a duration such as '6h', '90m' or '1d2h'`, dagId);
  }
  return { afterIntervalEnd: text as string, afterIntervalEndMs: ms };
}

function positiveInt(value: number, what: string, dagId: string): number {
  if (!Number.isInteger(value) || value < 1) throw new DagDefinitionError(`DAG '${dagId}': invalid ${what} '${value}'`, dagId);
  return value;
}

/** The trigger rule of a task spec, all_success when none is given. */
function triggerRuleOf(value: unknown, taskId: string, dagId: string): TriggerRule {
  if (value === undefined) return 'all_success';
  if (!TRIGGER_RULES.includes(value as TriggerRule)) {
    throw new DagDefinitionError(`DAG '${dagId}': task '${taskId}' has unknown triggerRule '${String(value)}' (one of ${TRIGGER_RULES.join(', ')})`, dagId);
  }
  return value as TriggerRule;
}

/** A task's group: its id must be `group.name`, as the ids taskGroup() makes. */
function groupOf(value: unknown, taskId: string, dagId: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !ID_PATTERN.test(value) || !taskId.startsWith(`${value}.`)) {
    throw new DagDefinitionError(`DAG '${dagId}': task '${taskId}' is in group '${String(value)}' but its id does not start with '${String(value)}.'`, dagId);
  }
  return value;
}

/** A task's pool name; whether the settings declare it is checked at load (pools.ts checkDagPools). */
function poolOf(value: unknown, taskId: string, dagId: string): string {
  if (value === undefined) return DEFAULT_POOL;
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) throw new DagDefinitionError(`DAG '${dagId}': task '${taskId}' has invalid pool '${String(value)}'`, dagId);
  return value;
}

/**
 * The params schema of a DAG: a zod schema whose defaults satisfy it when the DAG has a schedule
 * (its scheduled runs get nothing but the defaults).
 */
function paramsOf(dagId: string, spec: DagSpec): ParamsSchema | undefined {
  const schema = spec.params;
  if (schema === undefined) return undefined;
  if (typeof (schema as { safeParse?: unknown } | null)?.safeParse !== 'function') {
    throw new DagDefinitionError(`DAG '${dagId}': params must be a zod schema, e.g. z.object({ rows: z.number().default(10) })`, dagId);
  }
  if (spec.schedule !== null) {
    const defaults = schema.safeParse({});
    if (!defaults.success) {
      const issue = defaults.error.issues[0];
      throw new DagDefinitionError(`DAG '${dagId}': params field '${issue.path.map(String).join('.')}' has no default, which its scheduled runs need: ${issue.message}`, dagId);
    }
  }
  return schema;
}

/**
 * A task group (Airflow's TaskGroup with prefixed ids): the tasks' ids become `group.id`, each is
 * marked with the group, and an upstream naming a sibling is prefixed too. Spread it into a DAG's
 * tasks: `tasks: { ...taskGroup('extract', { cars: {...} }), load: { upstream: ['extract.cars'] } }`.
 */
export function taskGroup<G extends string, K extends string>(
  group: G,
  tasks: { readonly [T in K]: TaskSpec },
  // TaskSpec<never>: fits any DAG's task map. A group's upstream ids are checked when the DAG is
  // defined (an unknown one is a DagDefinitionError), not at compile time as a plain task's are.
): { [T in K as `${G}.${T}`]: TaskSpec<never> } {
  const siblings = new Set(Object.keys(tasks));
  const out: Record<string, TaskSpec> = {};
  for (const [id, spec] of Object.entries(tasks) as [string, TaskSpec][]) {
    const upstream = spec.upstream?.map((u) => (siblings.has(u) ? `${group}.${u}` : u));
    out[`${group}.${id}`] = { ...spec, group, ...(upstream === undefined ? {} : { upstream }) };
  }
  return out as { [T in K as `${G}.${T}`]: TaskSpec<never> };
}

/**
 * `waitFor` as sensors: a `wait_for_<dag>` sensor task per waited-for DAG (dagCaughtUp), and every
 * root task depends on them all. A task of that id already in the DAG is an error, not overwritten.
 * The sensors are batched: a backfill pokes a range of runs in one call, so the batch tasks after them
 * find those runs ready together and take them in one call too (one run at a time otherwise: each
 * sensor's success made one run ready, and a two-year backfill ran its marts day by day).
 */
function withWaitForSensors(dagId: string, tasks: readonly Task[], waitFor: readonly string[], options: DagSpec['waitForSensor']): Task[] {
  if (waitFor.length === 0) return [...tasks];
  const sensorIds = waitFor.map((other) => `wait_for_${other}`);
  const clash = sensorIds.find((id) => tasks.some((t) => t.id === id));
  if (clash) throw new DagDefinitionError(`DAG '${dagId}': task '${clash}' clashes with the sensor its waitFor adds`, dagId);
  const sensors: Task[] = waitFor.map((other, i) => {
    const spec = sensorFor(dagId, { poke: dagCaughtUp(other), pokeIntervalS: options?.pokeIntervalS, timeoutS: options?.timeoutS, description: `waits for DAG '${other}' to succeed through this run's interval` });
    return { id: sensorIds[i], run: spec.run, upstream: [], triggerRule: 'all_success', retries: undefined, retryDelayS: undefined, timeoutS: undefined, batch: true, description: spec.description, sensor: spec.sensor, pool: DEFAULT_POOL, poolSlots: 1 };
  });
  const rooted = tasks.map((t) => (t.upstream.length === 0 ? { ...t, upstream: [...sensorIds] } : t));
  return [...sensors, ...rooted];
}

/** sensor(), its error naming the DAG (a bad waitForSensor value). */
function sensorFor(dagId: string, spec: Parameters<typeof sensor>[0]): ReturnType<typeof sensor> {
  try {
    return sensor(spec);
  } catch (err) {
    throw new DagDefinitionError(`DAG '${dagId}': waitForSensor: ${(err as Error).message}`, dagId);
  }
}

/** A task spec's sensor options (set by sensor()); a batched sensor pokes each run of its call once (attempt.ts). */
function sensorOf(t: TaskSpec): Pick<Task, 'sensor'> {
  return t.sensor === undefined ? {} : { sensor: t.sensor };
}

/** A task spec's mapping (expand, mapLabel); a mapped task cannot be a sensor nor batched. */
function mappingOf(t: TaskSpec, taskId: string, dagId: string): Pick<Task, 'expand' | 'mapLabel'> {
  if (t.expand === undefined) {
    if (t.mapLabel !== undefined) throw new DagDefinitionError(`DAG '${dagId}': task '${taskId}' has mapLabel but no expand`, dagId);
    return {};
  }
  if (typeof t.expand !== 'function') throw new DagDefinitionError(`DAG '${dagId}': expand of task '${taskId}' is not a function`, dagId);
  if (t.mapLabel !== undefined && typeof t.mapLabel !== 'function') throw new DagDefinitionError(`DAG '${dagId}': mapLabel of task '${taskId}' is not a function`, dagId);
  if (t.sensor !== undefined) throw new DagDefinitionError(`DAG '${dagId}': sensor task '${taskId}' cannot be mapped (expand)`, dagId);
  if (t.batch) throw new DagDefinitionError(`DAG '${dagId}': mapped task '${taskId}' cannot be batch: true`, dagId);
  return { expand: t.expand, ...(t.mapLabel === undefined ? {} : { mapLabel: t.mapLabel }) };
}

/** Orders tasks so each comes after its upstream (Kahn); names the tasks of a cycle if there is one. */
function topologicalOrder(dagId: string, tasks: readonly Task[]): Task[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const indegree = new Map(tasks.map((t) => [t.id, t.upstream.length]));
  const downstream = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  for (const t of tasks) for (const u of t.upstream) downstream.get(u)!.push(t.id);
  const ready = tasks.filter((t) => t.upstream.length === 0).map((t) => t.id);
  const order: Task[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(byId.get(id)!);
    for (const d of downstream.get(id)!) {
      const left = indegree.get(d)! - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length !== tasks.length) {
    const inCycle = tasks.filter((t) => indegree.get(t.id)! > 0).map((t) => t.id);
    throw new DagDefinitionError(`DAG '${dagId}' has a cycle among tasks: ${inCycle.join(', ')}`, dagId);
  }
  return order;
}

/** Validates a DAG spec and applies its defaults. Throws DagDefinitionError. */
export function defineDag<K extends string>(spec: DagSpec<K>): Dag {
  const dagId = spec?.id;
  if (typeof dagId !== 'string' || !ID_PATTERN.test(dagId)) {
    throw new DagDefinitionError(`invalid DAG id '${String(dagId)}': use letters, digits, '_', '-' and '.'`);
  }
  try {
    validateSchedule(spec.schedule);
  } catch (err) {
    throw new DagDefinitionError(`DAG '${dagId}': ${(err as Error).message}`, dagId);
  }
  if (spec.tasks === null || typeof spec.tasks !== 'object' || Array.isArray(spec.tasks)) {
    throw new DagDefinitionError(`DAG '${dagId}': tasks must be an object keyed by task id`, dagId);
  }
  const entries = Object.entries(spec.tasks) as [string, DagSpec<K>['tasks'][K]][];
  if (entries.length === 0) throw new DagDefinitionError(`DAG '${dagId}' has no tasks`, dagId);
  const ids = new Set(entries.map(([id]) => id));
  const tasks: Task[] = entries.map(([id, t]) => {
    if (!ID_PATTERN.test(id)) throw new DagDefinitionError(`DAG '${dagId}': invalid task id '${id}'`, dagId);
    if (typeof t?.run !== 'function') throw new DagDefinitionError(`DAG '${dagId}': task '${id}' has no run function`, dagId);
    const upstream = [...(t.upstream ?? [])] as string[];
    const seen = new Set<string>();
    for (const u of upstream) {
      if (!ids.has(u)) throw new DagDefinitionError(`DAG '${dagId}': task '${id}' has unknown upstream '${u}'`, dagId);
      if (seen.has(u)) throw new DagDefinitionError(`DAG '${dagId}': task '${id}' lists upstream '${u}' twice`, dagId);
      seen.add(u);
    }
    return {
      id,
      run: t.run,
      upstream,
      triggerRule: triggerRuleOf(t.triggerRule, id, dagId),
      group: groupOf(t.group, id, dagId),
      retries: nonNegativeInt(t.retries, `retries of task '${id}'`, dagId),
      retryDelayS: nonNegative(t.retryDelayS, `retryDelayS of task '${id}'`, dagId),
      timeoutS: nonNegative(t.timeoutS, `timeoutS of task '${id}'`, dagId),
      batch: t.batch ?? false,
      pool: poolOf(t.pool, id, dagId),
      poolSlots: positiveInt(t.poolSlots ?? 1, `poolSlots of task '${id}'`, dagId),
      description: t.description,
      ...sensorOf(t as TaskSpec),
      ...mappingOf(t as TaskSpec, id, dagId),
      ...callbacksOf(t, `task '${id}'`, dagId),
    };
  });
  const startDate = parseUtcDate(spec.startDate, 'startDate', dagId);
  const endDate = spec.endDate === undefined ? undefined : parseUtcDate(spec.endDate, 'endDate', dagId);
  if (endDate && endDate.getTime() < startDate.getTime()) {
    throw new DagDefinitionError(`DAG '${dagId}': endDate '${String(spec.endDate)}' is before startDate '${String(spec.startDate)}'`, dagId);
  }
  const waitFor = waitForList(dagId, spec.waitFor);
  const dag: Dag & { [DAG_BRAND]?: true } = {
    id: dagId,
    schedule: spec.schedule,
    startDate,
    endDate,
    catchup: spec.catchup ?? true,
    maxActiveRuns: positiveInt(spec.maxActiveRuns ?? 1, 'maxActiveRuns', dagId),
    maxActiveTasks: positiveInt(spec.maxActiveTasks ?? 16, 'maxActiveTasks', dagId),
    retries: nonNegativeInt(spec.retries, 'retries', dagId),
    retryDelayS: nonNegative(spec.retryDelayS, 'retryDelayS', dagId),
    timeoutS: nonNegative(spec.timeoutS, 'timeoutS', dagId),
    waitFor,
    description: spec.description,
    deadline: deadlineOf(dagId, spec.deadline),
    params: paramsOf(dagId, spec as DagSpec),
    ...callbacksOf(spec, 'the DAG', dagId),
    tasks: topologicalOrder(dagId, withWaitForSensors(dagId, tasks, waitFor, spec.waitForSensor)),
  };
  Object.defineProperty(dag, DAG_BRAND, { value: true, enumerable: false });
  return dag;
}

/** True for objects made by {@link defineDag}. */
export function isDag(value: unknown): value is Dag {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DAG_BRAND] === true;
}
