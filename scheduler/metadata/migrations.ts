/**
 * The metadata schema as an ordered list of migrations. `schema_version` records the applied ones;
 * a start applies the missing ones in order, each in its own transaction, so an older database is
 * brought forward and a newer one is refused instead of being misread.
 */

/** One schema step: its version and the statements that take the previous version to it. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  /** Portable DDL (the dialect adapts types), run on either engine. */
  readonly statements: readonly string[];
  /** Statements of each engine instead, for a step portable DDL cannot say (a changed table constraint). */
  readonly byEngine?: { readonly sqlite: readonly string[]; readonly postgres: readonly string[] };
}

/** The indexes of task_instances (migrations 1, 4, 7), made again after SQLite's rebuild of the table. */
const TASK_INSTANCE_INDEXES = [
  'CREATE INDEX task_instances_by_state ON task_instances (state, dag_id)',
  'CREATE INDEX task_instances_by_owner ON task_instances (lease_owner)',
  'CREATE INDEX task_instances_by_task ON task_instances (dag_id, task_id, state)',
  'CREATE INDEX task_instances_by_pool ON task_instances (pool, state)',
];

/** An alert names the mapped instance it is about (its log is in that instance's map_index directory). */
const ALERTS_MAP_INDEX = 'ALTER TABLE alerts ADD COLUMN map_index INTEGER NOT NULL DEFAULT -1';

/** task_instances' columns up to migration 8, in order: what SQLite's rebuild in migration 9 copies. */
const TASK_INSTANCE_COLUMNS_V8 =
  'id, run_pk, dag_id, run_id, task_id, state, try_number, max_tries, start_date, end_date, duration, pid, hostname, ' +
  'lease_owner, lease_expires_at, heartbeat_at, next_retry_at, last_error, result, pool, pool_slots, first_poke_at';

/** Every migration, oldest first. Append only; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'dags, dag runs and task instances',
    statements: [
      `CREATE TABLE dags (
        dag_id TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        fileloc TEXT,
        last_seen_at TEXT
      )`,
      // (dag_id, logical_date) is unique so the daemon, a backfill and a trigger can never create the
      // same run twice: every creator inserts with ON CONFLICT DO NOTHING and reads back what exists.
      `CREATE TABLE dag_runs (
        id INTEGER PRIMARY KEY,
        dag_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        logical_date TEXT NOT NULL,
        data_interval_start TEXT NOT NULL,
        data_interval_end TEXT NOT NULL,
        run_type TEXT NOT NULL,
        state TEXT NOT NULL,
        conf TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        UNIQUE (dag_id, logical_date),
        UNIQUE (dag_id, run_id)
      )`,
      `CREATE INDEX dag_runs_by_state ON dag_runs (state, dag_id, logical_date)`,
      // state NULL = waiting for its upstream (Airflow's "none"). Lease times are epoch ms so the
      // claim and recovery predicates compare integers.
      `CREATE TABLE task_instances (
        id INTEGER PRIMARY KEY,
        run_pk INTEGER NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
        dag_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        state TEXT,
        try_number INTEGER NOT NULL DEFAULT 0,
        max_tries INTEGER NOT NULL DEFAULT 0,
        start_date TEXT,
        end_date TEXT,
        duration REAL,
        pid INTEGER,
        hostname TEXT,
        lease_owner TEXT,
        lease_expires_at INTEGER,
        heartbeat_at INTEGER,
        next_retry_at INTEGER,
        last_error TEXT,
        UNIQUE (run_pk, task_id)
      )`,
      `CREATE INDEX task_instances_by_state ON task_instances (state, dag_id)`,
      `CREATE INDEX task_instances_by_owner ON task_instances (lease_owner)`,
    ],
  },
  {
    version: 2,
    description: "dags.next_dagrun: where run creation resumes, so runs created by others are passed, not re-tried",
    statements: ['ALTER TABLE dags ADD COLUMN next_dagrun TEXT'],
  },
  {
    version: 3,
    description: 'dag_runs.owner: the executor that started a run, so a dead backfill\'s runs can be released',
    statements: ['ALTER TABLE dag_runs ADD COLUMN owner TEXT'],
  },
  {
    version: 4,
    description: 'serialized_dags and import_errors: the DAG bag as last loaded, so the API reads structure from the database, not a process',
    statements: [
      // As Airflow's serialized_dag: the loaded DAG's structure as JSON (see scheduler/serializedDag.ts).
      `CREATE TABLE serialized_dags (
        dag_id TEXT PRIMARY KEY,
        fileloc TEXT,
        data TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE TABLE import_errors (
        file TEXT PRIMARY KEY,
        error TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      // The task-instance history of one task (data-test results, mart freshness) without a scan.
      `CREATE INDEX task_instances_by_task ON task_instances (dag_id, task_id, state)`,
    ],
  },
  {
    version: 5,
    description: 'alerts: the outbox of webhook alerts and DAG callbacks, written with the state change that causes them',
    statements: [
      // dedup_key is unique so an event is recorded once however many processes see it (two daemons
      // checking one deadline, a completion and a recovery racing for one attempt). claimed_by is the
      // deliverer's lease; delivered_at ends a row's life; callback_pending runs the DAG file's
      // callback once before the webhook is tried (and retried) on its own.
      `CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        event TEXT NOT NULL,
        dedup_key TEXT NOT NULL UNIQUE,
        dag_id TEXT NOT NULL,
        run_id TEXT,
        task_id TEXT,
        try_number INTEGER,
        max_tries INTEGER,
        logical_date TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        callback_pending INTEGER NOT NULL DEFAULT 1,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        claim_expires_at INTEGER,
        delivered_at TEXT,
        last_error TEXT
      )`,
      'CREATE INDEX alerts_pending ON alerts (next_attempt_at) WHERE delivered_at IS NULL',
    ],
  },
  {
    version: 6,
    description: "task_instances.result: a task's return value as JSON, handed to its downstream tasks (ctx.upstream)",
    statements: ['ALTER TABLE task_instances ADD COLUMN result TEXT'],
  },
  {
    version: 7,
    description: "task_instances.pool and pool_slots: the pool an instance waits in and the slots it holds while running, so any process counts a pool's use in one statement",
    statements: [
      'ALTER TABLE task_instances ADD COLUMN pool TEXT',
      'ALTER TABLE task_instances ADD COLUMN pool_slots INTEGER NOT NULL DEFAULT 0',
      // Every claim counts the running slots of the pools it claims from.
      'CREATE INDEX task_instances_by_pool ON task_instances (pool, state)',
    ],
  },
  {
    version: 8,
    description: "task_instances.first_poke_at: when a sensor first poked (epoch ms), so its timeout survives its reschedules",
    statements: ['ALTER TABLE task_instances ADD COLUMN first_poke_at INTEGER'],
  },
  {
    version: 9,
    description: 'task_instances.map_index, map_label and map_value: a mapped task has an instance per value of its expanded list',
    statements: [],
    // The key becomes (run_pk, task_id, map_index), -1 for an unmapped instance, as Airflow's. SQLite
    // cannot drop a table constraint, so it rebuilds the table (ids kept); PostgreSQL swaps the constraint.
    byEngine: {
      sqlite: [
        `CREATE TABLE task_instances_v9 (
          id INTEGER PRIMARY KEY,
          run_pk INTEGER NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
          dag_id TEXT NOT NULL,
          run_id TEXT NOT NULL,
          task_id TEXT NOT NULL,
          state TEXT,
          try_number INTEGER NOT NULL DEFAULT 0,
          max_tries INTEGER NOT NULL DEFAULT 0,
          start_date TEXT,
          end_date TEXT,
          duration REAL,
          pid INTEGER,
          hostname TEXT,
          lease_owner TEXT,
          lease_expires_at INTEGER,
          heartbeat_at INTEGER,
          next_retry_at INTEGER,
          last_error TEXT,
          result TEXT,
          pool TEXT,
          pool_slots INTEGER NOT NULL DEFAULT 0,
          first_poke_at INTEGER,
          map_index INTEGER NOT NULL DEFAULT -1,
          map_label TEXT,
          map_value TEXT,
          UNIQUE (run_pk, task_id, map_index)
        )`,
        `INSERT INTO task_instances_v9 (${TASK_INSTANCE_COLUMNS_V8}) SELECT ${TASK_INSTANCE_COLUMNS_V8} FROM task_instances`,
        'DROP TABLE task_instances',
        'ALTER TABLE task_instances_v9 RENAME TO task_instances',
        ...TASK_INSTANCE_INDEXES,
        ALERTS_MAP_INDEX,
      ],
      postgres: [
        'ALTER TABLE task_instances ADD COLUMN map_index INTEGER NOT NULL DEFAULT -1',
        'ALTER TABLE task_instances ADD COLUMN map_label TEXT',
        'ALTER TABLE task_instances ADD COLUMN map_value TEXT',
        // The name PostgreSQL gave migration 1's UNIQUE (run_pk, task_id).
        'ALTER TABLE task_instances DROP CONSTRAINT task_instances_run_pk_task_id_key',
        'ALTER TABLE task_instances ADD CONSTRAINT task_instances_key UNIQUE (run_pk, task_id, map_index)',
        ALERTS_MAP_INDEX,
      ],
    },
  },
];

/** The version a fully migrated database has. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
