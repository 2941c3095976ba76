import { expect } from 'chai';
import { defineDag } from '../../scheduler/dag.js';
import { TaskSkippedError } from '../../scheduler/errors/TaskSkippedError.js';
import type { TaskContext } from '../../scheduler/interfaces.js';
import { openHarness, type Harness } from './harness.js';

/** Task id -> state of one run's instances. */
async function statesOf(h: Harness, dagId: string): Promise<Record<string, string | null>> {
  return Object.fromEntries((await h.tis(dagId)).map((t) => [t.task_id, t.state]));
}

describe('trigger rules in a run', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  for (const runType of ['backfill', 'scheduled'] as const) {
    describe(`of a ${runType} run`, () => {
      it('runs an all_done cleanup after a failure, and the run still ends failed', async () => {
        h = await openHarness();
        const ran: string[] = [];
        const dag = defineDag({
          id: 'cleanup',
          schedule: '@daily',
          startDate: '2024-01-01',
          retries: 0,
          tasks: {
            extract: { run: () => { ran.push('extract'); throw new Error('source down'); } },
            load: { run: () => void ran.push('load'), upstream: ['extract'] },
            cleanup: { run: () => void ran.push('cleanup'), upstream: ['load'], triggerRule: 'all_done' },
          },
        });
        await h.addRuns(dag, '2024-01-01', '2024-01-01', runType);
        await h.drain([dag]);
        expect(ran).to.deep.equal(['extract', 'cleanup']);
        expect(await statesOf(h, 'cleanup')).to.deep.equal({ extract: 'failed', load: 'upstream_failed', cleanup: 'success' });
        expect((await h.runs('cleanup')).map((r) => r.state)).to.deep.equal(['failed']);
      });

      it('skips a task that throws TaskSkippedError, without retries, and the skip flows downstream as the rules say', async () => {
        h = await openHarness();
        let tries = 0;
        const ran: string[] = [];
        const rec = (ctx: TaskContext) => void ran.push(ctx.taskId);
        const dag = defineDag({
          id: 'skips',
          schedule: '@daily',
          startDate: '2024-01-01',
          retries: 3,
          tasks: {
            check: { run: () => { tries += 1; throw new TaskSkippedError('no new data for this day'); } },
            other: { run: rec },
            load: { run: rec, upstream: ['check', 'other'] },
            tolerant: { run: rec, upstream: ['check', 'other'], triggerRule: 'none_failed' },
            strict: { run: rec, upstream: ['check'], triggerRule: 'none_skipped' },
            after_load: { run: rec, upstream: ['load'] },
          },
        });
        await h.addRuns(dag, '2024-01-01', '2024-01-01', runType);
        await h.drain([dag]);
        expect(tries).to.equal(1);
        expect(ran.sort()).to.deep.equal(['other', 'tolerant']);
        expect(await statesOf(h, 'skips')).to.deep.equal({
          check: 'skipped',
          other: 'success',
          load: 'skipped',
          tolerant: 'success',
          strict: 'skipped',
          after_load: 'skipped',
        });
        // Leaves success or skipped: the run succeeded.
        expect((await h.runs('skips')).map((r) => r.state)).to.deep.equal(['success']);
      });

      it('fires one_failed on a failure and skips it when nothing failed', async () => {
        h = await openHarness();
        const notified: string[] = [];
        const dag = defineDag({
          id: 'notify',
          schedule: '@daily',
          startDate: '2024-01-01',
          retries: 0,
          tasks: {
            work: { run: (ctx) => { if (ctx.ds === '2024-01-01') throw new Error('bad day'); } },
            notify: { run: (ctx) => void notified.push(ctx.ds), upstream: ['work'], triggerRule: 'one_failed' },
          },
        });
        await h.addRuns(dag, '2024-01-01', '2024-01-02', runType);
        await h.drain([dag]);
        expect(notified).to.deep.equal(['2024-01-01']);
        const tis = await h.tis('notify');
        expect(tis.map((t) => `${t.run_id.slice(-25, -15)} ${t.task_id} ${t.state}`)).to.deep.equal([
          '2024-01-01 work failed',
          '2024-01-01 notify success',
          '2024-01-02 work success',
          '2024-01-02 notify skipped',
        ]);
        expect((await h.runs('notify')).map((r) => r.state)).to.deep.equal(['failed', 'success']);
      });
    });
  }

  it('refuses an unknown trigger rule when the DAG is defined, naming it', () => {
    expect(() =>
      defineDag({ id: 'bad', schedule: null, startDate: '2024-01-01', tasks: { a: { run: () => undefined, triggerRule: 'all_good' as never } } }),
    ).to.throw(/task 'a' has unknown triggerRule 'all_good'/);
  });
});
