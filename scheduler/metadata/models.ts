/**
 * Sequelize models over the metadata tables (the schema itself is owned by migrations.ts). The CLI's
 * simple listings read through these; the scheduler's statements, which batch rows and join, are in
 * statements.ts.
 */
import { DataTypes, type Model, type ModelStatic, type Sequelize } from 'sequelize';
import type { DagRunState, RunType, TaskInstanceState } from '../interfaces.js';

/** A row of `dags`. */
export interface DagRow {
  dag_id: string;
  paused: number;
  fileloc: string | null;
  last_seen_at: string | null;
  /** Logical date (ISO) from which the next scheduled run is created; null = not yet computed. */
  next_dagrun: string | null;
}

/** A row of `dag_runs`. Dates are ISO 8601 UTC strings. */
export interface DagRunRow {
  id: number;
  dag_id: string;
  run_id: string;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  run_type: RunType;
  state: DagRunState;
  conf: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  /** Lease owner id of the executor that started the run (null before it starts). */
  owner: string | null;
}

/** A row of `task_instances`; state null = waiting for upstream. Lease times are epoch ms. */
export interface TaskInstanceRow {
  id: number;
  run_pk: number;
  dag_id: string;
  run_id: string;
  task_id: string;
  state: TaskInstanceState | null;
  try_number: number;
  max_tries: number;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  pid: number | null;
  hostname: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  heartbeat_at: number | null;
  next_retry_at: number | null;
  last_error: string | null;
  /** The task's return value as JSON (migration 6); null when it returned nothing or did not succeed. */
  result: string | null;
  /** The pool it waits in, and the slots it holds while running (migration 7). */
  pool: string | null;
  pool_slots: number;
  /** A sensor's first poke, epoch ms (migration 8); null for other tasks and before the first poke. */
  first_poke_at: number | null;
  /** Its place in its task's expanded list, from 0; -1 for an unmapped instance and a mapped task's expansion (migration 9). */
  map_index: number;
  /** A mapped instance's label (Airflow's rendered map index) and its value as JSON; null otherwise. */
  map_label: string | null;
  map_value: string | null;
}

/** The three models. */
export interface MetadataModels {
  readonly Dag: ModelStatic<Model<DagRow>>;
  readonly DagRun: ModelStatic<Model<DagRunRow>>;
  readonly TaskInstance: ModelStatic<Model<TaskInstanceRow>>;
}

// Fresh objects per attribute: Sequelize writes the field name into the definition it is given.
const text = () => ({ type: DataTypes.TEXT, allowNull: true });
const int = () => ({ type: DataTypes.INTEGER, allowNull: true });

/** Defines the models on `sequelize` (no sync: migrations create the tables). */
export function defineModels(sequelize: Sequelize): MetadataModels {
  const Dag = sequelize.define<Model<DagRow>>(
    'Dag',
    { dag_id: { type: DataTypes.TEXT, primaryKey: true }, paused: int(), fileloc: text(), last_seen_at: text(), next_dagrun: text() },
    { tableName: 'dags', timestamps: false },
  );
  const DagRun = sequelize.define<Model<DagRunRow>>(
    'DagRun',
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      dag_id: text(),
      run_id: text(),
      logical_date: text(),
      data_interval_start: text(),
      data_interval_end: text(),
      run_type: text(),
      state: text(),
      conf: text(),
      created_at: text(),
      started_at: text(),
      ended_at: text(),
      owner: text(),
    },
    { tableName: 'dag_runs', timestamps: false },
  );
  const TaskInstance = sequelize.define<Model<TaskInstanceRow>>(
    'TaskInstance',
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      run_pk: int(),
      dag_id: text(),
      run_id: text(),
      task_id: text(),
      state: text(),
      try_number: int(),
      max_tries: int(),
      start_date: text(),
      end_date: text(),
      duration: { type: DataTypes.REAL, allowNull: true },
      pid: int(),
      hostname: text(),
      lease_owner: text(),
      lease_expires_at: int(),
      heartbeat_at: int(),
      next_retry_at: int(),
      last_error: text(),
      result: text(),
      pool: text(),
      pool_slots: int(),
      first_poke_at: int(),
      map_index: int(),
      map_label: text(),
      map_value: text(),
    },
    { tableName: 'task_instances', timestamps: false },
  );
  return { Dag, DagRun, TaskInstance };
}
