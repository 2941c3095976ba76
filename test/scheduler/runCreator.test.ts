import { expect } from 'chai';
import { defineDag } from '../../scheduler/dag.js';
import type { Dag, DagSpec } from '../../scheduler/interfaces.js';
import { setPaused } from '../../scheduler/metadata/dagTable.js';
import { createDueRuns, triggerRun } from '../../scheduler/runCreator.js';
import { openHarness, type Harness } from './harness.js';

const noop = { run: () => undefined };
const dagOf = (spec: Partial<DagSpec<'t'>>): Dag =>
  defineDag({ id: 'd', schedule: '@daily', startDate: '2024-01-01', ...spec, tasks: { t: noop } });
const at = (iso: string) => new Date(iso);

describe('run creation', () => {
  let h: Harness;
  beforeEach(async () => (h = await openHarness()));
  afterEach(async () => h.close());

  const dates = async () => (await h.runs('d')).map((r) => r.logical_date.slice(0, 10));

  it('creates every missed interval in order with catchup on, and only ended intervals', async () => {
    const dag = dagOf({ catchup: true });
    expect(await createDueRuns(h.db, [dag], at('2024-01-05T12:00:00Z'))).to.equal(4);
    expect(await dates()).to.deep.equal(['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04']);
    const [first] = await h.runs('d');
    expect(first.run_id).to.equal('scheduled__2024-01-01T00:00:00+00:00');
  });

  it('creates nothing twice when ticked again at the same time', async () => {
    const dag = dagOf({ catchup: true });
    await createDueRuns(h.db, [dag], at('2024-01-05T12:00:00Z'));
    expect(await createDueRuns(h.db, [dag], at('2024-01-05T12:00:00Z'))).to.equal(0);
    expect(await createDueRuns(h.db, [dag], at('2024-01-06T00:00:00Z'))).to.equal(1);
    expect(await dates()).to.have.length(5);
  });

  it('creates only the latest completed interval with catchup off', async () => {
    const dag = dagOf({ catchup: false });
    expect(await createDueRuns(h.db, [dag], at('2024-01-05T12:00:00Z'))).to.equal(1);
    expect(await dates()).to.deep.equal(['2024-01-04']);
  });

  it('creates nothing while paused and only the latest interval after unpausing with catchup off', async () => {
    const dag = dagOf({ catchup: false });
    await createDueRuns(h.db, [dag], at('2024-01-03T01:00:00Z'));
    await setPaused(h.db, dag, true);
    expect(await createDueRuns(h.db, [dag], at('2024-01-10T01:00:00Z'))).to.equal(0);
    await setPaused(h.db, dag, false);
    expect(await createDueRuns(h.db, [dag], at('2024-01-10T01:00:00Z'))).to.equal(1);
    expect(await dates()).to.deep.equal(['2024-01-02', '2024-01-09']);
  });

  it('honours the end date', async () => {
    const dag = dagOf({ catchup: true, endDate: '2024-01-02' });
    await createDueRuns(h.db, [dag], at('2024-02-01T00:00:00Z'));
    expect(await dates()).to.deep.equal(['2024-01-01', '2024-01-02']);
  });

  it('runs @once once and a null schedule never', async () => {
    const once = dagOf({ schedule: '@once' });
    const manual = defineDag({ id: 'm', schedule: null, startDate: '2024-01-01', tasks: { t: noop } });
    expect(await createDueRuns(h.db, [once, manual], at('2024-01-05T00:00:00Z'))).to.equal(1);
    expect(await createDueRuns(h.db, [once, manual], at('2024-03-05T00:00:00Z'))).to.equal(0);
    expect(await h.runs('m')).to.deep.equal([]);
  });

  it('never creates a scheduled run where a backfill or manual run has the same logical date', async () => {
    const dag = dagOf({ catchup: true });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'backfill');
    await triggerRun(h.db, dag, { date: at('2024-01-03T00:00:00Z'), now: at('2024-01-10T00:00:00Z') });
    await createDueRuns(h.db, [dag], at('2024-01-05T00:00:00Z'));
    const runs = await h.runs('d');
    expect(runs.map((r) => r.run_id)).to.deep.equal([
      'scheduled__2024-01-01T00:00:00+00:00',
      'backfill__2024-01-02T00:00:00+00:00',
      'manual__2024-01-03T00:00:00+00:00',
      'scheduled__2024-01-04T00:00:00+00:00',
    ]);
  });
});
