import { expect } from 'chai';
import { defineDag } from '../../scheduler/dag.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { isRetryable, retryDelayMs, retryPolicyFor } from '../../scheduler/retryPolicy.js';
import { testSettings } from '../helpers/tmp.js';

describe('retry policy', () => {
  const settings = testSettings('/tmp/unused', { DRIVETRAIN_TASK_RETRIES: '4', DRIVETRAIN_TASK_RETRY_DELAY_S: '7' });
  const dag = defineDag({
    id: 'p',
    schedule: '@daily',
    startDate: '2024-01-01',
    retries: 2,
    tasks: { own: { run: () => undefined, retries: 5, retryDelayS: 1 }, inherits: { run: () => undefined } },
  });
  const task = (id: string) => dag.tasks.find((t) => t.id === id)!;

  it('takes the task value, else the DAG value, else the setting', () => {
    expect(retryPolicyFor(task('own'), dag, settings)).to.deep.equal({ retries: 5, retryDelayS: 1 });
    expect(retryPolicyFor(task('inherits'), dag, settings)).to.deep.equal({ retries: 2, retryDelayS: 7 });
  });

  it('doubles the delay each try, within 20% jitter either way', () => {
    const policy = { retries: 5, retryDelayS: 10 };
    expect([1, 2, 3].map((n) => retryDelayMs(policy, n, () => 0.5))).to.deep.equal([10_000, 20_000, 40_000]);
    expect(retryDelayMs(policy, 1, () => 0)).to.equal(8_000);
    expect(retryDelayMs(policy, 1, () => 0.999999)).to.be.closeTo(12_000, 1);
  });

  it('treats NonRetryableError, also as a cause, as not retryable', () => {
    expect(isRetryable(new Error('timeout'))).to.equal(true);
    expect(isRetryable(new NonRetryableError('bad row'))).to.equal(false);
    expect(isRetryable(new Error('load failed', { cause: new NonRetryableError('bad row') }))).to.equal(false);
  });

  it('waits the first delay after try 0 too, and never more than a day however many tries failed', () => {
    const policy = { retries: 30, retryDelayS: 10 };
    expect(retryDelayMs(policy, 0, () => 0.5)).to.equal(10_000);
    expect(retryDelayMs(policy, 14, () => 0.5)).to.equal(81_920_000);
    expect(retryDelayMs(policy, 15, () => 0)).to.equal(24 * 3600 * 1000);
    expect(retryDelayMs(policy, 13, () => 0)).to.equal(Math.round(10_000 * 2 ** 12 * 0.8));
    expect(retryDelayMs({ retries: 1, retryDelayS: 0.0013 }, 1, () => 0.5)).to.equal(1);
  });

  it('recognises a NonRetryableError of another copy of the module by its name', () => {
    const foreign = Object.assign(new Error('bad row'), { name: 'NonRetryableError' });
    expect(isRetryable(foreign)).to.equal(false);
    expect(isRetryable(new Error('wrapped', { cause: foreign }))).to.equal(false);
    expect(isRetryable(undefined)).to.equal(true);
    expect(isRetryable('a string thrown')).to.equal(true);
  });

  it('looks ten causes deep, no further, so a cause cycle ends', () => {
    const chain = (depth: number): Error => {
      let e: Error = new NonRetryableError('deep');
      for (let i = 0; i < depth; i++) e = new Error(`level ${i}`, { cause: e });
      return e;
    };
    expect(isRetryable(chain(9))).to.equal(false);
    expect(isRetryable(chain(10))).to.equal(true);
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(isRetryable(a)).to.equal(true);
  });
});
