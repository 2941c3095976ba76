import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defineDag } from '../../scheduler/dag.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { TaskDeferredError } from '../../scheduler/errors/TaskDeferredError.js';
import { RescheduleLimitError } from '../../scheduler/errors/RescheduleLimitError.js';
import { deferredCause, rescheduleDecision } from '../../scheduler/retryPolicy.js';
import { openHarness, type Harness } from './harness.js';

const RUN_ID = 'backfill__2024-01-01T00:00:00+00:00';

/** The text of an attempt log of the harness's run of 2024-01-01. */
function attemptLog(h: Harness, dagId: string, taskId: string, attempt: number): string {
  return readFileSync(path.join(h.settings.logDir, `dag_id=${dagId}`, `run_id=${RUN_ID}`, `task_id=${taskId}`, `attempt=${attempt}.log`), 'utf8');
}

describe('rescheduling a deferred task (TaskDeferredError)', function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('re-runs a deferred attempt not before the time it names, without counting its try', async () => {
    h = await openHarness();
    const calls: { at: number; tryNumber: number; notBefore?: number }[] = [];
    const since = new Date();
    const dag = defineDag({
      id: 'deferring',
      schedule: '@daily',
      startDate: '2024-01-01',
      // No retries at all: only a deferral that does not count its try lets the third call happen.
      tasks: {
        wait: {
          retries: 0,
          run: (ctx) => {
            const call: { at: number; tryNumber: number; notBefore?: number } = { at: Date.now(), tryNumber: ctx.tryNumber };
            calls.push(call);
            if (calls.length === 3) return;
            call.notBefore = call.at + 400;
            throw new TaskDeferredError('the thing is busy', { notBefore: new Date(call.notBefore), since, reason: 'thing unavailable: busy' });
          },
        },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const [ti] = await h.tis('deferring');
    expect(ti).to.include({ state: 'success', try_number: 1 });
    expect(calls.map((c) => c.tryNumber)).to.deep.equal([1, 1, 1]);
    expect(calls[1].at).to.be.at.least(calls[0].notBefore!);
    expect(calls[2].at).to.be.at.least(calls[1].notBefore!);
    // The deferrals and the attempt that succeeded share the try's log, as Airflow's reschedules do.
    const log = attemptLog(h, 'deferring', 'wait', 1);
    expect(log.match(/rescheduled, this try does not count: thing unavailable: busy; next attempt not before \d{4}-\d\d-\d\dT/g)).to.have.length(2);
    expect(log).to.contain('attempt succeeded');
  });

  it('fails the task, without its retries, once the deferral has lasted DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S', async () => {
    h = await openHarness({ DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S: '1' });
    const since = new Date();
    let calls = 0;
    const dag = defineDag({
      id: 'gone',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        wait: {
          retries: 3,
          retryDelayS: 0,
          run: () => {
            calls += 1;
            throw new TaskDeferredError('still down', { notBefore: new Date(Date.now() + 300), since, reason: 'service http://svc:81 unreachable: down' });
          },
        },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const elapsedS = (Date.now() - since.getTime()) / 1000;
    const [ti] = await h.tis('gone');
    expect(ti).to.include({ state: 'failed', try_number: 1 });
    expect(ti.last_error).to.match(/^RescheduleLimitError: service http:\/\/svc:81 unreachable: down, gave up after 1 s$/);
    // A call every 300 ms or so for about a second: bounded by the limit, not by the retries.
    expect(calls).to.be.within(2, 6);
    expect(elapsedS).to.be.below(4);
    expect(attemptLog(h, 'gone', 'wait', 1)).to.match(/ERROR RescheduleLimitError: service http:\/\/svc:81 unreachable: down, gave up after 1 s/);
    expect((await h.runs('gone'))[0].state).to.equal('failed');
  });

  describe('the decision', () => {
    const deferral = (notBeforeMs: number, sinceMs: number) =>
      new TaskDeferredError('busy', { notBefore: new Date(notBeforeMs), since: new Date(sinceMs), reason: 'source http://svc:81 unreachable: down' });

    it('reschedules for the time the deferral names, but never sooner than a quarter second from now', () => {
      expect(rescheduleDecision(deferral(5_000, 0), 1_000, 60)).to.deep.include({ kind: 'reschedule', notBeforeMs: 5_000 });
      // A time already past (a half-open breaker with its trial out) must not make a tight loop.
      expect(rescheduleDecision(deferral(0, 0), 1_000, 60)).to.deep.include({ kind: 'reschedule', notBeforeMs: 1_250 });
      expect(rescheduleDecision(deferral(1_100, 0), 1_000, 60)).to.deep.include({ notBeforeMs: 1_250 });
    });

    it('gives up once the condition has lasted the limit, to the millisecond, with the reason, the time and the error as cause', () => {
      const deferred = deferral(70_000, 10_000);
      const wrapped = new Error('extract failed', { cause: deferred });
      expect(rescheduleDecision(wrapped, 69_999, 60)).to.deep.include({ kind: 'reschedule', deferred });
      const decision = rescheduleDecision(wrapped, 70_000, 60);
      expect(decision?.kind).to.equal('give_up');
      const error = (decision as { error: RescheduleLimitError }).error;
      expect(error).to.be.instanceOf(RescheduleLimitError);
      expect(error).to.include({ message: 'source http://svc:81 unreachable: down, gave up after 60 s', reason: 'source http://svc:81 unreachable: down', elapsedS: 60, limitS: 60 });
      expect(error.since.getTime()).to.equal(10_000);
      expect(error.cause).to.equal(wrapped);
      expect(rescheduleDecision(wrapped, 100_500, 60)).to.deep.include({ kind: 'give_up' });
    });

    it('finds the deferral ten causes deep, no further, so a cause cycle ends', () => {
      const chain = (depth: number): Error => {
        let e: Error = deferral(5_000, 0);
        for (let i = 0; i < depth; i++) e = new Error(`level ${i}`, { cause: e });
        return e;
      };
      expect(deferredCause(chain(9))?.reason).to.equal('source http://svc:81 unreachable: down');
      expect(deferredCause(chain(10))).to.equal(undefined);
      const a = new Error('a');
      (a as { cause?: unknown }).cause = new Error('b', { cause: a });
      expect(deferredCause(a)).to.equal(undefined);
      expect(deferredCause(undefined)).to.equal(undefined);
    });
  });

  it('lets a NonRetryableError around a deferral fail the task as it says', () => {
    const deferred = new TaskDeferredError('busy', { notBefore: new Date(5_000), since: new Date(0), reason: 'busy' });
    expect(rescheduleDecision(new NonRetryableError('bad row', { cause: deferred }), 1_000, 60)).to.equal(undefined);
    expect(rescheduleDecision(new Error('wrapped', { cause: deferred }), 1_000, 60)).to.deep.include({ kind: 'reschedule', notBeforeMs: 5_000 });
    expect(rescheduleDecision(new Error('not a deferral'), 1_000, 60)).to.equal(undefined);
  });
});
