import { expect } from 'chai';
import { planBackfill } from '../../scheduler/backfillPlan.js';
import { defineDag } from '../../scheduler/dag.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import type { Dag, DagSpec } from '../../scheduler/interfaces.js';

const noop = { run: () => undefined };
const dagOf = (id: string, spec: Partial<DagSpec<'t'>> = {}): Dag => defineDag({ id, schedule: '@daily', startDate: '2024-01-01', catchup: true, ...spec, tasks: { t: noop } });
const at = (ds: string) => new Date(`${ds}T00:00:00Z`);
const bag = (...dags: Dag[]) => new Map(dags.map((d) => [d.id, d]));
/** The plan as `dag from..to` lines, dates as YYYY-MM-DD. */
const lines = (plans: ReturnType<typeof planBackfill>) => plans.map((p) => `${p.dag.id} ${p.from.toISOString().slice(0, 10)}..${p.to.toISOString().slice(0, 10)}`);
/** Now: the 2024-01-09 interval is still running, so 2024-01-08 is the last completed one. */
const NOW = new Date('2024-01-09T03:00:00Z');

describe('backfill plan', () => {
  it('covers every DAG with catchup on and a recurring schedule when no DAG is named', () => {
    const dags = bag(
      dagOf('daily'),
      dagOf('nocatchup', { catchup: false }),
      dagOf('once', { schedule: '@once' }),
      dagOf('manual', { schedule: null }),
      dagOf('monthly', { schedule: '@monthly', startDate: '2023-11-01' }),
    );
    expect(lines(planBackfill(dags, undefined, at('2023-12-01'), undefined, NOW))).to.deep.equal(['daily 2023-12-01..2024-01-08', 'monthly 2023-12-01..2023-12-01']);
    expect(lines(planBackfill(dags, [], at('2023-12-01'), undefined, NOW)), 'an empty --dag list is no list').to.have.length(2);
  });

  it('covers exactly the named DAGs, catchup or not', () => {
    const dags = bag(dagOf('daily'), dagOf('nocatchup', { catchup: false }));
    expect(lines(planBackfill(dags, ['nocatchup'], at('2024-01-05'), undefined, NOW))).to.deep.equal(['nocatchup 2024-01-05..2024-01-08']);
  });

  it('ends at --to when it is before the last completed interval, and at that interval when --to is past it', () => {
    const dags = bag(dagOf('daily'));
    expect(lines(planBackfill(dags, undefined, at('2024-01-02'), at('2024-01-04'), NOW))).to.deep.equal(['daily 2024-01-02..2024-01-04']);
    expect(lines(planBackfill(dags, undefined, at('2024-01-02'), at('2024-01-08'), NOW))).to.deep.equal(['daily 2024-01-02..2024-01-08']);
    expect(lines(planBackfill(dags, undefined, at('2024-01-02'), at('2024-03-01'), NOW))).to.deep.equal(['daily 2024-01-02..2024-01-08']);
  });

  it('takes a one-day range, and leaves out a DAG with no completed interval in the range', () => {
    const dags = bag(dagOf('daily'), dagOf('young', { startDate: '2024-01-09' }), dagOf('ended', { endDate: '2024-01-03' }));
    expect(lines(planBackfill(dags, undefined, at('2024-01-08'), at('2024-01-08'), NOW))).to.deep.equal(['daily 2024-01-08..2024-01-08']);
    expect(lines(planBackfill(dags, undefined, at('2024-01-03'), undefined, NOW))).to.deep.equal(['daily 2024-01-03..2024-01-08', 'ended 2024-01-03..2024-01-03']);
    expect(planBackfill(dags, undefined, at('2024-01-09'), undefined, NOW)).to.deep.equal([]);
  });

  it('refuses --to before --from, naming both dates, but takes them equal', () => {
    const dags = bag(dagOf('daily'));
    expect(() => planBackfill(dags, undefined, at('2024-01-05'), at('2024-01-04'), NOW))
      .to.throw(UsageError, "--to '2024-01-04' is before --from '2024-01-05'");
    expect(() => planBackfill(dags, undefined, at('2024-01-05'), at('2024-01-05'), NOW)).to.not.throw();
  });

  it('refuses an unknown DAG and one without intervals, naming it', () => {
    const dags = bag(dagOf('daily'), dagOf('once', { schedule: '@once' }), dagOf('manual', { schedule: null }));
    expect(() => planBackfill(dags, ['daily', 'dialy'], at('2024-01-01'), undefined, NOW)).to.throw(UsageError, "unknown DAG 'dialy' (see 'drivetrain dags list')");
    expect(() => planBackfill(dags, ['once'], at('2024-01-01'), undefined, NOW)).to.throw(UsageError, "DAG 'once' has schedule '@once': there are no intervals to backfill");
    expect(() => planBackfill(dags, ['manual'], at('2024-01-01'), undefined, NOW)).to.throw(UsageError, "DAG 'manual' has schedule 'null': there are no intervals to backfill");
  });
});
