import { expect } from 'chai';
import { countUpstream, evaluateTriggerRule, isDue, isTerminal, runOutcome, type StoredState, type TriggerDecision } from '../../scheduler/triggerRules.js';

describe('trigger rules', () => {
  describe('all_success', () => {
    const cases: [string, (StoredState | undefined)[], TriggerDecision][] = [
      ['no upstream', [], 'queued'],
      ['every upstream succeeded', ['success', 'success'], 'queued'],
      ['upstream skipped counts as done without failure', ['success', 'skipped'], 'queued'],
      ['an upstream instance missing (task added later) does not block', [undefined, 'success'], 'queued'],
      ['an upstream still waiting', ['success', null], 'wait'],
      ['an upstream queued', ['queued'], 'wait'],
      ['an upstream running', ['running', 'success'], 'wait'],
      ['an upstream up for retry', ['up_for_retry'], 'wait'],
      ['an upstream failed', ['failed', 'success'], 'upstream_failed'],
      ['an upstream failed while another still runs', ['failed', 'running'], 'upstream_failed'],
      ['an upstream is upstream_failed', ['upstream_failed', null], 'upstream_failed'],
      ['one upstream failed and one upstream_failed', ['failed', 'upstream_failed'], 'upstream_failed'],
      ['every upstream skipped', ['skipped', 'skipped'], 'queued'],
      ['every upstream instance missing', [undefined, undefined], 'queued'],
    ];
    for (const [title, upstream, expected] of cases) {
      it(`decides ${expected} when ${title}`, () => {
        expect(evaluateTriggerRule('all_success', upstream)).to.equal(expected);
      });
    }
  });

  it('counts upstream states, a missing instance as success', () => {
    expect(countUpstream(['success', undefined, 'skipped', 'failed', 'upstream_failed', 'running', null])).to.deep.equal({
      total: 7,
      success: 2,
      skipped: 1,
      failed: 1,
      upstreamFailed: 1,
      done: 5,
    });
  });

  it('treats queued, and up_for_retry once its delay is over, as due', () => {
    const cases: [StoredState, number | null, boolean][] = [
      ['queued', null, true],
      ['up_for_retry', 1000, true],
      ['up_for_retry', 1001, false],
      ['up_for_retry', null, true],
      [null, null, false],
      ['running', null, false],
      ['failed', null, false],
    ];
    for (const [state, nextRetryAt, due] of cases) expect(isDue(state, nextRetryAt, 1000), `${state} ${nextRetryAt}`).to.equal(due);
  });

  it('keeps a run running until every instance is terminal, then fails it if any failed', () => {
    const cases: [StoredState[], string][] = [
      [[], 'success'],
      [['success', 'skipped'], 'success'],
      [['success', 'running'], 'running'],
      [['failed', null], 'running'],
      [['success', 'up_for_retry'], 'running'],
      [['success', 'failed'], 'failed'],
      [['upstream_failed', 'success'], 'failed'],
    ];
    for (const [states, outcome] of cases) expect(runOutcome(states), states.join(',')).to.equal(outcome);
  });

  it('calls success, failed, upstream_failed and skipped terminal, nothing else', () => {
    const states: StoredState[] = ['success', 'failed', 'upstream_failed', 'skipped', 'queued', 'running', 'up_for_retry', null];
    expect(states.filter(isTerminal)).to.deep.equal(['success', 'failed', 'upstream_failed', 'skipped']);
  });
});
