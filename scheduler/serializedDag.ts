/**
 * A loaded DAG's structure as stored in the metadata (`serialized_dags`, like Airflow's serialized_dag),
 * with the import errors beside it (`import_errors`). Whoever loads the DAG bag (the daemon on start and
 * on every reload, a CLI command) stores it, so the REST API reads structure from the database alone and
 * answers the same from a worker thread, another daemon or a separate process. Only what can be shown or
 * acted on is kept: ids, schedule, dependencies, resolved retries; never task code.
 */
import type { DagBag } from './dagLoader.js';
import type { Dag, Schedule } from './interfaces.js';
import type { MetadataDb } from './metadata/db.js';
import { paramsJsonSchema } from './params.js';
import { redact } from './redact.js';
import { retryPolicyFor } from './retryPolicy.js';
import type { Settings } from './settings.js';

/** One task of a {@link SerializedDag}. */
export interface SerializedTask {
  readonly task_id: string;
  readonly upstream: readonly string[];
  /** The retries a clear gives it, resolved (task, else DAG, else DRIVETRAIN_TASK_RETRIES) when stored. */
  readonly retries: number;
  readonly description: string | null;
  /** Its trigger rule (absent in DAGs stored before trigger rules: all_success). */
  readonly trigger_rule?: string;
  /** Its task group, or null. */
  readonly group?: string | null;
  /** Its sensor settings when it is a sensor, else null (absent in DAGs stored before sensors). */
  readonly sensor?: { readonly poke_interval_s: number; readonly timeout_s: number; readonly soft_fail: boolean } | null;
  /** True when it is mapped (expand); absent in DAGs stored before mapping: false. */
  readonly is_mapped?: boolean;
}

/** What `serialized_dags.data` holds. */
export interface SerializedDag {
  readonly dag_id: string;
  readonly description: string | null;
  readonly schedule: Schedule;
  readonly start_date: string;
  readonly end_date: string | null;
  readonly catchup: boolean;
  readonly file: string | null;
  /** In dependency order: every task after its upstream. */
  readonly tasks: readonly SerializedTask[];
  /** The params schema as JSON Schema (params.ts), so the API validates a trigger's conf; null when none. */
  readonly params?: Record<string, unknown> | null;
}

/** The stored form of a loaded DAG. */
export function serializeDag(dag: Dag, settings: Settings): SerializedDag {
  return {
    dag_id: dag.id,
    description: dag.description ?? null,
    schedule: dag.schedule,
    start_date: dag.startDate.toISOString(),
    end_date: dag.endDate?.toISOString() ?? null,
    catchup: dag.catchup,
    file: dag.fileloc ?? null,
    tasks: dag.tasks.map((t) => ({
      task_id: t.id,
      upstream: [...t.upstream],
      retries: retryPolicyFor(t, dag, settings).retries,
      description: t.description ?? null,
      trigger_rule: t.triggerRule,
      group: t.group ?? null,
      sensor: t.sensor ? { poke_interval_s: t.sensor.pokeIntervalS, timeout_s: t.sensor.timeoutS, soft_fail: t.sensor.softFail } : null,
      is_mapped: t.expand !== undefined,
    })),
    params: paramsJsonSchema(dag.params),
  };
}

/** Records the bag as the one last loaded: its DAGs' structure and its import errors, replacing the previous bag's. */
export async function storeDagBag(db: MetadataDb, bag: DagBag, settings: Settings, now = new Date()): Promise<void> {
  const dags = [...bag.dags.values()].map((d) => ({ dagId: d.id, fileloc: d.fileloc ?? null, data: JSON.stringify(serializeDag(d, settings)) }));
  // An import error can quote a DAG file's text; a secret in it must not reach the table.
  const errors = bag.errors.map((e) => ({ file: e.file, error: redact(e.reason) }));
  await db.tx((sql) => db.statements.replaceDagBag(sql, dags, errors, now.toISOString()));
}
