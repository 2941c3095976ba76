/**
 * Dynamic task mapping (scheduler/mapping.ts): a task expanded over a list computed at run time, each
 * mapped instance with its own state, retries, log and label; on both metadata engines, in scheduled
 * and backfill runs; and the migration that put map_index in the task-instance key.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import sqlite3 from 'sqlite3';
import { clearTasks } from '../../scheduler/clearTasks.js';
import { defineDag } from '../../scheduler/dag.js';
import { DagDefinitionError } from '../../scheduler/errors/DagDefinitionError.js';
import { MapExpansionError } from '../../scheduler/errors/MapExpansionError.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext, TaskSpec } from '../../scheduler/interfaces.js';
import { attemptLogPath } from '../../scheduler/logging.js';
import { countedStates, defaultMapLabel, expansionOf, instancesByTask, MAX_MAP_LENGTH, parseExpansion } from '../../scheduler/mapping.js';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { dialectFor } from '../../scheduler/metadata/dialect.js';
import { MIGRATIONS } from '../../scheduler/metadata/migrations.js';
import type { TiRow } from '../../scheduler/metadata/statements.js';
import { forEachMetadataEngine, type MetadataEngine } from '../helpers/metadataEngines.js';
import { openHarness, type Harness } from './harness.js';

interface MappedRow {
  run_id: string;
  task_id: string;
  map_index: number;
  map_label: string | null;
  state: string | null;
  try_number: number;
  result: string | null;
  last_error: string | null;
}

/** Every instance of a DAG, in run, task and map-index order. */
function instances(h: Harness, dagId: string): Promise<MappedRow[]> {
  return h.db.read((sql) =>
    sql.all<MappedRow>(
      'SELECT run_id, task_id, map_index, map_label, state, try_number, result, last_error FROM task_instances WHERE dag_id = ? ORDER BY run_id, task_id, map_index',
      [dagId],
    ),
  );
}

/** `task[index label] state` per instance (the -1 row as `task state`), one run's. */
function summary(rows: readonly MappedRow[]): string[] {
  return rows.map((r) => `${r.task_id}${r.map_index < 0 ? '' : `[${r.map_index} ${r.map_label}]`} ${r.state}`);
}

/** A DAG: `regions` returns the list, `load` is mapped over it, `report` and `cleanup` after it. */
function regionsDag(id: string, list: () => unknown, load: TaskSpec['run'], more: { retries?: number } = {}) {
  return defineDag({
    id,
    schedule: '@daily',
    startDate: '2024-01-01',
    retries: more.retries ?? 0,
    retryDelayS: 0,
    tasks: {
      regions: { run: list },
      load: { upstream: ['regions'], expand: (ctx) => ctx.upstream('regions') as unknown[], run: load },
      report: { upstream: ['load'], run: (ctx) => ctx.upstream('load') },
      cleanup: { upstream: ['load'], triggerRule: 'all_done', run: () => 'cleaned' },
    },
  });
}

describe('mapping: expansions and the states downstream count', () => {
  it('labels strings and numbers by their value, anything else by its JSON cut to 64 characters', () => {
    expect(expansionOf({ id: 't' }, ['eu', 7, { region: 'us' }])).to.deep.equal({ values: ['eu', 7, { region: 'us' }], labels: ['eu', '7', '{"region":"us"}'] });
    expect(defaultMapLabel('x'.repeat(64))).to.equal('x'.repeat(64));
    expect(defaultMapLabel('x'.repeat(65))).to.equal(`${'x'.repeat(63)}…`);
    expect(expansionOf({ id: 't', mapLabel: (v, i) => `${i}:${(v as { name: string }).name}` }, [{ name: 'a' }]).labels).to.deep.equal(['0:a']);
  });

  it('refuses what it cannot expand over with a MapExpansionError that names the task and the problem', () => {
    const refusal = (list: unknown, mapLabel?: (v: unknown, i: number) => string) => {
      try {
        expansionOf({ id: 'load', mapLabel }, list);
      } catch (err) {
        expect(err).to.be.instanceOf(MapExpansionError).and.instanceOf(NonRetryableError);
        return (err as Error).message;
      }
      throw new Error('no error');
    };
    expect(refusal({ eu: 1 })).to.equal("task 'load': expand returned an object, not an array");
    expect(refusal(undefined)).to.equal("task 'load': expand returned undefined, not an array");
    expect(refusal(null)).to.equal("task 'load': expand returned null, not an array");
    expect(refusal(Array.from({ length: MAX_MAP_LENGTH + 1 }, (_, i) => i))).to.equal(`task 'load': expand returned ${MAX_MAP_LENGTH + 1} values, more than the ${MAX_MAP_LENGTH} allowed`);
    expect(refusal(['a', undefined])).to.equal("task 'load': expand value 1 is undefined, not JSON");
    expect(refusal(['a', () => 1])).to.equal("task 'load': expand value 1 is a function, not JSON");
    expect(refusal(['a'], () => '')).to.equal(`task 'load': expand value 0: mapLabel returned "", not a non-empty string`);
    expect(refusal(['a'], () => { throw new Error('boom'); })).to.equal("task 'load': expand value 0: mapLabel threw boom");
    expect(refusal(['a'], () => { throw undefined; })).to.equal("task 'load': expand value 0: mapLabel threw undefined");
    expect(refusal(['a'], () => undefined as unknown as string)).to.equal("task 'load': expand value 0: mapLabel returned undefined, not a non-empty string");
    // The most values one expansion takes is allowed.
    expect(expansionOf({ id: 'load' }, Array.from({ length: MAX_MAP_LENGTH }, (_, i) => i)).values).to.have.length(MAX_MAP_LENGTH);
  });

  it("counts a mapped upstream's instances once it is expanded, its expansion's state before, and waits between the two", () => {
    const row = (map_index: number, state: TiRow['state']): TiRow =>
      ({ id: map_index + 10, run_pk: 1, task_id: 'load', state, try_number: 1, max_tries: 0, next_retry_at: null, first_poke_at: null, map_index, map_label: null, map_value: null });
    const stateOf = (ti: TiRow) => ti.state;
    expect(countedStates(true, [row(-1, 'success'), row(0, 'success'), row(1, 'failed')], stateOf)).to.deep.equal(['success', 'failed']);
    expect(countedStates(true, [row(-1, 'success')], stateOf)).to.deep.equal([null]);
    expect(countedStates(true, [row(-1, 'skipped')], stateOf)).to.deep.equal(['skipped']);
    expect(countedStates(true, [row(-1, 'running')], stateOf)).to.deep.equal(['running']);
    expect(countedStates(false, [row(-1, 'success')], stateOf)).to.deep.equal(['success']);
    expect(countedStates(true, undefined, stateOf)).to.deep.equal([undefined]);
    expect(countedStates(false, [], stateOf)).to.deep.equal([undefined]);
  });

  it("groups a run's instances by task, each task's in map-index order whatever order they were read in", () => {
    const row = (task_id: string, map_index: number): TiRow =>
      ({ id: 100 - map_index, run_pk: 1, task_id, state: null, try_number: 0, max_tries: 0, next_retry_at: null, first_poke_at: null, map_index, map_label: null, map_value: null });
    const grouped = instancesByTask([row('load', 2), row('a', -1), row('load', -1), row('load', 0), row('load', 1)]);
    expect([...grouped].map(([task, rows]) => [task, rows.map((r) => r.map_index)])).to.deep.equal([['load', [-1, 0, 1, 2]], ['a', [-1]]]);
  });

  it("refuses an expansion's stored result that is not its values and labels, quoting it", () => {
    expect(parseExpansion('load', '{"values":["eu"],"labels":["eu"]}')).to.deep.equal({ values: ['eu'], labels: ['eu'] });
    for (const bad of ['null', '"eu"', '{"values":["eu"]}', '{"labels":["eu"]}', '{"values":["eu"],"labels":[]}']) {
      expect(() => parseExpansion('load', bad), bad).to.throw(MapExpansionError, `task 'load': expand result stored by its expansion is not {values, labels}: ${bad}`);
    }
    // A long one is quoted by its first 80 characters: the error is one line of the instance's last error.
    const long = JSON.stringify({ values: Array.from({ length: 50 }, (_, i) => i) });
    expect(() => parseExpansion('load', long)).to.throw(`is not {values, labels}: ${long.slice(0, 80)}`).with.property('message').that.does.not.include(long);
  });

  it('refuses a DAG that maps a sensor or a batched task, gives mapLabel without expand, or an expand that is not a function', () => {
    const dagWith = (task: Record<string, unknown>) => () =>
      defineDag({ id: 'bad', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: () => undefined, ...task } as TaskSpec<'t'> } });
    expect(dagWith({ expand: () => [], batch: true })).to.throw(DagDefinitionError, "DAG 'bad': mapped task 't' cannot be batch: true");
    expect(dagWith({ mapLabel: String })).to.throw(DagDefinitionError, "DAG 'bad': task 't' has mapLabel but no expand");
    expect(dagWith({ expand: ['a'] })).to.throw(DagDefinitionError, "DAG 'bad': expand of task 't' is not a function");
    expect(dagWith({ expand: () => [], sensor: { poke: () => true, pokeIntervalS: 1, timeoutS: 1, softFail: false } })).to.throw(DagDefinitionError, "DAG 'bad': sensor task 't' cannot be mapped (expand)");
  });
});

forEachMetadataEngine('mapped tasks in a run', (engine: MetadataEngine) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  for (const runType of ['backfill', 'scheduled'] as const) {
    it(`gives each value an instance with its own state, retries, log and label, and hands their results downstream (${runType})`, async () => {
      h = await openHarness(engine.env());
      const seen: string[] = [];
      let usTries = 0;
      const dag = regionsDag(
        'mapped',
        () => ['eu', 'us', 'asia'],
        (ctx: TaskContext) => {
          seen.push(`${ctx.mapIndex} ${String(ctx.mapValue)} ${String(ctx.mapLabel)} try ${ctx.tryNumber}`);
          if (ctx.mapValue === 'us' && (usTries += 1) === 1) throw new Error('us is down for a moment');
          return `${String(ctx.mapValue)} loaded`;
        },
        { retries: 1 },
      );
      await h.addRuns(dag, '2024-01-01', '2024-01-01', runType);
      await h.drain([dag]);
      const rows = await instances(h, 'mapped');
      expect(summary(rows)).to.deep.equal([
        'cleanup success',
        'load success',
        'load[0 eu] success',
        'load[1 us] success',
        'load[2 asia] success',
        'regions success',
        'report success',
      ]);
      expect(seen.sort()).to.deep.equal(['0 eu eu try 1', '1 us us try 1', '1 us us try 2', '2 asia asia try 1']);
      const load = rows.filter((r) => r.task_id === 'load');
      expect(load.map((r) => r.try_number)).to.deep.equal([1, 1, 2, 1]);
      // The expansion stores its list; the downstream get the mapped results in map-index order.
      expect(JSON.parse(load[0].result!)).to.deep.equal({ values: ['eu', 'us', 'asia'], labels: ['eu', 'us', 'asia'] });
      expect(JSON.parse(rows.find((r) => r.task_id === 'report')!.result!)).to.deep.equal(['eu loaded', 'us loaded', 'asia loaded']);
      const runId = rows[0].run_id;
      const log = (mapIndex: number | undefined, attempt: number) => attemptLogPath(h!.settings.logDir, { dagId: 'mapped', runId, taskId: 'load', attempt, mapIndex });
      expect([log(undefined, 1), log(0, 1), log(1, 1), log(1, 2), log(2, 1)].map(existsSync)).to.deep.equal([true, true, true, true, true]);
      expect(log(1, 2)).to.include(`${path.sep}task_id=load${path.sep}map_index=1${path.sep}attempt=2.log`);
      expect((await h.runs('mapped')).map((r) => r.state)).to.deep.equal(['success']);
    });
  }

  it('skips a task whose list is empty, and its downstream as their trigger rules say', async () => {
    h = await openHarness(engine.env());
    const dag = regionsDag('empty', () => [], () => 'never');
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const rows = await instances(h, 'empty');
    expect(summary(rows)).to.deep.equal(['cleanup success', 'load skipped', 'regions success', 'report skipped']);
    expect((await h.runs('empty')).map((r) => r.state)).to.deep.equal(['success']);
  });

  it("fails only the instance whose value failed; all_success downstream is upstream_failed, all_done runs, the run fails", async () => {
    h = await openHarness(engine.env());
    const dag = regionsDag('one_bad', () => ['eu', 'us'], (ctx) => {
      if (ctx.mapValue === 'us') throw new NonRetryableError('no such region');
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const rows = await instances(h, 'one_bad');
    expect(summary(rows)).to.deep.equal(['cleanup success', 'load success', 'load[0 eu] success', 'load[1 us] failed', 'regions success', 'report upstream_failed']);
    expect(rows.find((r) => r.map_index === 1)!.last_error).to.equal('NonRetryableError: no such region');
    expect((await h.runs('one_bad')).map((r) => r.state)).to.deep.equal(['failed']);
  });

  it('fails the expansion, without its retries, when expand returns no list', async () => {
    h = await openHarness(engine.env());
    const dag = regionsDag('not_a_list', () => 'eu,us', () => undefined, { retries: 3 });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const rows = await instances(h, 'not_a_list');
    expect(summary(rows)).to.deep.equal(['cleanup success', 'load failed', 'regions success', 'report upstream_failed']);
    expect(rows.find((r) => r.task_id === 'load')).to.include({ try_number: 1, last_error: "MapExpansionError: task 'load': expand returned a string, not an array" });
  });

  it('fails an expansion whose stored list cannot be read, so its run ends instead of waiting for instances that never come', async () => {
    h = await openHarness(engine.env());
    const dag = regionsDag('tampered', () => ['eu'], () => 'loaded');
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    // Run it up to the expansion: regions and load's -1 instance succeed, then its list is damaged.
    await h.drain([dag]);
    await h.db.tx(async (sql) => {
      await sql.run("DELETE FROM task_instances WHERE dag_id = 'tampered' AND (map_index >= 0 OR task_id IN ('report', 'cleanup'))");
      await sql.run(`UPDATE task_instances SET result = '{"values":["eu"]}' WHERE dag_id = 'tampered' AND task_id = 'load'`);
      await sql.run("UPDATE dag_runs SET state = 'running' WHERE dag_id = 'tampered'");
    });
    await h.drain([dag]);
    const load = (await instances(h, 'tampered')).filter((r) => r.task_id === 'load');
    expect(load.map((r) => [r.map_index, r.state])).to.deep.equal([[-1, 'failed']]);
    expect(load[0].last_error).to.equal(`task 'load': expand result stored by its expansion is not {values, labels}: {"values":["eu"]}`);
    expect((await h.runs('tampered')).map((r) => r.state)).to.deep.equal(['failed']);
  });

  it('expands again after a clear of the task, over the list its upstream gives then', async () => {
    h = await openHarness(engine.env());
    let list = ['eu', 'us', 'asia'];
    const dag = regionsDag('cleared', () => list, (ctx) => ctx.mapValue);
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    list = ['eu'];
    // Clearing regions clears load, report and cleanup downstream: load's three mapped instances go.
    await clearTasks(h.db, { id: 'cleared', tasks: dag.tasks.map((t) => ({ id: t.id, upstream: t.upstream, retries: 0 })) }, { taskIds: ['regions'], includeDownstream: true });
    expect(summary(await instances(h, 'cleared'))).to.deep.equal(['cleanup null', 'load null', 'regions null', 'report null']);
    await h.drain([dag]);
    const rows = await instances(h, 'cleared');
    expect(summary(rows)).to.deep.equal(['cleanup success', 'load success', 'load[0 eu] success', 'regions success', 'report success']);
    expect(JSON.parse(rows.find((r) => r.task_id === 'report')!.result!)).to.deep.equal(['eu']);
  });

  it('runs a failed mapped instance again when a backfill meets its failed run, with its value, and keeps the others', async () => {
    h = await openHarness(engine.env());
    let broken = true;
    const runs: string[] = [];
    const dag = regionsDag('retried', () => ['eu', 'us'], (ctx) => {
      runs.push(String(ctx.mapValue));
      if (ctx.mapValue === 'us' && broken) throw new NonRetryableError('us is down');
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    broken = false;
    // What a backfill does to a failed run it meets again: its failed instances wait again (backfill.ts).
    await h.db.tx(async (sql) => {
      const runPks = (await sql.all<{ id: number }>("SELECT id FROM dag_runs WHERE dag_id = 'retried'")).map((r) => Number(r.id));
      await h!.db.statements.requeueRuns(sql, runPks);
      for (const t of dag.tasks) await h!.db.statements.clearTaskInstances(sql, runPks, t.id, 0, true);
    });
    await h.drain([dag]);
    // eu ran once: the clear of failed instances left the successful one alone.
    expect([...runs].sort()).to.deep.equal(['eu', 'us', 'us']);
    expect(summary(await instances(h, 'retried'))).to.deep.equal(['cleanup success', 'load success', 'load[0 eu] success', 'load[1 us] success', 'regions success', 'report success']);
    expect((await h.runs('retried')).map((r) => r.state)).to.deep.equal(['success']);
  });

  it('migrates a version 8 database: its instances are kept as unmapped (-1), and a mapped instance fits beside them', async () => {
    const location = engine.name === 'postgres' ? engine.env().DRIVETRAIN_METADATA_URL : path.join((h = await openHarness()).dir, 'v8.db');
    await atVersion8(engine.name, location, [
      "INSERT INTO dag_runs (id, dag_id, run_id, logical_date, data_interval_start, data_interval_end, run_type, state, created_at) VALUES (1, 'old', 'r1', '2024-01-01', '2024-01-01', '2024-01-02', 'scheduled', 'success', 'x')",
      "INSERT INTO task_instances (run_pk, dag_id, run_id, task_id, state, try_number, max_tries, result) VALUES (1, 'old', 'r1', 'load', 'success', 2, 3, '42')",
    ]);
    const db = await MetadataDb.open(location);
    try {
      expect(await db.schemaVersion()).to.equal(9);
      const kept = await db.read((sql) => sql.all<Record<string, unknown>>('SELECT task_id, state, try_number, max_tries, result, map_index FROM task_instances'));
      expect(kept.map((r) => ({ ...r, try_number: Number(r.try_number), max_tries: Number(r.max_tries), map_index: Number(r.map_index) }))).to.deep.equal([
        { task_id: 'load', state: 'success', try_number: 2, max_tries: 3, result: '42', map_index: -1 },
      ]);
      await db.tx((sql) => db.statements.insertTaskInstances(sql, [
        { runPk: 1, dagId: 'old', runId: 'r1', taskId: 'load', maxTries: 0, mapIndex: 0, mapLabel: 'eu', mapValue: '"eu"' },
        { runPk: 1, dagId: 'old', runId: 'r1', taskId: 'load', maxTries: 0 },
      ]));
      const rows = await db.read((sql) => sql.all<{ id: number; map_index: number }>('SELECT id, map_index FROM task_instances ORDER BY map_index'));
      // The second insert is the existing -1 row again: ignored, as the key says.
      expect(rows.map((r) => Number(r.map_index))).to.deep.equal([-1, 0]);
      expect(Number(rows[1].id)).to.not.equal(Number(rows[0].id));
    } finally {
      await db.close();
    }
  });
});

/** A metadata database at schema version 8 (migrations 1 to 8 as they were), with `rows` inserted. */
async function atVersion8(engine: 'sqlite' | 'postgres', location: string, rows: readonly string[]): Promise<void> {
  const dialect = dialectFor(engine);
  const statements = [
    dialect.ddl('CREATE TABLE schema_version (version INTEGER NOT NULL, description TEXT, applied_at TEXT NOT NULL)'),
    ...MIGRATIONS.filter((m) => m.version <= 8).flatMap((m) => [...m.statements.map((s) => dialect.ddl(s)), `INSERT INTO schema_version VALUES (${m.version}, 'v', 'x')`]),
    ...rows,
  ];
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: location });
    await client.connect();
    try {
      for (const s of statements) await client.query(s);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new sqlite3.Database(location);
  try {
    for (const s of statements) await new Promise<void>((resolve, reject) => db.run(s, (err) => (err ? reject(err) : resolve())));
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}
