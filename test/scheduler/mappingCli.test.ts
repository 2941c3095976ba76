/**
 * Dynamic task mapping through the real command line: a backfill, the daemon, `tasks test` and
 * `logs`, on the fixture DAG test/fixtures/scheduler/mapped.
 */
import { expect } from 'chai';
import { useTmpDir } from '../helpers/tmp.js';
import { cliEnv, outLines, readMetadata, runCli, spawnCli, waitUntil } from './harness.js';

/** `<day> <task>[<index> <label>] <state> <result>` per instance of the fixture DAG. */
async function table(dir: string): Promise<string[]> {
  const rows = await readMetadata<{ run_id: string; task_id: string; map_index: number; map_label: string | null; state: string; result: string | null }>(
    dir,
    "SELECT run_id, task_id, map_index, map_label, state, result FROM task_instances WHERE dag_id = 'mapped' ORDER BY run_id, task_id, map_index",
  );
  return rows.map((r) => {
    const day = /__(\d{4}-\d{2}-\d{2})/.exec(r.run_id)![1];
    const task = r.map_index < 0 ? r.task_id : `${r.task_id}[${r.map_index} ${r.map_label}]`;
    // The expansion's stored list is checked in mapping.test.ts; here only that it is there.
    const result = r.result === null ? '' : r.task_id === 'deliveries' && r.map_index < 0 ? ' (list)' : ` ${r.result}`;
    return `${day} ${task} ${r.state}${result}`;
  });
}

describe('mapped tasks through the command line', function () {
  this.timeout(120_000);
  const tmp = useTmpDir('drivetrain-mapped-');
  const env = (extra: Record<string, string> = {}) => cliEnv(tmp.dir, 'mapped', { DRIVETRAIN_NOW: '2024-01-03T06:00:00Z', ...extra });

  it('backfills a mapped task: an instance per value with its label, their results summed downstream, a log each', async () => {
    const r = await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-02', '--dag', 'mapped'], env({ DT_CITIES: 'berlin,paris,rome' }));
    expect(r.code, r.stderr).to.equal(0);
    expect(await table(tmp.dir)).to.deep.equal([
      '2024-01-01 cities success ["berlin","paris","rome"]',
      '2024-01-01 deliveries success (list)',
      '2024-01-01 deliveries[0 BERLIN] success 6',
      '2024-01-01 deliveries[1 PARIS] success 5',
      '2024-01-01 deliveries[2 ROME] success 4',
      '2024-01-01 total success 15',
      '2024-01-02 cities success ["berlin","paris","rome"]',
      '2024-01-02 deliveries success (list)',
      '2024-01-02 deliveries[0 BERLIN] success 6',
      '2024-01-02 deliveries[1 PARIS] success 5',
      '2024-01-02 deliveries[2 ROME] success 4',
      '2024-01-02 total success 15',
    ]);
    expect(outLines(tmp.dir).sort()).to.deep.equal(['2024-01-01 0 BERLIN', '2024-01-01 1 PARIS', '2024-01-01 2 ROME', '2024-01-02 0 BERLIN', '2024-01-02 1 PARIS', '2024-01-02 2 ROME']);
    // `drivetrain logs` finds each mapped attempt's own log and names it by its index.
    const logs = await runCli(['logs', '--dag', 'mapped', '--task', 'deliveries', '--run', '2024-01-01'], env());
    expect(logs.code, logs.stderr).to.equal(0);
    const prefixes = [...new Set(logs.stdout.split('\n').map((l) => /^\[[^\]]*\]?\S*/.exec(l)?.[0]).filter(Boolean))];
    expect(prefixes).to.deep.equal([
      '[mapped/deliveries/backfill__2024-01-01T00:00:00+00:00#1]',
      '[mapped/deliveries[0]/backfill__2024-01-01T00:00:00+00:00#1]',
      '[mapped/deliveries[1]/backfill__2024-01-01T00:00:00+00:00#1]',
      '[mapped/deliveries[2]/backfill__2024-01-01T00:00:00+00:00#1]',
    ]);
    expect(logs.stdout).to.include('expanded into 3 mapped instance(s)');
    expect(logs.stdout).to.match(/attempt 1 of mapped\.deliveries \[1: PARIS\]/);
  });

  it('names a failed mapped instance by its index and label when a backfill fails, and fails only that one', async () => {
    const r = await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-01', '--dag', 'mapped'], env({ DT_CITIES: 'berlin,fail' }));
    expect(r.code).to.equal(1);
    expect(r.stdout).to.include("backfill: failed: mapped run backfill__2024-01-01T00:00:00+00:00, task deliveries[1: FAIL]: NonRetryableError: no deliveries for city 'fail'");
    expect(await table(tmp.dir)).to.deep.equal([
      '2024-01-01 cities success ["berlin","fail"]',
      '2024-01-01 deliveries success (list)',
      '2024-01-01 deliveries[0 BERLIN] success 6',
      '2024-01-01 deliveries[1 FAIL] failed',
      '2024-01-01 total upstream_failed',
    ]);
  });

  it('runs the scheduled run of a mapped task in the daemon', async () => {
    const daemon = spawnCli(['start'], env({ DRIVETRAIN_SCHEDULER_TICK: '* * * * * *' }));
    try {
      await waitUntil(
        async () => (await readMetadata<{ state: string }>(tmp.dir, "SELECT state FROM dag_runs WHERE dag_id = 'mapped'")).some((r) => r.state === 'success'),
        'the scheduled run to succeed',
        60_000,
      );
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.done;
    }
    // catchup is off: only the latest completed interval, 2024-01-02.
    expect(await table(tmp.dir)).to.deep.equal([
      '2024-01-02 cities success ["berlin","paris"]',
      '2024-01-02 deliveries success (list)',
      '2024-01-02 deliveries[0 BERLIN] success 6',
      '2024-01-02 deliveries[1 PARIS] success 5',
      '2024-01-02 total success 11',
    ]);
  });

  it('tests a mapped task over the list its upstream stored for that date: its expansion, then one call per value; 1 when one fails', async () => {
    // `tasks test` reads the upstream results the run of its date stored, as in a run.
    expect((await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-01', '--dag', 'mapped'], env())).code).to.equal(0);
    expect((await runCli(['backfill', '--from', '2024-01-02', '--to', '2024-01-02', '--dag', 'mapped'], env({ DT_CITIES: 'fail,rome' }))).code).to.equal(1);
    const before = outLines(tmp.dir).length;
    const ok = await runCli(['tasks', 'test', 'mapped', 'deliveries', '2024-01-01'], env());
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.include('expanded into 2 mapped instance(s)');
    expect(outLines(tmp.dir).slice(before)).to.deep.equal(['2024-01-01 0 BERLIN', '2024-01-01 1 PARIS']);
    const failing = await runCli(['tasks', 'test', 'mapped', 'deliveries', '2024-01-02'], env());
    expect(failing.code).to.equal(1);
    expect(failing.stdout).to.include("no deliveries for city 'fail'");
    // The failing value does not stop the others: rome ran after it.
    expect(outLines(tmp.dir).slice(before + 2)).to.deep.equal(['2024-01-02 0 FAIL', '2024-01-02 1 ROME']);
  });
});
