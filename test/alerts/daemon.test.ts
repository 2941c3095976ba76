import { expect } from 'chai';
import path from 'node:path';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import type { AlertRow } from '../../scheduler/metadata/statements.js';
import { useTmpDir, testEnv } from '../helpers/tmp.js';
import { REPO_ROOT, outLines, spawnCli, waitUntil, type CliProcess } from '../scheduler/harness.js';
import { WEBHOOK_PATH, countsByAlert, freePort, startReceiver, type Receiver } from './receiver.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'alerts', 'fixtures');
const RUN = 'scheduled__2024-01-02T00:00:00+00:00';

describe('alerts from the daemon (drivetrain start)', function () {
  this.timeout(90_000);
  const children: CliProcess[] = [];
  let receiver: Receiver | undefined;
  const tmp = useTmpDir('drivetrain-alerts-', {
    beforeRemove: async () => {
      for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await receiver?.close();
      receiver = undefined;
    },
  });

  const env = (dags: 'failing' | 'hanging', url: string, extra: Record<string, string> = {}) =>
    testEnv(tmp.dir, {
      DRIVETRAIN_DAGS_DIR: path.join(FIXTURES, dags),
      DRIVETRAIN_HTTP_PORT: '0',
      DRIVETRAIN_NOW: '2024-01-03T06:00:00Z',
      DRIVETRAIN_SCHEDULER_TICK: '* * * * * *',
      DRIVETRAIN_ALERT_WEBHOOK_URL: url,
      DT_FIXTURE_OUT: tmp.path('out.txt'),
      ...extra,
    });

  const start = (e: NodeJS.ProcessEnv): CliProcess => {
    const c = spawnCli(['start'], e);
    children.push(c);
    return c;
  };

  /** The outbox as the daemons left it, read from the metadata file. */
  async function alertRows(): Promise<AlertRow[]> {
    const db = await MetadataDb.open(tmp.path('home', 'metadata.db'));
    try {
      return await db.read((sql) => sql.all<AlertRow>('SELECT * FROM alerts ORDER BY id'));
    } finally {
      await db.close();
    }
  }

  const allDelivered = async (n: number) => {
    const rows = await alertRows();
    return rows.length === n && rows.every((r) => r.delivered_at !== null);
  };

  async function stopGracefully(c: CliProcess): Promise<void> {
    c.child.kill('SIGTERM');
    const result = await c.done;
    expect(result.code, result.stderr).to.equal(0);
  }

  it('delivers an alert once after the daemon was killed with SIGKILL between the state change and the delivery', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}${WEBHOOK_PATH}`;
    const first = start(env('failing', url));
    // The failure is committed and a delivery was tried against a receiver that is down.
    await waitUntil(async () => (await alertRows()).some((r) => r.event === 'task_failed' && r.attempts >= 1 && r.delivered_at === null), 'a failed delivery', 30_000);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).to.equal('SIGKILL');

    receiver = await startReceiver({ port });
    const second = start(env('failing', url));
    await waitUntil(() => allDelivered(2), 'both alerts delivered', 30_000);
    await stopGracefully(second);
    expect(countsByAlert(receiver.accepted)).to.deep.equal({
      [`task_failed failing.load_0 ${RUN} 1`]: 1,
      [`dag_run_failed failing.- ${RUN} -`]: 1,
    });
    expect(first.stdout() + second.stdout()).to.not.contain('s3cr3t-webhook-token');
  });

  it('sends task_failed for an attempt whose daemon was killed with SIGKILL and that has no tries left', async () => {
    receiver = await startReceiver();
    const first = start(env('hanging', receiver.url));
    await waitUntil(() => outLines(tmp.dir).includes('start 2024-01-02 try=1'), 'the attempt to start', 30_000);
    first.child.kill('SIGKILL');
    await first.done;

    const second = start(env('hanging', receiver.url));
    await waitUntil(() => allDelivered(2), 'both alerts delivered', 30_000);
    await stopGracefully(second);
    expect(countsByAlert(receiver.accepted)).to.deep.equal({
      [`task_failed hanging.work ${RUN} 1`]: 1,
      [`dag_run_failed hanging.- ${RUN} -`]: 1,
    });
    const failed = receiver.accepted.find((a) => a.event === 'task_failed')!;
    expect(failed.error).to.match(/^attempt 1 lost: owner .+ is no longer running$/);
    expect(failed.text).to.equal(`[drivetrain] task_failed hanging.work run ${RUN} try 1/1: ${failed.error}`);
    // The attempt log on the HTTP API of the daemon that sent it, at the port it bound (the setting is 0).
    const port = /"httpPort":(\d+)/.exec(second.stdout())?.[1];
    expect(failed.log_url).to.equal(
      `http://127.0.0.1:${port}/api/v1/dags/hanging/dagRuns/${encodeURIComponent(RUN)}/taskInstances/work/logs/1`,
    );
    expect(outLines(tmp.dir)).to.deep.equal(['start 2024-01-02 try=1']);
  });

  it('sends each alert once with two daemons on one home', async () => {
    receiver = await startReceiver();
    const e = env('failing', receiver.url, { DT_FAILING_TASKS: '6' });
    const a = start(e);
    const b = start(e);
    await waitUntil(() => allDelivered(7), 'seven alerts delivered', 30_000);
    await Promise.all([stopGracefully(a), stopGracefully(b)]);
    const counts = countsByAlert(receiver.accepted);
    expect(Object.keys(counts)).to.have.length(7);
    expect(Object.values(counts).every((n) => n === 1), JSON.stringify(counts)).to.equal(true);
    expect(receiver.requests).to.equal(7);
  });
});
