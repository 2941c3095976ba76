/**
 * The scheduler's resources under /api/v1: DAGs, runs, task instances, attempt logs, and the actions
 * (pause, trigger, clear), which call the same functions as the CLI's `dags pause`, `dags trigger` and
 * `tasks clear`. Every read goes to the metadata database (DAG structure included, see
 * scheduler/serializedDag.ts), never to a process's memory.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clearTasks } from '../clearTasks.js';
import { checkDateRange, parseUtcDate } from '../dates.js';
import { InvalidParamsError } from '../errors/InvalidParamsError.js';
import { UsageError } from '../errors/UsageError.js';
import type { Clock, Logger } from '../interfaces.js';
import { attemptLogPath } from '../logging.js';
import { setPaused } from '../metadata/dagTable.js';
import type { MetadataDb } from '../metadata/db.js';
import { UNMAPPED } from '../mapping.js';
import type { DagRunRow, TaskInstanceRow } from '../metadata/models.js';
import { redact } from '../redact.js';
import { paramsSchemaFromJson, resolveParams } from '../params.js';
import { triggerRun } from '../runCreator.js';
import { badRequest, conflict, notFound } from './ApiError.js';
import { readLogChunk } from './logChunk.js';
import { dagResource, dagRunResource, gridCellResource, parseStoredDag, taskInstanceResource, type StoredDag } from './resources.js';
import * as s from './schemas.js';

/** What the routes read and act on. */
export interface ApiRouteDeps {
  readonly db: MetadataDb;
  readonly logDir: string;
  readonly clock: Clock;
  /** Where actions are recorded. */
  readonly log?: Logger;
}

const errors = (...codes: (400 | 401 | 403 | 404 | 409)[]) => Object.fromEntries(codes.map((c) => [c, s.problem]));

/** A date from a request, by the one strict UTC parser; 400 naming the field and value. */
export function requestDate(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  return parseUtcDate(value, field);
}

export function registerApiRoutes(app: FastifyInstance, deps: ApiRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { db, clock } = deps;
  const st = db.statements;

  const storedDag = async (dagId: string): Promise<StoredDag> => {
    const [row] = await db.read((sql) => st.serializedDags(sql, dagId));
    if (!row) throw notFound(`DAG '${dagId}' is not loaded (see GET /api/v1/dags for the DAGs and the files that failed to import)`);
    return parseStoredDag(row);
  };
  const runOf = async (dagId: string, runId: string): Promise<DagRunRow> => {
    const [run] = await db.read((sql) => st.runsByRunId(sql, dagId, [runId]));
    if (!run) throw notFound(`DAG '${dagId}' has no run '${runId}'`);
    return run;
  };

  api.get('/api/v1/dags', {
    schema: { summary: 'The loaded DAGs and the files that failed to import', tags: ['DAG'], querystring: s.paging, response: { 200: s.dagCollection, ...errors(400, 401) } },
  }, async (req) => {
    const { rows, importErrors } = await db.read(async (sql) => ({ rows: await st.serializedDags(sql), importErrors: await st.importErrors(sql) }));
    const now = clock.now();
    return {
      dags: rows.slice(req.query.offset, req.query.offset + req.query.limit).map((r) => dagResource(parseStoredDag(r), now)),
      import_errors: importErrors.map((e) => ({ file: e.file, error: redact(e.error) })),
      total_entries: rows.length,
    };
  });

  api.get('/api/v1/dags/:dag_id', {
    schema: { summary: 'One DAG, with its tasks in dependency order', tags: ['DAG'], params: s.dagIdParams, response: { 200: s.dagShape, ...errors(401, 404) } },
  }, async (req) => dagResource(await storedDag(req.params.dag_id), clock.now()));

  api.patch('/api/v1/dags/:dag_id', {
    schema: { summary: 'Pause or unpause a DAG (as `dags pause`/`unpause`)', tags: ['DAG'], params: s.dagIdParams, body: s.patchDagBody, response: { 200: s.dagShape, ...errors(400, 401, 403, 404) } },
  }, async (req) => {
    const stored = await storedDag(req.params.dag_id);
    await setPaused(db, { id: stored.dag.dag_id, fileloc: stored.dag.file ?? undefined }, req.body.is_paused);
    deps.log?.info(req.body.is_paused ? 'DAG paused' : 'DAG unpaused', { dagId: stored.dag.dag_id, via: 'api' });
    return dagResource(await storedDag(req.params.dag_id), clock.now());
  });

  api.get('/api/v1/dags/:dag_id/dagRuns', {
    schema: { summary: "A DAG's runs, newest logical date first", tags: ['DAGRun'], params: s.dagIdParams, querystring: s.runsQuery, response: { 200: s.dagRunCollection, ...errors(400, 401, 404) } },
  }, async (req) => {
    await storedDag(req.params.dag_id);
    const { rows, total } = await db.read((sql) => st.runsPage(sql, req.params.dag_id, req.query.state, req.query.limit, req.query.offset));
    return { dag_runs: rows.map(dagRunResource), total_entries: total };
  });

  api.post('/api/v1/dags/:dag_id/dagRuns', {
    schema: { summary: 'Trigger a manual run (as `dags trigger`)', tags: ['DAGRun'], params: s.dagIdParams, body: s.triggerBody, response: { 200: s.dagRunShape, ...errors(400, 401, 403, 404, 409) } },
  }, async (req) => {
    const { dag } = await storedDag(req.params.dag_id);
    const date = requestDate(req.body.logical_date, 'logical_date');
    let runId: string;
    try {
      const params = resolveParams(dag.dag_id, paramsSchemaFromJson(dag.params), req.body.conf ?? {});
      runId = await triggerRun(db, { id: dag.dag_id, schedule: dag.schedule }, { date, now: clock.now(), conf: params });
    } catch (err) {
      if (err instanceof InvalidParamsError) throw badRequest(err.message);
      if (err instanceof UsageError && /already has a run/.test((err as Error).message)) throw conflict((err as Error).message);
      throw err;
    }
    deps.log?.info('manual run created', { dagId: dag.dag_id, runId, via: 'api' });
    return dagRunResource(await runOf(dag.dag_id, runId));
  });

  api.get('/api/v1/dags/:dag_id/dagRuns/:dag_run_id', {
    schema: { summary: 'One run', tags: ['DAGRun'], params: s.runParams, response: { 200: s.dagRunShape, ...errors(401, 404) } },
  }, async (req) => dagRunResource(await runOf(req.params.dag_id, req.params.dag_run_id)));

  api.get('/api/v1/dags/:dag_id/dagRuns/:dag_run_id/taskInstances', {
    schema: {
      summary: "A run's task instances, mapped ones included: in the DAG's task order, each task's by map index (its -1 instance first)",
      tags: ['TaskInstance'],
      params: s.runParams,
      response: { 200: s.taskInstanceCollection, ...errors(401, 404) },
    },
  }, async (req) => {
    const run = await runOf(req.params.dag_id, req.params.dag_run_id);
    const [rows, stored] = await Promise.all([db.read((sql) => st.taskInstanceDetails(sql, [run.id])), storedDag(req.params.dag_id).catch(() => undefined)]);
    const order = new Map(stored?.dag.tasks.map((t, i) => [t.task_id, i]) ?? []);
    rows.sort((a, b) => (order.get(a.task_id) ?? 1e9) - (order.get(b.task_id) ?? 1e9) || a.task_id.localeCompare(b.task_id) || a.map_index - b.map_index);
    return { task_instances: rows.map(taskInstanceResource), total_entries: rows.length };
  });

  /** Every instance of one task in one run (a mapped task's expansion and its mapped instances), by map index; 404 when it has none. */
  const instancesOf = async (dagId: string, runId: string, taskId: string) => {
    const run = await runOf(dagId, runId);
    const rows = await db.read((sql) => st.taskInstanceDetails(sql, [run.id], taskId));
    if (rows.length === 0) throw notFound(`run '${run.run_id}' of DAG '${run.dag_id}' has no task instance '${taskId}'`);
    return rows.sort((a, b) => a.map_index - b.map_index);
  };
  /** One instance by its map index; the 404 names the task and the index. */
  const instanceAt = async (dagId: string, runId: string, taskId: string, mapIndex: number) => {
    const ti = (await instancesOf(dagId, runId, taskId)).find((r) => r.map_index === mapIndex);
    if (!ti) {
      throw notFound(
        mapIndex < 0
          ? `run '${runId}' of DAG '${dagId}' has no unmapped instance of task '${taskId}'`
          : `run '${runId}' of DAG '${dagId}' has no mapped instance ${mapIndex} of task '${taskId}' (see .../taskInstances/${taskId}/listMapped)`,
      );
    }
    return ti;
  };

  api.get('/api/v1/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id', {
    schema: {
      summary: "One task's instance at map index -1: an unmapped task's only one, a mapped task's expansion (its mapped instances: listMapped)",
      tags: ['TaskInstance'],
      params: s.taskParams,
      response: { 200: s.taskInstanceShape, ...errors(401, 404) },
    },
  }, async (req) => taskInstanceResource(await instanceAt(req.params.dag_id, req.params.dag_run_id, req.params.task_id, UNMAPPED)));

  api.get('/api/v1/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/listMapped', {
    schema: {
      summary: "A mapped task's mapped instances in one run, by map index (none before its expansion made them); 404 for a task that is not mapped",
      tags: ['TaskInstance'],
      params: s.taskParams,
      querystring: s.paging,
      response: { 200: s.taskInstanceCollection, ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const rows = await instancesOf(req.params.dag_id, req.params.dag_run_id, req.params.task_id);
    const mapped = rows.filter((r) => r.map_index >= 0);
    // As Airflow's: an unmapped task has no mapped instances to list, which is a wrong address, not an empty page.
    const task = (await storedDag(req.params.dag_id).catch(() => undefined))?.dag.tasks.find((t) => t.task_id === req.params.task_id);
    if (mapped.length === 0 && task !== undefined && task.is_mapped !== true) {
      throw notFound(`task '${req.params.task_id}' of DAG '${req.params.dag_id}' is not mapped`);
    }
    return { task_instances: mapped.slice(req.query.offset, req.query.offset + req.query.limit).map(taskInstanceResource), total_entries: mapped.length };
  });

  api.get('/api/v1/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/:map_index', {
    schema: { summary: 'One mapped instance, by its map index', tags: ['TaskInstance'], params: s.mappedParams, response: { 200: s.taskInstanceShape, ...errors(400, 401, 404) } },
  }, async (req) => taskInstanceResource(await instanceAt(req.params.dag_id, req.params.dag_run_id, req.params.task_id, req.params.map_index)));

  api.get('/api/v1/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/logs/:try_number', {
    schema: {
      summary: 'An attempt log from a byte offset (or its tail), as text/plain; the next offset is in X-Next-Offset; a mapped instance\'s with ?map_index=N',
      tags: ['TaskInstance'],
      params: s.logParams,
      querystring: s.logQuery,
      response: { 200: z.string(), ...errors(400, 401, 404) },
    },
  }, async (req, reply) => {
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId, try_number: attempt } = req.params;
    const mapIndex = req.query.map_index;
    const ti = await instanceAt(dagId, runId, taskId, mapIndex);
    const which = mapIndex < 0 ? `task instance '${taskId}'` : `mapped instance ${mapIndex} of task '${taskId}'`;
    if (attempt > ti.try_number) throw notFound(`${which} of run '${runId}' has had ${ti.try_number} attempt(s), not ${attempt}`);
    const chunk = await readLogChunk(attemptLogPath(deps.logDir, { dagId, runId, taskId, attempt, mapIndex }), {
      offset: req.query.offset,
      tail: req.query.tail,
      limit: req.query.limit,
    });
    // An attempt that has just started may not have written its file yet: an empty piece, tail again.
    const start = chunk?.start ?? 0;
    void reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('x-next-offset', String(chunk?.next ?? req.query.offset ?? 0))
      .header('x-log-start', String(start))
      .header('x-log-size', String(chunk?.size ?? 0));
    return chunk ? redact(chunk.bytes.toString('utf8')) : '';
  });

  api.post('/api/v1/dags/:dag_id/clearTaskInstances', {
    schema: { summary: 'Clear task instances (as `tasks clear`)', tags: ['TaskInstance'], params: s.dagIdParams, body: s.clearBody, response: { 200: s.clearedCollection, ...errors(400, 401, 403, 404) } },
  }, async (req) => {
    const { dag } = await storedDag(req.params.dag_id);
    const from = requestDate(req.body.start_date, 'start_date');
    const to = requestDate(req.body.end_date, 'end_date');
    checkDateRange(from, to, 'start_date', 'end_date');
    const unknown = req.body.task_ids?.find((t) => !dag.tasks.some((x) => x.task_id === t));
    if (unknown !== undefined) throw badRequest(`task_ids: DAG '${dag.dag_id}' has no task '${unknown}'`);
    const result = await clearTasks(
      db,
      { id: dag.dag_id, tasks: dag.tasks.map((t) => ({ id: t.task_id, upstream: t.upstream, retries: t.retries })) },
      { from, to, taskIds: req.body.task_ids, includeDownstream: req.body.include_downstream },
    );
    deps.log?.info('task instances cleared', { dagId: dag.dag_id, tasks: result.taskIds, runs: result.runs, instances: result.cleared.length, via: 'api' });
    return {
      task_instances: result.cleared.map((c) => ({ dag_id: dag.dag_id, dag_run_id: c.runId, task_id: c.taskId, state: c.state })),
      total_entries: result.cleared.length,
    };
  });

  api.get('/api/v1/dags/:dag_id/grid', {
    schema: {
      summary: "The grid's states: a page of runs (newest first) with their instances' states; the structure is GET /dags/{dag_id}",
      tags: ['DAGRun'],
      params: s.dagIdParams,
      querystring: s.gridQuery,
      response: { 200: s.gridCollection, ...errors(400, 401, 404) },
    },
  }, async (req) => {
    const { dag_id: dagId } = req.params;
    const { runs, total, tis } = await db.read(async (sql) => {
      const page = req.query.dag_run_ids
        ? { rows: await st.runsByRunId(sql, dagId, req.query.dag_run_ids), total: -1 }
        : await st.runsPage(sql, dagId, undefined, req.query.limit, req.query.offset);
      return { runs: page.rows, total: page.total, tis: await st.taskInstanceDetails(sql, page.rows.map((r) => r.id)) };
    });
    // One cell per task and run: its -1 instance, with its mapped instances (if any) summarised into it.
    const byRun = new Map<number, Map<string, { cell?: TaskInstanceRow; mapped: TaskInstanceRow[] }>>();
    for (const ti of tis) {
      let tasks = byRun.get(ti.run_pk);
      if (!tasks) byRun.set(ti.run_pk, (tasks = new Map()));
      let task = tasks.get(ti.task_id);
      if (!task) tasks.set(ti.task_id, (task = { mapped: [] }));
      if (ti.map_index < 0) task.cell = ti;
      else task.mapped.push(ti);
    }
    const cellsOf = (runPk: number) =>
      [...(byRun.get(runPk)?.values() ?? [])].flatMap(({ cell, mapped }) => (cell ? [gridCellResource(cell, mapped)] : []));
    return {
      dag_runs: runs.map((r) => ({
        dag_run_id: r.run_id,
        run_type: r.run_type,
        state: r.state,
        logical_date: r.logical_date,
        start_date: r.started_at,
        end_date: r.ended_at,
        task_instances: cellsOf(r.id),
      })),
      // Polling named runs does not count the DAG's runs: the page keeps the total of its last full read.
      total_entries: total < 0 ? runs.length : total,
    };
  });
}
