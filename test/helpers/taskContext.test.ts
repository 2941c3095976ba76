import { expect } from 'chai';
import { KitUsageError } from './KitUsageError.js';
import { RecordingLogger } from './recordingLogger.js';
import { testTaskContext } from './taskContext.js';
import { testSettings, useTmpDir } from './tmp.js';

const day = (d: string) => new Date(`${d}T00:00:00Z`);

describe('the test task context', () => {
  const tmp = useTmpDir('drivetrain-kit-ctx-');

  it('covers the daily interval of 2024-01-15 by default, under a manual run id, with a recording logger', () => {
    const ctx = testTaskContext(testSettings(tmp.dir));
    expect(ctx.ds).to.equal('2024-01-15');
    expect(ctx.logicalDate).to.deep.equal(day('2024-01-15'));
    expect(ctx.dataIntervalEnd).to.deep.equal(day('2024-01-16'));
    expect(ctx.month).to.equal('2024-01-01');
    expect(ctx.runId).to.equal('manual__2024-01-15T00:00:00+00:00');
    expect([ctx.dagId, ctx.taskId, ctx.tryNumber]).to.deep.equal(['test_dag', 'task', 1]);
    expect(ctx.signal.aborted).to.equal(false);
    expect(ctx.log).to.be.an.instanceOf(RecordingLogger);
    ctx.log.info('hello');
    expect(ctx.log.messages()).to.deep.equal(['hello']);
  });

  it('is frozen as the scheduler builds it, so a task cannot change what later tasks see', () => {
    const ctx = testTaskContext(testSettings(tmp.dir));
    expect(Object.isFrozen(ctx)).to.equal(true);
    expect(Object.isFrozen(ctx.intervals)).to.equal(true);
  });

  it('takes the interval of another schedule at ds, or batched intervals whose end is the last one', () => {
    const settings = testSettings(tmp.dir);
    const month = testTaskContext(settings, { ds: '2024-02-01', schedule: '@monthly', dagId: 'marts_monthly', runType: 'scheduled' });
    expect(month.dataIntervalEnd).to.deep.equal(day('2024-03-01'));
    expect(month.runId).to.equal('scheduled__2024-02-01T00:00:00+00:00');

    const intervals = [
      { start: day('2024-01-01'), end: day('2024-01-02') },
      { start: day('2024-01-02'), end: day('2024-01-03') },
    ];
    const batch = testTaskContext(settings, { intervals, runType: 'backfill' });
    expect(batch.ds).to.equal('2024-01-01');
    expect(batch.dataIntervalEnd).to.deep.equal(day('2024-01-03'));
    expect(batch.intervals).to.deep.equal(intervals);
  });

  it('passes on the logger, signal and params given', () => {
    const log = new RecordingLogger();
    const abort = new AbortController();
    const ctx = testTaskContext(testSettings(tmp.dir), { log, signal: abort.signal, params: { full: true }, tryNumber: 3 });
    abort.abort();
    expect(ctx.log).to.equal(log);
    expect(ctx.signal.aborted).to.equal(true);
    expect(ctx.params).to.deep.equal({ full: true });
    expect(ctx.tryNumber).to.equal(3);
  });

  it('refuses an impossible ds, naming it, instead of rolling it over to another day', () => {
    const settings = testSettings(tmp.dir);
    expect(() => testTaskContext(settings, { ds: '2024-02-30' })).to.throw(KitUsageError, "testTaskContext: ds '2024-02-30' is not a date YYYY-MM-DD");
    expect(() => testTaskContext(settings, { ds: '2024-01-15x' })).to.throw(KitUsageError, "'2024-01-15x'");
  });

  it('refuses ds together with intervals, and no interval at all', () => {
    const settings = testSettings(tmp.dir);
    const intervals = [{ start: day('2024-01-01'), end: day('2024-01-02') }];
    expect(() => testTaskContext(settings, { ds: '2024-01-01', intervals })).to.throw(KitUsageError, 'not both');
    expect(() => testTaskContext(settings, { intervals: [] })).to.throw(KitUsageError, 'intervals is empty');
  });
});
