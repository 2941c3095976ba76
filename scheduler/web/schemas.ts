/**
 * The API's resource shapes (Airflow's stable REST API's names) and request schemas, as zod schemas:
 * fastify validates requests with them and @fastify/swagger turns them into /api/v1/openapi.json.
 */
import { z } from 'zod';

const iso = z.string().nullable();

export const problem = z
  .object({ status: z.number().int(), title: z.string(), detail: z.string() })
  .describe('An error: HTTP status, its title, and one line naming what is wrong');

export const paging = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('page size'),
  offset: z.coerce.number().int().min(0).default(0).describe('rows to skip'),
});

export const taskShape = z.object({
  task_id: z.string(),
  upstream: z.array(z.string()),
  description: z.string().nullable(),
  retries: z.number().int(),
  trigger_rule: z.string().describe("when it runs given its upstream's states (Airflow's trigger rules)"),
  group: z.string().nullable().describe('its task group; its id is `group.name`'),
  sensor: z
    .object({ poke_interval_s: z.number(), timeout_s: z.number(), soft_fail: z.boolean() })
    .nullable()
    .describe("a sensor's poke interval and timeout (seconds), null for other tasks"),
  is_mapped: z.boolean().describe('mapped (expand): an instance per value of a list made at run time, see listMapped'),
});

export const dagShape = z.object({
  dag_id: z.string(),
  description: z.string().nullable(),
  schedule: z.string().nullable(),
  is_paused: z.boolean(),
  catchup: z.boolean(),
  next_dagrun: iso.describe('logical date of the next scheduled run; null when none will be created'),
  file: z.string().nullable(),
  tasks: z.array(taskShape).describe('in dependency order: every task after its upstream'),
  params: z.record(z.string(), z.unknown()).nullable().describe("the JSON Schema of a run's conf (the DAG's params); null: any object"),
});

export const importErrorShape = z.object({ file: z.string(), error: z.string() });

export const dagCollection = z.object({ dags: z.array(dagShape), import_errors: z.array(importErrorShape), total_entries: z.number().int() });

export const dagRunShape = z.object({
  dag_id: z.string(),
  dag_run_id: z.string(),
  run_type: z.string(),
  state: z.string(),
  logical_date: z.string(),
  data_interval_start: z.string(),
  data_interval_end: z.string(),
  start_date: iso,
  end_date: iso,
  conf: z.record(z.string(), z.unknown()),
});

export const dagRunCollection = z.object({ dag_runs: z.array(dagRunShape), total_entries: z.number().int() });

export const taskInstanceShape = z.object({
  dag_id: z.string(),
  dag_run_id: z.string(),
  task_id: z.string(),
  map_index: z
    .number()
    .int()
    .describe("its place in its mapped task's list, from 0; -1 for an unmapped instance and for a mapped task's expansion (the instance that computes the list)"),
  rendered_map_index: z.string().nullable().describe("a mapped instance's label (the task's mapLabel, else its value); null when map_index is -1"),
  state: z.string().nullable().describe('null: waiting for its upstream'),
  try_number: z.number().int(),
  max_tries: z.number().int(),
  start_date: iso,
  end_date: iso,
  duration: z.number().nullable().describe('seconds'),
  hostname: z.string().nullable(),
  pid: z.number().int().nullable(),
  next_retry_date: iso,
  error: z.string().nullable().describe('the last attempt\'s error, secrets redacted'),
  result: z.unknown().describe("the task's return value (JSON), handed to its downstream tasks; null when none"),
});

export const taskInstanceCollection = z.object({ task_instances: z.array(taskInstanceShape), total_entries: z.number().int() });

export const gridCell = z
  .object({
    task_id: z.string(),
    state: z
      .string()
      .nullable()
      .describe(
        'the instance at map index -1; for a mapped task with mapped instances, the one of theirs that most needs a look: failed > upstream_failed > running > up_for_retry > up_for_reschedule > queued > null (waiting) > skipped > success',
      ),
    try_number: z.number().int().describe('of the instance at map index -1 (a mapped task: of its expansion)'),
    start_date: iso.describe("a mapped task's: its expansion's start"),
    end_date: iso.describe("a mapped task's: its last mapped instance's end, null until every one has ended"),
    duration: z.number().nullable().describe('seconds'),
    mapped: z.number().int().describe('how many mapped instances the task has in this run; 0 for an unmapped task or before its expansion made them'),
    mapped_states: z
      .record(z.string(), z.number().int())
      .nullable()
      .describe('how many mapped instances are in each state (`none`: waiting); null when `mapped` is 0'),
  })
  .describe("one task in one run: the grid's cell");

export const gridRun = z.object({
  dag_run_id: z.string(),
  run_type: z.string(),
  state: z.string(),
  logical_date: z.string(),
  start_date: iso,
  end_date: iso,
  task_instances: z.array(gridCell),
});

export const gridCollection = z.object({ dag_runs: z.array(gridRun), total_entries: z.number().int() });

export const dagIdParams = z.object({ dag_id: z.string() });
export const runParams = dagIdParams.extend({ dag_run_id: z.string() });
export const taskParams = runParams.extend({ task_id: z.string() });
export const logParams = taskParams.extend({ try_number: z.coerce.number().int().min(1) });
export const mappedParams = taskParams.extend({
  map_index: z.coerce.number().int().min(-1).describe('the mapped instance\'s index from 0 (-1: the task\'s unmapped instance or expansion)'),
});
const mapIndexQuery = z.coerce
  .number()
  .int()
  .min(-1)
  .default(-1)
  .describe("which instance of the task: a mapped instance's index from 0; -1 (default) the unmapped instance or a mapped task's expansion");

export const states = z
  .string()
  .optional()
  .describe('comma-separated states, e.g. `running,queued`')
  .transform((s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined));

export const runsQuery = paging.extend({ state: states });

export const gridQuery = paging.extend({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('runs per page'),
  dag_run_ids: z
    .string()
    .optional()
    .describe('comma-separated run ids: only these runs (the console polls its active runs this way)')
    .transform((s) => (s ? s.split(',').filter(Boolean) : undefined)),
});

export const patchDagBody = z.object({ is_paused: z.boolean() }).strict();

export const triggerBody = z
  .object({
    logical_date: z.string().optional().describe('YYYY-MM-DD or ISO 8601 (UTC); default: now, as `dags trigger`'),
    conf: z.record(z.string(), z.unknown()).optional().describe('reaches tasks as ctx.params'),
  })
  .strict();

export const clearBody = z
  .object({
    start_date: z.string().optional().describe('first logical date (inclusive)'),
    end_date: z.string().optional().describe('last logical date (inclusive)'),
    task_ids: z.array(z.string()).min(1).optional().describe('default: every task'),
    include_downstream: z.boolean().default(false),
  })
  .strict();

export const clearedCollection = z.object({
  task_instances: z.array(z.object({ dag_id: z.string(), dag_run_id: z.string(), task_id: z.string(), state: z.string().nullable() })),
  total_entries: z.number().int(),
});

export const logQuery = z.object({
  offset: z.coerce.number().int().min(0).optional().describe('first byte; default 0'),
  tail: z.coerce.number().int().min(1).optional().describe('instead of offset: the last this many bytes, from a line start'),
  limit: z.coerce.number().int().min(1).default(1024 * 1024).describe('most bytes returned (at most 1 MiB)'),
  map_index: mapIndexQuery,
});

export const dateRange = z.object({
  from: z.string().optional().describe('first date (YYYY-MM-DD), inclusive'),
  to: z.string().optional().describe('last date (YYYY-MM-DD), inclusive'),
});

export const martQuery = dateRange.extend({
  limit: z.coerce.number().int().min(1).max(100000).default(10000),
  offset: z.coerce.number().int().min(0).default(0),
});

export const martInfo = z.object({
  table: z.string(),
  columns: z.array(z.string()),
  date_column: z.string().nullable(),
  dag_id: z.string(),
  task_id: z.string(),
  latest_partition: iso.describe('logical date of the latest successful run of the task that writes it'),
  written_at: iso.describe('when that run finished writing it'),
});
