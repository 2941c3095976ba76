import { expect } from 'chai';
import { clearTasks } from '../../scheduler/clearTasks.js';
import { clearableDag } from '../../scheduler/cli/tasksCommands.js';
import { defineDag } from '../../scheduler/dag.js';
import { TaskResultError } from '../../scheduler/errors/TaskResultError.js';
import { encodeResult, RESULT_LIMIT_BYTES } from '../../scheduler/taskResults.js';
import { openHarness, type Harness } from './harness.js';

describe('task results', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const resultsOf = (dagId: string) =>
    h.db.read((sql) => sql.all<{ task_id: string; state: string; try_number: number; result: string | null; last_error: string | null }>(
      'SELECT task_id, state, try_number, result, last_error FROM task_instances WHERE dag_id = ? ORDER BY id', [dagId]));

  for (const runType of ['backfill', 'scheduled'] as const) {
    it(`stores a task's return value and hands it to its downstream tasks in their own run (${runType} runs)`, async () => {
      h = await openHarness();
      const seen: unknown[] = [];
      const dag = defineDag({
        id: 'xcom',
        schedule: '@daily',
        startDate: '2024-01-01',
        tasks: {
          extract: { run: (ctx) => ({ rows: Number(ctx.ds.slice(-2)) * 10, ds: ctx.ds }) },
          quiet: { run: () => undefined },
          load: { run: (ctx) => void seen.push([ctx.ds, ctx.upstream('extract'), ctx.upstream('quiet')]), upstream: ['extract', 'quiet'] },
        },
      });
      await h.addRuns(dag, '2024-01-01', '2024-01-02', runType);
      await h.drain([dag]);
      expect(seen).to.deep.equal([
        ['2024-01-01', { rows: 10, ds: '2024-01-01' }, undefined],
        ['2024-01-02', { rows: 20, ds: '2024-01-02' }, undefined],
      ]);
      const rows = await resultsOf('xcom');
      expect(rows.map((r) => [r.task_id, r.result])).to.deep.equal([
        ['extract', '{"rows":10,"ds":"2024-01-01"}'],
        ['quiet', null],
        ['load', null],
        ['extract', '{"rows":20,"ds":"2024-01-02"}'],
        ['quiet', null],
        ['load', null],
      ]);
    });
  }

  it('fails a task that asks for the result of a task that is not its upstream, naming both', async () => {
    h = await openHarness();
    const dag = defineDag({
      id: 'notup',
      schedule: '@daily',
      startDate: '2024-01-01',
      retries: 2,
      tasks: { a: { run: () => 1 }, b: { run: () => 2 }, c: { run: (ctx) => ctx.upstream('b'), upstream: ['a'] } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const c = (await resultsOf('notup')).find((r) => r.task_id === 'c')!;
    expect(c.state).to.equal('failed');
    // A bug in the DAG file: not retried.
    expect(c.try_number).to.equal(1);
    expect(c.last_error).to.equal("NotAnUpstreamError: task 'c' asked for the result of 'b', which is not one of its upstream tasks (a)");
  });

  it('fails a task whose return value is too large or not JSON, without retries, naming the task', async () => {
    h = await openHarness();
    const dag = defineDag({
      id: 'big',
      schedule: '@daily',
      startDate: '2024-01-01',
      retries: 2,
      tasks: {
        huge: { run: () => 'x'.repeat(RESULT_LIMIT_BYTES) },
        bigint: { run: () => ({ n: 1n }) },
        after: { run: () => 'never', upstream: ['huge'] },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const rows = await resultsOf('big');
    expect(rows.map((r) => [r.task_id, r.state, r.try_number, r.result])).to.deep.equal([
      ['huge', 'failed', 1, null],
      ['bigint', 'failed', 1, null],
      ['after', 'upstream_failed', 0, null],
    ]);
    expect(rows[0].last_error).to.equal(
      `TaskResultError: task 'huge': its return value cannot be stored as its result: ${RESULT_LIMIT_BYTES + 2} bytes of JSON, more than the ${RESULT_LIMIT_BYTES} allowed; put data in the lake or warehouse and return where it is`,
    );
    expect(rows[1].last_error).to.match(/^TaskResultError: task 'bigint': its return value cannot be stored as its result: not serializable as JSON \(.*BigInt/);
  });

  it('clears the results of the instances a clear resets, and the re-run stores new ones', async () => {
    h = await openHarness();
    let n = 0;
    const dag = defineDag({ id: 'again', schedule: '@daily', startDate: '2024-01-01', tasks: { count: { run: () => (n += 1) } } });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    expect((await resultsOf('again')).map((r) => r.result)).to.deep.equal(['1']);
    await clearTasks(h.db, clearableDag(dag, h.settings), { includeDownstream: true });
    expect((await resultsOf('again')).map((r) => r.result)).to.deep.equal([null]);
    await h.drain([dag]);
    expect((await resultsOf('again')).map((r) => r.result)).to.deep.equal(['2']);
  });

  it('encodes undefined as no result and keeps a value of exactly the cap', () => {
    expect(encodeResult('t', undefined)).to.equal(null);
    expect(encodeResult('t', null)).to.equal('null');
    const atCap = 'x'.repeat(RESULT_LIMIT_BYTES - 2);
    expect(encodeResult('t', atCap)).to.have.length(RESULT_LIMIT_BYTES);
    expect(() => encodeResult('t', `${atCap}é`)).to.throw(TaskResultError, /65538 bytes of JSON/);
    expect(() => encodeResult('t', () => 1)).to.throw(TaskResultError, /task 't'.*not serializable as JSON \(a function\)/);
  });
});
