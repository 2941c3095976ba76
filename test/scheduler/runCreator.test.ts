import { expect } from 'chai';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { defineDag } from '../../scheduler/dag.js';
import type { Dag, DagSpec } from '../../scheduler/interfaces.js';
import { setPaused } from '../../scheduler/metadata/dagTable.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { createDueRuns, dueIntervals, insertRuns, triggerRun } from '../../scheduler/runCreator.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { openHarness, type Harness } from './harness.js';

const noop = { run: () => undefined };
const dagOf = (spec: Partial<DagSpec<'t'>>): Dag =>
  defineDag({ id: 'd', schedule: '@daily', startDate: '2024-01-01', ...spec, tasks: { t: noop } });
const at = (iso: string) => new Date(iso);

describe('due intervals', () => {
  it('decides the due intervals of each kind of schedule from where creation stopped', () => {
    const show = (r: ReturnType<typeof dueIntervals>) => ({ due: r.due.map((i) => i.start.toISOString().slice(0, 10)), next: r.next?.toISOString() });
    const now = at('2024-01-05T12:00:00Z');
    expect(show(dueIntervals(dagOf({ schedule: null }), now, undefined))).to.deep.equal({ due: [], next: undefined });
    const once = dagOf({ schedule: '@once', startDate: '2024-01-05T12:00:00Z' });
    expect(show(dueIntervals(once, now, undefined))).to.deep.equal({ due: ['2024-01-05'], next: '2024-01-05T12:00:00.001Z' });
    expect(show(dueIntervals(once, at('2024-01-05T11:59:59Z'), undefined))).to.deep.equal({ due: [], next: undefined });
    expect(show(dueIntervals(once, now, at('2024-01-05T12:00:00.001Z')))).to.deep.equal({ due: [], next: '2024-01-05T12:00:00.001Z' });
    const latest = dagOf({ catchup: false });
    expect(show(dueIntervals(latest, now, undefined))).to.deep.equal({ due: ['2024-01-04'], next: '2024-01-05T00:00:00.000Z' });
    expect(show(dueIntervals(latest, now, at('2024-01-04')))).to.deep.equal({ due: ['2024-01-04'], next: '2024-01-05T00:00:00.000Z' });
    expect(show(dueIntervals(latest, now, at('2024-01-05')))).to.deep.equal({ due: [], next: '2024-01-05T00:00:00.000Z' });
    expect(show(dueIntervals(dagOf({ catchup: false, startDate: '2024-01-06' }), now, undefined))).to.deep.equal({ due: [], next: undefined });
    const all = dagOf({ catchup: true, startDate: '2024-01-02' });
    expect(show(dueIntervals(all, now, at('2024-01-03')))).to.deep.equal({ due: ['2024-01-03', '2024-01-04'], next: '2024-01-05T00:00:00.000Z' });
    expect(show(dueIntervals(all, now, at('2023-12-01'))), 'never before the start date').to.deep.equal({ due: ['2024-01-02', '2024-01-03', '2024-01-04'], next: '2024-01-05T00:00:00.000Z' });
    expect(show(dueIntervals(all, now, at('2024-01-05'))), 'nothing new keeps where it was').to.deep.equal({ due: [], next: '2024-01-05T00:00:00.000Z' });
    expect(show(dueIntervals(dagOf({ catchup: true, endDate: '2024-01-02' }), now, undefined)).due).to.deep.equal(['2024-01-01', '2024-01-02']);
  });
});

forEachMetadataEngine('run creation', (engine) => {
  let h: Harness;
  beforeEach(async () => (h = await openHarness(engine.env())));
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

  const row = async (dagId = 'd') =>
    (await h.db.read((sql) => sql.all<{ run_id: string; run_type: string; state: string; logical_date: string; data_interval_start: string; data_interval_end: string; conf: string; created_at: string }>(
      'SELECT run_id, run_type, state, logical_date, data_interval_start, data_interval_end, conf, created_at FROM dag_runs WHERE dag_id = ? ORDER BY logical_date',
      [dagId],
    )));
  const nextDagrun = async () => (await h.db.read((sql) => sql.all<{ next_dagrun: string | null }>("SELECT next_dagrun FROM dags WHERE dag_id = 'd'")))[0]?.next_dagrun;

  it('creates an interval that ends exactly now, records where creation resumes, and says what it created', async () => {
    const dag = dagOf({ catchup: true });
    const log = new RecordingLogger();
    expect(await createDueRuns(h.db, [dag], at('2024-01-03T00:00:00Z'), log)).to.equal(2);
    expect(await nextDagrun()).to.equal('2024-01-03T00:00:00.000Z');
    expect(log.find('scheduled runs created', 'info').map((l) => l.meta)).to.deep.equal([{ dagId: 'd', count: 2, first: '2024-01-01T00:00:00.000Z' }]);
    expect(await createDueRuns(h.db, [dag], at('2024-01-03T23:59:59Z'), log)).to.equal(0);
    expect(log.find('scheduled runs created')).to.have.length(1);
    const [first] = await row();
    expect(first).to.include({ run_type: 'scheduled', state: 'queued', conf: '{}' });
    expect(first.data_interval_end > first.data_interval_start).to.equal(true);
  });

  it('creates nothing for a list without a scheduled DAG', async () => {
    const manual = defineDag({ id: 'm', schedule: null, startDate: '2024-01-01', tasks: { t: noop } });
    expect(await createDueRuns(h.db, [manual], at('2024-01-05T00:00:00Z'))).to.equal(0);
    expect(await createDueRuns(h.db, [], at('2024-01-05T00:00:00Z'))).to.equal(0);
  });

  it('creates nothing, without touching the database, when no DAG has a schedule', async () => {
    const manual = defineDag({ id: 'm', schedule: null, startDate: '2024-01-01', tasks: { t: noop } });
    // A closed database refuses every statement: a tick that opened a transaction would fail.
    await h.db.close();
    expect(await createDueRuns(h.db, [manual], at('2024-01-05T00:00:00Z'))).to.equal(0);
    expect(await createDueRuns(h.db, [], at('2024-01-05T00:00:00Z'))).to.equal(0);
  });

  it('writes nothing when the last scheduled run is the latest completed interval of a DAG with catchup off', async () => {
    const dag = dagOf({ catchup: false });
    await h.addRuns(dag, '2024-01-04', '2024-01-04', 'scheduled');
    expect(await createDueRuns(h.db, [dag], at('2024-01-05T12:00:00Z'))).to.equal(0);
    expect(await dates()).to.deep.equal(['2024-01-04']);
    // Creation resumes after that run, which the next tick finds again: no row of the DAG was written.
    expect(await nextDagrun()).to.equal(undefined);
  });

  it('passes intervals whose runs a backfill already created, without saying it created any', async () => {
    const dag = dagOf({ catchup: true });
    await h.addRuns(dag, '2024-01-01', '2024-01-04', 'backfill');
    const log = new RecordingLogger();
    expect(await createDueRuns(h.db, [dag], at('2024-01-05T12:00:00Z'), log)).to.equal(0);
    expect(await nextDagrun()).to.equal('2024-01-05T00:00:00.000Z');
    expect(log.find('scheduled runs created')).to.deep.equal([]);
  });

  it('creates at most 1000 runs a tick, and the rest on the next ticks', async () => {
    const dag = dagOf({ catchup: true, schedule: '@hourly' });
    expect(await createDueRuns(h.db, [dag], at('2024-03-01T00:00:00Z'))).to.equal(1000);
    expect(await createDueRuns(h.db, [dag], at('2024-03-01T00:00:00Z'))).to.equal(60 * 24 - 1000);
    expect(await createDueRuns(h.db, [dag], at('2024-03-01T00:00:00Z'))).to.equal(0);
  });

  it('resumes after the last scheduled run when the database does not know where creation stopped', async () => {
    const dag = dagOf({ catchup: true });
    await h.addRuns(dag, '2024-01-01', '2024-01-03', 'scheduled');
    // A run before the last one is missing: creation resumes after the last, it does not fill gaps.
    await h.db.tx((sql) => sql.run("DELETE FROM dag_runs WHERE logical_date LIKE '2024-01-02%'"));
    const log = new RecordingLogger();
    expect(await createDueRuns(h.db, [dag], at('2024-01-05T00:00:00Z'), log)).to.equal(1);
    expect(await dates()).to.deep.equal(['2024-01-01', '2024-01-03', '2024-01-04']);
    expect(log.find('scheduled runs created').map((l) => l.meta), 'the first interval it creates is the one after the last run').to.deep.equal([
      { dagId: 'd', count: 1, first: '2024-01-04T00:00:00.000Z' },
    ]);
  });

  it('resumes after the last scheduled run when the DAG is known but not where creation stopped', async () => {
    const dag = dagOf({ catchup: true });
    await setPaused(h.db, dag, false);
    await h.addRuns(dag, '2024-01-01', '2024-01-03', 'scheduled');
    await h.addRuns(dag, '2024-01-04', '2024-01-04', 'backfill');
    expect(await createDueRuns(h.db, [dag], at('2024-01-06T00:00:00Z'))).to.equal(1);
    expect((await h.runs('d')).map((r) => r.run_id.split('__')[0])).to.deep.equal(['scheduled', 'scheduled', 'scheduled', 'backfill', 'scheduled']);
    expect(await nextDagrun()).to.equal('2024-01-06T00:00:00.000Z');
  });

  it('triggers a manual run at a date aligned down to the schedule, with its conf, once', async () => {
    const dag = dagOf({ catchup: true });
    const runId = await triggerRun(h.db, dag, { date: at('2024-01-03T05:00:00Z'), now: at('2024-02-01T00:00:00Z'), conf: { full: true } });
    expect(runId).to.equal('manual__2024-01-03T00:00:00+00:00');
    const [r] = await row();
    expect(r).to.include({ run_id: runId, run_type: 'manual', state: 'queued', conf: '{"full":true}' });
    expect(r.data_interval_start.slice(0, 10)).to.equal('2024-01-03');
    expect(r.data_interval_end.slice(0, 10)).to.equal('2024-01-04');
    const again = await triggerRun(h.db, dag, { date: at('2024-01-03T00:00:00Z'), now: at('2024-02-01T00:00:00Z') }).catch((e: unknown) => e);
    expect(again).to.be.instanceOf(UsageError);
    expect((again as Error).message).to.equal("DAG 'd' already has a run at logical date '2024-01-03T00:00:00.000Z'");
  });

  it('triggers a run without a date at now, to the second, over the latest completed interval', async () => {
    const runId = await triggerRun(h.db, dagOf({}), { now: at('2024-01-05T12:34:56.789Z') });
    expect(runId).to.equal('manual__2024-01-05T12:34:56+00:00');
    const [r] = await row();
    expect(r.logical_date.slice(0, 19)).to.equal('2024-01-05T12:34:56');
    expect([r.data_interval_start, r.data_interval_end].map((x) => x.slice(0, 10))).to.deep.equal(['2024-01-04', '2024-01-05']);
    expect(r.conf).to.equal('{}');
  });

  it('triggers a manual-only or @once DAG over the instant it is triggered at', async () => {
    for (const [id, schedule] of [['m', null], ['o', '@once']] as const) {
      const dag = defineDag({ id, schedule, startDate: '2024-01-01', tasks: { t: noop } });
      await triggerRun(h.db, dag, { now: at('2024-01-05T12:00:00Z') });
      const [r] = await row(id);
      expect([r.data_interval_start, r.data_interval_end].map((x) => x.slice(0, 19))).to.deep.equal(['2024-01-05T12:00:00', '2024-01-05T12:00:00']);
    }
  });

  it('stamps inserted runs with the creation time it is given', async () => {
    const dag = dagOf({});
    const interval = { start: at('2024-01-01T00:00:00Z'), end: at('2024-01-02T00:00:00Z') };
    const n = await h.db.tx((sql) => insertRuns(sql, h.db.statements, [{ dagId: 'd', type: 'backfill', logicalDate: interval.start, interval }], at('2030-01-01T00:00:00Z')));
    expect(n).to.equal(1);
    expect((await row())[0].created_at).to.equal('2030-01-01T00:00:00.000Z');
    expect(dag.id).to.equal('d');
  });
});
