import { expect } from 'chai';
import { checkDeadlines } from '../../scheduler/alerts/deadlines.js';
import { AlertDeliverer } from '../../scheduler/alerts/deliverer.js';
import { defineDag } from '../../scheduler/dag.js';
import type { AlertPayload, Dag } from '../../scheduler/interfaces.js';
import { setPaused } from '../../scheduler/metadata/dagTable.js';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { registry } from '../../scheduler/metrics.js';
import { openHarness, waitUntil, type Harness } from '../scheduler/harness.js';
import { countsByAlert, startReceiver, type Receiver } from './receiver.js';

const RUN = 'scheduled__2024-01-02T00:00:00+00:00';

/** Alerts of the outbox not yet delivered. */
async function undelivered(db: MetadataDb): Promise<number> {
  const [row] = await db.read((sql) => sql.all<{ n: number }>('SELECT COUNT(*) AS n FROM alerts WHERE delivered_at IS NULL'));
  return row.n;
}

/** The value of one sample of the metrics registry. */
async function metric(name: string, dagId: string): Promise<number | undefined> {
  const m = (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.dag_id === dagId);
  return m?.value;
}

describe('alerts', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  let receiver: Receiver | undefined;
  const others: { stop?: () => Promise<void>; close?: () => Promise<void> }[] = [];

  afterEach(async () => {
    for (const o of others.splice(0).reverse()) await (o.stop ?? o.close)!.call(o);
    await receiver?.close();
    await h?.close();
    h = undefined;
    receiver = undefined;
  });

  /** A running deliverer on `db` with fast polls and backoff; stopped after the test. */
  function deliverer(db: MetadataDb, dags: readonly Dag[]): AlertDeliverer {
    const d = new AlertDeliverer({ db, settings: h!.settings, log: h!.log, dags: () => new Map(dags.map((x) => [x.id, x])), pollMs: 10, minBackoffMs: 20 });
    others.push(d);
    d.start();
    return d;
  }

  /** Two running deliverers on the harness's metadata file through two connections, as two daemons. */
  async function twoDeliverers(dags: readonly Dag[]): Promise<void> {
    const second = await MetadataDb.open(h!.settings.metadataDb);
    others.push(second);
    deliverer(h!.db, dags);
    deliverer(second, dags);
  }

  it('gets every alert to a receiver that answers 500 three times and then 200 exactly once, as one line each', async () => {
    receiver = await startReceiver({ failFirst: 3 });
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const dag = defineDag({
      id: 'ingest',
      schedule: '@daily',
      startDate: '2024-01-01',
      retries: 1,
      retryDelayS: 0,
      tasks: { load_cars: { run: () => Promise.reject(new Error('source said no\nat line two')) } },
    });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    deliverer(h.db, [dag]);
    await receiver.waitFor((a) => a.length >= 3, 'three alerts');
    await waitUntil(async () => (await undelivered(h!.db)) === 0, 'every alert marked delivered');

    expect(countsByAlert(receiver.accepted)).to.deep.equal({
      [`task_retry ingest.load_cars ${RUN} 1`]: 1,
      [`task_failed ingest.load_cars ${RUN} 2`]: 1,
      [`dag_run_failed ingest.- ${RUN} -`]: 1,
    });
    expect(receiver.requests).to.equal(6);
    const failed = receiver.accepted.find((a) => a.event === 'task_failed')!;
    expect(failed).to.deep.include({
      dag_id: 'ingest',
      dag_run_id: RUN,
      task_id: 'load_cars',
      try_number: 2,
      logical_date: '2024-01-02T00:00:00.000Z',
      error: 'Error: source said no\nat line two',
      text: `[drivetrain] task_failed ingest.load_cars run ${RUN} try 2/2: Error: source said no`,
    });
    expect(failed.log_url).to.match(/\/api\/v1\/dags\/ingest\/dagRuns\/scheduled__2024-01-02T00%3A00%3A00%2B00%3A00\/taskInstances\/load_cars\/logs\/2$/);
    expect(h.log.find('alert not delivered, will retry', 'warn')).to.have.length(3);
    // The webhook's path is its token: the log shows only its origin.
    expect(h.log.text()).to.not.contain('s3cr3t-webhook-token');
  });

  it('sends each alert once when two deliverers share one metadata file', async () => {
    receiver = await startReceiver();
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const tasks = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`t${i}`, { run: () => Promise.reject(new Error(`t${i} broke`)) }]));
    const dag = defineDag({ id: 'wide', schedule: '@daily', startDate: '2024-01-01', retries: 0, maxActiveTasks: 10, tasks });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    await twoDeliverers([dag]);
    await receiver.waitFor((a) => a.length >= 11, 'eleven alerts');
    await waitUntil(async () => (await undelivered(h!.db)) === 0, 'every alert marked delivered');

    const counts = countsByAlert(receiver.accepted);
    expect(Object.keys(counts)).to.have.length(11);
    expect(Object.values(counts).every((n) => n === 1), JSON.stringify(counts)).to.equal(true);
    expect(receiver.requests).to.equal(11);
  });

  it('stops at once while a POST hangs, leaving the alert undelivered for the next start', async () => {
    receiver = await startReceiver({ hang: true });
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const dag = defineDag({ id: 'ingest', schedule: '@daily', startDate: '2024-01-01', retries: 0, tasks: { load_cars: { run: () => Promise.reject(new Error('no')) } } });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    const d = deliverer(h.db, [dag]);
    await receiver.waitFor(() => receiver!.requests >= 1, 'a POST to hang');
    await d.stop();
    const rows = await h.db.read((sql) => sql.all<{ delivered_at: string | null; claimed_by: string | null; last_error: string | null }>('SELECT delivered_at, claimed_by, last_error FROM alerts ORDER BY id'));
    expect(rows[0]).to.deep.equal({ delivered_at: null, claimed_by: null, last_error: `WebhookError: webhook http://127.0.0.1:${receiver.port}: stopped before an answer` });
    expect(rows.every((r) => r.delivered_at === null)).to.equal(true);
  });

  it('does not POST an alert whose claim could run out before the answer, which another deliverer could then take', async () => {
    receiver = await startReceiver();
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const dag = defineDag({ id: 'ingest', schedule: '@daily', startDate: '2024-01-01', retries: 0, tasks: { load_cars: { run: () => Promise.reject(new Error('no')) } } });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    // A claim shorter than the POST's timeout: the deliverer claims the rows but must not send them.
    const short = new AlertDeliverer({ db: h.db, settings: h.settings, log: h.log, dags: () => new Map([[dag.id, dag]]), claimMs: 5000 });
    others.push(short);
    expect(await short.deliverDue()).to.equal(0);
    expect(receiver.requests).to.equal(0);
    expect(await undelivered(h.db)).to.equal(2);
  });

  it('fires deadline_missed once for a paused DAG that has no run, from any daemon, and counts it on /metrics', async () => {
    receiver = await startReceiver();
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const dag = defineDag({
      id: 'late_mart',
      schedule: '@daily',
      startDate: '2024-01-02',
      deadline: { afterIntervalEnd: '6h' },
      tasks: { build: { run: () => undefined } },
    });
    await setPaused(h.db, dag, true);
    // The interval [01-02, 01-03) ended at midnight: 5h59m later it is not late yet.
    expect(await checkDeadlines(h.db, [dag], new Date('2024-01-03T05:59:00Z'))).to.equal(0);
    expect(await checkDeadlines(h.db, [dag], new Date('2024-01-03T06:00:00Z'))).to.equal(1);
    const second = await MetadataDb.open(h.settings.metadataDb);
    others.push(second);
    expect(await checkDeadlines(second, [dag], new Date('2024-01-03T06:30:00Z'))).to.equal(0);
    expect(await metric('drivetrain_deadlines_missed', 'late_mart')).to.equal(1);

    deliverer(h.db, [dag]);
    await receiver.waitFor((a) => a.length >= 1, 'the deadline alert');
    await waitUntil(async () => (await undelivered(h!.db)) === 0, 'the alert marked delivered');
    expect(receiver.accepted).to.have.length(1);
    expect(receiver.accepted[0]).to.deep.include({
      event: 'deadline_missed',
      dag_id: 'late_mart',
      dag_run_id: RUN,
      task_id: null,
      logical_date: '2024-01-02T00:00:00.000Z',
      error: 'no run 6h after its interval ended at 2024-01-03T00:00:00.000Z',
    });
  });

  it('fires no deadline for an interval whose run succeeded, and reports the lateness since its interval ended', async () => {
    h = await openHarness();
    const dag = defineDag({ id: 'on_time', schedule: '@daily', startDate: '2024-01-02', deadline: { afterIntervalEnd: '6h' }, tasks: { build: { run: () => undefined } } });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    expect(await checkDeadlines(h.db, [dag], new Date('2024-01-03T07:00:00Z'))).to.equal(0);
    expect(await metric('drivetrain_deadlines_missed', 'on_time')).to.equal(0);
    expect(await metric('drivetrain_dag_lateness_seconds', 'on_time')).to.equal(7 * 3600);
  });

  it('runs each callback of the DAG file once, also while the webhook is retried, and logs a callback that throws without alerting anything more', async () => {
    // Down for the first three POSTs: the rows are retried, their callbacks must not run again.
    receiver = await startReceiver({ failFirst: 3 });
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const calls: string[] = [];
    const record = (name: string) => (a: AlertPayload) => void calls.push(`${name} ${a.event} ${a.task_id ?? '-'}`);
    const dag = defineDag({
      id: 'callbacks',
      schedule: '@daily',
      startDate: '2024-01-01',
      retryDelayS: 0,
      onFailure: record('dag.onFailure'),
      onSuccess: record('dag.onSuccess'),
      tasks: {
        flaky: {
          retries: 1,
          run: (ctx) => (ctx.tryNumber === 1 ? Promise.reject(new Error('first try fails')) : undefined),
          onRetry: record('flaky.onRetry'),
          onSuccess: record('flaky.onSuccess'),
        },
        broken: {
          retries: 0,
          run: () => Promise.reject(new Error('always fails')),
          onFailure: () => {
            calls.push('broken.onFailure');
            throw new Error('callback exploded');
          },
        },
      },
    });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    await twoDeliverers([dag]);
    await h.log.waitFor('alert callback failed', 'error');
    await waitUntil(async () => (await undelivered(h!.db)) === 0, 'every alert handled');

    expect([...calls].sort()).to.deep.equal([
      'broken.onFailure',
      'dag.onFailure dag_run_failed -',
      'flaky.onRetry task_retry flaky',
      'flaky.onSuccess task_success flaky',
    ]);
    const logged = h.log.find('alert callback failed', 'error');
    expect(logged).to.have.length(1);
    expect(logged[0].meta).to.include({ event: 'task_failed', dagId: 'callbacks', taskId: 'broken', error: 'Error: callback exploded' });
    // The webhook gets the contract's events only, each once; the callback's throw adds none.
    expect(countsByAlert(receiver.accepted)).to.deep.equal({
      [`task_retry callbacks.flaky ${RUN} 1`]: 1,
      [`task_failed callbacks.broken ${RUN} 1`]: 1,
      [`dag_run_failed callbacks.- ${RUN} -`]: 1,
    });
  });

  it("names a failed mapped instance by its map index: in the text, the payload and its log's address", async () => {
    receiver = await startReceiver();
    h = await openHarness({ DRIVETRAIN_ALERT_WEBHOOK_URL: receiver.url });
    const dag = defineDag({
      id: 'fanout',
      schedule: '@daily',
      startDate: '2024-01-01',
      retries: 0,
      tasks: {
        load: {
          expand: () => ['eu', 'us'],
          run: (ctx) => {
            if (ctx.mapValue === 'us') throw new Error('us is down');
          },
        },
      },
    });
    await h.addRuns(dag, '2024-01-02', '2024-01-02', 'scheduled');
    await h.drain([dag]);
    deliverer(h.db, [dag]);
    await receiver.waitFor((a) => a.length >= 2, 'the task and run alerts');
    const failed = receiver.accepted.find((a) => a.event === 'task_failed')!;
    expect(failed).to.include({ task_id: 'load', map_index: 1, try_number: 1 });
    expect(failed.text).to.equal(`[drivetrain] task_failed fanout.load[1] run ${RUN} try 1/1: Error: us is down`);
    expect(failed.log_url).to.match(new RegExp(`/dags/fanout/dagRuns/${encodeURIComponent(RUN).replace(/[+]/g, '\\+')}/taskInstances/load/logs/1\\?map_index=1$`));
    expect(receiver.accepted.find((a) => a.event === 'dag_run_failed')).to.include({ task_id: null, map_index: -1 });
  });
});
