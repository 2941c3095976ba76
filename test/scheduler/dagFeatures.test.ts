/**
 * The DAG features (trigger rules and skips, task results, params, task groups) through the real
 * command line: a backfill, the daemon, `dags trigger --conf`, `tasks clear --group` and the REST API,
 * on the fixture DAG test/fixtures/scheduler/features.
 */
import { expect } from 'chai';
import { serveConsole, TOKEN } from '../web/consoleSetup.js';
import { useTmpDir } from '../helpers/tmp.js';
import { cliEnv, outLines, readMetadata, runCli, spawnCli, waitUntil } from './harness.js';

interface Ti {
  run_id: string;
  task_id: string;
  state: string | null;
  result: string | null;
}

const instances = (dir: string) => readMetadata<Ti>(dir, "SELECT run_id, task_id, state, result FROM task_instances WHERE dag_id = 'features' ORDER BY run_id, id");
const day = (runId: string) => /__(\d{4}-\d{2}-\d{2})/.exec(runId)![1];
const table = (tis: Ti[]) => tis.map((t) => `${day(t.run_id)} ${t.task_id} ${t.state}${t.result === null ? '' : ` ${t.result}`}`);

describe('DAG features through the command line', function () {
  this.timeout(120_000);
  const tmp = useTmpDir('drivetrain-features-');
  const env = (extra: Record<string, string> = {}) => cliEnv(tmp.dir, 'features', { DRIVETRAIN_NOW: '2024-01-03T06:00:00Z', ...extra });

  it('backfills with the params defaults, a task group, results handed downstream and the trigger rules', async () => {
    const r = await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-02', '--dag', 'features'], env());
    expect(r.code, r.stderr).to.equal(0);
    expect(table(await instances(tmp.dir))).to.deep.equal([
      '2024-01-01 extract.count success {"rows":3}',
      '2024-01-01 extract.check success',
      '2024-01-01 load success 6',
      '2024-01-01 cleanup success',
      '2024-01-02 extract.count success {"rows":3}',
      '2024-01-02 extract.check success',
      '2024-01-02 load success 6',
      '2024-01-02 cleanup success',
    ]);
    expect(outLines(tmp.dir).filter((l) => l.startsWith('load'))).to.deep.equal(['load 2024-01-01 got=3', 'load 2024-01-02 got=3']);
  });

  it('refuses a trigger whose conf fails the params schema with exit 2 naming the field, and creates no run', async () => {
    const bad = await runCli(['dags', 'trigger', 'features', '--date', '2024-01-01', '--conf', '{"rows": "many"}'], env());
    expect(bad.code).to.equal(2);
    expect(bad.stderr.trim()).to.equal(`drivetrain: DAG 'features': conf field 'rows': Invalid input: expected number, received string (given "many")`);
    const negative = await runCli(['dags', 'trigger', 'features', '--date', '2024-01-01', '--conf', '{"rows": -1}'], env());
    expect(negative.code).to.equal(2);
    expect(negative.stderr).to.match(/conf field 'rows': .*>=0.* \(given -1\)/);
    expect(await readMetadata(tmp.dir, "SELECT run_id FROM dag_runs WHERE dag_id = 'features'")).to.deep.equal([]);
  });

  it('runs a triggered run with its conf and the scheduled run with the defaults in the daemon; a skip, a failure and the cleanup after it', async () => {
    const trigger = await runCli(['dags', 'trigger', 'features', '--date', '2024-01-01', '--conf', '{"rows": 7, "skip_check": true, "fail": true}'], env());
    expect(trigger.code, trigger.stderr).to.equal(0);
    // Stored with the defaults filled in.
    expect(await readMetadata(tmp.dir, "SELECT conf FROM dag_runs WHERE dag_id = 'features'")).to.deep.equal([{ conf: '{"rows":7,"skip_check":true,"fail":true}' }]);
    const daemon = spawnCli(['start'], env({ DRIVETRAIN_SCHEDULER_TICK: '* * * * * *' }));
    try {
      await waitUntil(
        async () => (await readMetadata<{ state: string }>(tmp.dir, "SELECT state FROM dag_runs WHERE dag_id = 'features'")).filter((r) => r.state === 'success' || r.state === 'failed').length === 2,
        'both runs to finish',
        60_000,
      );
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.done;
    }
    expect(table(await instances(tmp.dir))).to.deep.equal([
      '2024-01-01 extract.count success {"rows":7}',
      '2024-01-01 extract.check skipped',
      '2024-01-01 load failed',
      '2024-01-01 cleanup success',
      '2024-01-02 extract.count success {"rows":3}',
      '2024-01-02 extract.check success',
      '2024-01-02 load success 6',
      '2024-01-02 cleanup success',
    ]);
    const runs = await readMetadata<{ run_id: string; state: string }>(tmp.dir, "SELECT run_id, state FROM dag_runs WHERE dag_id = 'features' ORDER BY logical_date");
    expect(runs).to.deep.equal([
      { run_id: 'manual__2024-01-01T00:00:00+00:00', state: 'failed' },
      { run_id: 'scheduled__2024-01-02T00:00:00+00:00', state: 'success' },
    ]);
    expect(outLines(tmp.dir)).to.include.members(['load 2024-01-01 got=7', 'cleanup 2024-01-01 cleaned', 'load 2024-01-02 got=3']);
    expect(outLines(tmp.dir)).to.not.include('check 2024-01-01 checked');
  });

  it('clears every task of a group and its downstream with --group, results included, and refuses an unknown group', async () => {
    expect((await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-01', '--dag', 'features'], env())).code).to.equal(0);
    const cleared = await runCli(['tasks', 'clear', 'features', '--group', 'extract'], env());
    expect(cleared.code, cleared.stderr).to.equal(0);
    expect(cleared.stdout).to.contain('cleared 4 task instance(s) of extract.count, extract.check, load, cleanup in 1 run(s) of features');
    expect(table(await instances(tmp.dir))).to.deep.equal([
      '2024-01-01 extract.count null',
      '2024-01-01 extract.check null',
      '2024-01-01 load null',
      '2024-01-01 cleanup null',
    ]);
    const unknown = await runCli(['tasks', 'clear', 'features', '--group', 'load'], env());
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr.trim()).to.equal("drivetrain: DAG 'features' has no task group 'load' (groups: extract)");
  });

  it('shows groups, trigger rules, params and results in the API, and answers 400 for a conf the params refuse', async () => {
    expect((await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-01', '--dag', 'features'], env())).code).to.equal(0);
    const served = await serveConsole(tmp.dir);
    try {
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
      const dag = (await (await fetch(`${served.url}/api/v1/dags/features`, { headers })).json()) as {
        tasks: { task_id: string; group: string | null; trigger_rule: string }[];
        params: { properties: Record<string, unknown> };
      };
      expect(dag.tasks.map((t) => [t.task_id, t.group, t.trigger_rule])).to.deep.equal([
        ['extract.count', 'extract', 'all_success'],
        ['extract.check', 'extract', 'all_success'],
        ['load', null, 'none_failed'],
        ['cleanup', null, 'all_done'],
      ]);
      expect(Object.keys(dag.params.properties)).to.deep.equal(['rows', 'skip_check', 'fail']);
      const tis = (await (await fetch(`${served.url}/api/v1/dags/features/dagRuns/${encodeURIComponent('backfill__2024-01-01T00:00:00+00:00')}/taskInstances`, { headers })).json()) as {
        task_instances: { task_id: string; result: unknown }[];
      };
      expect(tis.task_instances.map((t) => [t.task_id, t.result])).to.deep.equal([
        ['extract.count', { rows: 3 }],
        ['extract.check', null],
        ['load', 6],
        ['cleanup', null],
      ]);
      const post = (conf: unknown) => fetch(`${served.url}/api/v1/dags/features/dagRuns`, { method: 'POST', headers, body: JSON.stringify({ logical_date: '2024-01-02', conf }) });
      const bad = await post({ skip_check: 'yes' });
      expect(bad.status).to.equal(400);
      expect(((await bad.json()) as { detail: string }).detail).to.equal(`DAG 'features': conf field 'skip_check': Invalid input: expected boolean, received string (given "yes")`);
      const good = await post({ rows: 5 });
      expect(good.status).to.equal(200);
      expect(((await good.json()) as { conf: unknown }).conf).to.deep.equal({ rows: 5, skip_check: false, fail: false });
    } finally {
      await served.close();
    }
  });
});
