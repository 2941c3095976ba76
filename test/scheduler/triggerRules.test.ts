import { expect } from 'chai';
import { countUpstream, evaluateTriggerRule, isDue, isTerminal, runOutcome, TRIGGER_RULES, type StoredState, type TriggerDecision, type TriggerRule } from '../../scheduler/triggerRules.js';

describe('trigger rules', () => {
  // One table per rule, Airflow's semantics (TriggerRuleDep): S success, K skipped, F failed,
  // U upstream_failed, R running, W waiting (null), M missing (a task added after the run started).
  const S = 'success';
  const K = 'skipped';
  const F = 'failed';
  const U = 'upstream_failed';
  const R = 'running';
  const W = null;
  const M = undefined;
  const tables: Record<TriggerRule, [string, (StoredState | undefined)[], TriggerDecision][]> = {
    all_success: [
      ['there is no upstream', [], 'queued'],
      ['every upstream succeeded', [S, S], 'queued'],
      ['an upstream instance is missing (task added later)', [M, S], 'queued'],
      ['every upstream instance is missing', [M, M], 'queued'],
      ['an upstream is still waiting', [S, W], 'wait'],
      ['an upstream is queued', ['queued'], 'wait'],
      ['an upstream is running', [R, S], 'wait'],
      ['an upstream is up for retry', ['up_for_retry'], 'wait'],
      ['an upstream failed', [F, S], 'upstream_failed'],
      ['an upstream failed while another still runs', [F, R], 'upstream_failed'],
      ['an upstream is upstream_failed', [U, W], 'upstream_failed'],
      ['one upstream failed and one upstream_failed', [F, U], 'upstream_failed'],
      ['an upstream skipped (skip propagates)', [S, K], 'skipped'],
      ['an upstream skipped while another still runs', [K, R], 'skipped'],
      ['every upstream skipped', [K, K], 'skipped'],
      ['one upstream skipped and one failed (the failure wins)', [K, F], 'upstream_failed'],
    ],
    all_done: [
      ['every upstream succeeded', [S, S], 'queued'],
      ['an upstream failed and the rest are done', [F, S, K, U], 'queued'],
      ['every upstream skipped', [K, K], 'queued'],
      ['an upstream failed while another still runs', [F, R], 'wait'],
      ['an upstream is up for retry', [S, 'up_for_retry'], 'wait'],
    ],
    all_failed: [
      ['every upstream failed', [F, F], 'queued'],
      ['upstream failed or upstream_failed', [F, U], 'queued'],
      ['one failed, one still running', [F, R], 'wait'],
      ['an upstream succeeded', [F, S], 'skipped'],
      ['an upstream skipped', [K, F], 'skipped'],
      ['an upstream succeeded while another still runs', [S, R], 'skipped'],
    ],
    one_failed: [
      ['an upstream failed while another still runs (fires early)', [F, R], 'queued'],
      ['an upstream is upstream_failed', [U, W], 'queued'],
      ['none failed yet', [S, R], 'wait'],
      ['all done without a failure', [S, K], 'skipped'],
    ],
    one_success: [
      ['an upstream succeeded while another still runs (fires early)', [S, R], 'queued'],
      ['an upstream succeeded and another failed', [S, F], 'queued'],
      ['no success yet, another still runs', [F, R], 'wait'],
      ['every upstream skipped', [K, K], 'skipped'],
      ['all done without a success', [F, K], 'upstream_failed'],
    ],
    none_failed: [
      ['every upstream succeeded', [S, S], 'queued'],
      ['an upstream skipped (as good as success)', [S, K], 'queued'],
      ['every upstream skipped', [K, K], 'queued'],
      ['an upstream failed', [F, R], 'upstream_failed'],
      ['an upstream is upstream_failed', [U, S], 'upstream_failed'],
      ['an upstream still runs', [S, R], 'wait'],
    ],
    none_skipped: [
      ['every upstream succeeded', [S, S], 'queued'],
      ['an upstream failed and the rest are done', [F, S], 'queued'],
      ['an upstream skipped', [K, R], 'skipped'],
      ['an upstream still runs', [S, R], 'wait'],
    ],
    always: [
      ['the upstream still run', [R, W], 'queued'],
      ['an upstream failed', [F], 'queued'],
      ['an upstream skipped', [K], 'queued'],
    ],
  };
  for (const rule of TRIGGER_RULES) {
    describe(rule, () => {
      for (const [title, upstream, expected] of tables[rule]) {
        it(`decides ${expected} when ${title}`, () => {
          expect(evaluateTriggerRule(rule, upstream)).to.equal(expected);
        });
      }
      it('runs a task without upstream at once', () => {
        expect(evaluateTriggerRule(rule, [])).to.equal('queued');
      });
    });
  }

  it('lists every rule it decides: the list that DAG files are checked against', () => {
    expect([...TRIGGER_RULES].sort()).to.deep.equal(Object.keys(tables).sort());
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

  it('treats queued, and up_for_retry or a sensor\'s up_for_reschedule once its delay is over, as due', () => {
    const cases: [StoredState, number | null, boolean][] = [
      ['queued', null, true],
      ['up_for_retry', 1000, true],
      ['up_for_retry', 1001, false],
      ['up_for_retry', null, true],
      ['up_for_reschedule', 1000, true],
      ['up_for_reschedule', 1001, false],
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
      // A cleanup task (all_done) that succeeded after a failure does not hide the failure.
      [['failed', 'upstream_failed', 'success'], 'failed'],
      [['skipped', 'skipped'], 'success'],
    ];
    for (const [states, outcome] of cases) expect(runOutcome(states), states.join(',')).to.equal(outcome);
  });

  it('calls success, failed, upstream_failed and skipped terminal, nothing else', () => {
    const states: StoredState[] = ['success', 'failed', 'upstream_failed', 'skipped', 'queued', 'running', 'up_for_retry', null];
    expect(states.filter(isTerminal)).to.deep.equal(['success', 'failed', 'upstream_failed', 'skipped']);
  });
});
