import { expect } from 'chai';
import path from 'node:path';
import { runBackfill } from '../../scheduler/backfill.js';
import { fixedClock } from '../../scheduler/clock.js';
import { defineDag } from '../../scheduler/dag.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { useTmpDir } from '../helpers/tmp.js';
import { cliEnv, openHarness, outLines, runCli, spawnCli, waitUntil } from './harness.js';

/** Runs of a DAG with their type and state, oldest first. */
async function runsOf(dir: string, dagId: string) {
  const db = await MetadataDb.open(path.join(dir, 'home', 'metadata.db'));
  try {
    return await db.read((sql) =>
      sql.all<{ run_id: string; run_type: string; state: string }>(
        'SELECT run_id, run_type, state FROM dag_runs WHERE dag_id = ? ORDER BY logical_date',
        [dagId],
      ),
    );
  } finally {
    await db.close();
  }
}

/** How many times each line occurs. */
const counts = (lines: readonly string[]) => lines.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());

const DAYS = Array.from({ length: 8 }, (_, i) => `2024-01-0${i + 1}`.replace(/0(\d\d)$/, '$1'));
const EXPECTED = DAYS.flatMap((d) => [`a ${d}`, `b ${d}`]);

describe('drivetrain backfill', function () {
  this.timeout(60_000);
  const tmp = useTmpDir('drivetrain-backfill-');

  const env = (extra: Record<string, string> = {}) => cliEnv(tmp.dir, 'backfill', { DRIVETRAIN_NOW: '2024-01-09T03:00:00Z', ...extra });

  it('runs every interval up to the last completed one in date order, records backfill runs, and does no new work the second time', async () => {
    const first = await runCli(['backfill', '--from', '2024-01-01'], env());
    expect(first.code, first.stderr).to.equal(0);
    expect(outLines(tmp.dir)).to.deep.equal(EXPECTED);
    expect(first.stdout).to.match(/days\s+2024-01-01\s+2024-01-08\s+8\s+0\s+8\s+0\s+0/);
    const runs = await runsOf(tmp.dir, 'days');
    expect(runs.map((r) => `${r.run_type} ${r.state}`)).to.deep.equal(Array(8).fill('backfill success'));
    expect(runs[0].run_id).to.equal('backfill__2024-01-01T00:00:00+00:00');

    const second = await runCli(['backfill', '--from', '2024-01-01', '--dag', 'days'], env());
    expect(second.code).to.equal(0);
    expect(outLines(tmp.dir)).to.have.length(EXPECTED.length);
    expect(second.stdout).to.match(/days\s+2024-01-01\s+2024-01-08\s+8\s+8\s+0\s+0\s+0/);

    const listed = await runCli(['runs', 'list', 'days'], env());
    expect(listed.stdout.match(/backfill__/g)).to.have.length(8);

    const reset = await runCli(['backfill', '--from', '2024-01-07', '--to', '2024-01-08', '--reset'], env());
    expect(reset.code).to.equal(0);
    expect(outLines(tmp.dir).slice(EXPECTED.length)).to.deep.equal(['a 2024-01-07', 'b 2024-01-07', 'a 2024-01-08', 'b 2024-01-08']);
  });

  it('continues where it stopped after SIGINT, running nothing twice', async () => {
    const slow = env({ DT_FIXTURE_SLEEP_MS: '150' });
    const first = spawnCli(['backfill', '--from', '2024-01-01'], slow);
    await waitUntil(() => outLines(tmp.dir).length >= 4, 'some runs to finish');
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).to.equal(1);
    const before = outLines(tmp.dir).length;
    expect(before).to.be.lessThan(EXPECTED.length);
    const states = (await runsOf(tmp.dir, 'days')).map((r) => r.state);
    expect(states).to.include('success');
    expect(states.some((s) => s !== 'success')).to.equal(true);
    // The stopped backfill released its unfinished runs: left 'running', they would hold the daemon's
    // max-active-runs slots until the next backfill.
    expect(states).to.not.include('running');

    const resumed = await runCli(['backfill', '--from', '2024-01-01'], env());
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect([...counts(outLines(tmp.dir)).values()].every((n) => n === 1)).to.equal(true);
    expect(new Set(outLines(tmp.dir))).to.deep.equal(new Set(EXPECTED));
  });

  it('recovers the attempt of a backfill killed with SIGKILL and completes on the next run', async () => {
    const first = spawnCli(['backfill', '--from', '2024-01-01'], env({ DT_FIXTURE_SLEEP_MS: '150' }));
    await waitUntil(() => outLines(tmp.dir).length >= 3, 'some tasks to finish');
    first.child.kill('SIGKILL');
    await first.done;
    const resumed = await runCli(['backfill', '--from', '2024-01-01'], env());
    expect(resumed.code, resumed.stderr).to.equal(0);
    const lines = outLines(tmp.dir);
    expect(new Set(lines)).to.deep.equal(new Set(EXPECTED));
    // Only the attempt in flight at the kill can have written its line before its success was recorded.
    expect(lines.length).to.be.at.most(EXPECTED.length + 1);
    expect((await runsOf(tmp.dir, 'days')).every((r) => r.state === 'success')).to.equal(true);
  });

  it('runs each task instance exactly once when two backfills race over the same range', async () => {
    const e = env({ DT_FIXTURE_SLEEP_MS: '20' });
    const [one, two] = await Promise.all([
      runCli(['backfill', '--from', '2024-01-01'], e),
      runCli(['backfill', '--from', '2024-01-01'], e),
    ]);
    expect(one.code, one.stderr).to.equal(0);
    expect(two.code, two.stderr).to.equal(0);
    const lines = outLines(tmp.dir);
    expect(lines).to.have.length(EXPECTED.length);
    expect(new Set(lines)).to.deep.equal(new Set(EXPECTED));
  });

  it('runs the waited-for DAG once, for its last completed interval, before the runs that wait for it', async () => {
    const e = cliEnv(tmp.dir, 'waitfor', { DRIVETRAIN_NOW: '2024-01-04T03:00:00Z' });
    const result = await runCli(['backfill', '--from', '2024-01-01', '--dag', 'marts'], e);
    expect(result.code, result.stderr).to.equal(0);
    expect(outLines(tmp.dir)).to.deep.equal(['snapshot 2024-01-03', 'marts 2024-01-01', 'marts 2024-01-02', 'marts 2024-01-03']);
    const again = await runCli(['backfill', '--from', '2024-01-01', '--dag', 'marts'], e);
    expect(again.code).to.equal(0);
    expect(outLines(tmp.dir)).to.have.length(4);
  });

  it('summarises the waited-for DAG\'s run too, and names each failed run, its task and its last error line, redacted', async () => {
    const e = cliEnv(tmp.dir, 'waitfor', { DRIVETRAIN_NOW: '2024-01-04T03:00:00Z', DT_FIXTURE_FAIL_DS: '2024-01-02' });
    const result = await runCli(['backfill', '--from', '2024-01-01', '--dag', 'marts'], e);
    expect(result.code).to.equal(1);
    expect(result.stdout).to.match(/snapshot \(waited for\)\s+2024-01-03\s+2024-01-03\s+1\s+0\s+1\s+0\s+0\n/);
    expect(result.stdout).to.match(/\nmarts\s+2024-01-01\s+2024-01-03\s+3\s+0\s+2\s+1\s+0\n/);
    expect(result.stdout).to.contain(
      'backfill: failed: marts run backfill__2024-01-02T00:00:00+00:00, task build: NonRetryableError: GET http://etl:***@warehouse.example/ refused 2024-01-02\n',
    );
    expect(result.stdout).not.to.contain('pw-s3cret');
    expect(result.stdout).not.to.contain('second line of the error');
  });

  it('exits 1 when a run fails, and the next backfill re-runs only the failed run', async () => {
    const failing = await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-03'], env({ DT_FIXTURE_FAIL_DS: '2024-01-02' }));
    expect(failing.code).to.equal(1);
    expect(failing.stdout).to.match(/days\s+2024-01-01\s+2024-01-03\s+3\s+0\s+2\s+1\s+0/);
    expect((await runsOf(tmp.dir, 'days')).map((r) => r.state)).to.deep.equal(['success', 'failed', 'success']);
    const fixed = await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-03'], env());
    expect(fixed.code, fixed.stderr).to.equal(0);
    expect(outLines(tmp.dir)).to.deep.equal(['a 2024-01-01', 'b 2024-01-01', 'a 2024-01-02', 'a 2024-01-03', 'b 2024-01-03', 'b 2024-01-02']);
  });

  it('exits 2 for an unknown DAG, a malformed date or --to before --from, quoting them', async () => {
    const unknown = await runCli(['backfill', '--from', '2024-01-01', '--dag', 'nope'], env());
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("unknown DAG 'nope'");
    const badDate = await runCli(['backfill', '--from', '2024-13-45'], env());
    expect(badDate.code).to.equal(2);
    expect(badDate.stderr).to.contain("'2024-13-45'");
    const reversed = await runCli(['backfill', '--from', '2024-01-05', '--to', '2024-01-02'], env());
    expect(reversed.code).to.equal(2);
    expect(reversed.stderr).to.contain("'2024-01-02'").and.contain("'2024-01-05'");
  });
});

describe('runBackfill', () => {
  it('refuses a DAG waiting for an unknown DAG before running anything, naming both', async () => {
    const h = await openHarness();
    try {
      const ran: string[] = [];
      const ok = defineDag({ id: 'ingest', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: (ctx) => void ran.push(ctx.ds) } } });
      const typo = defineDag({ id: 'marts', schedule: '@daily', startDate: '2024-01-01', waitFor: ['ingest', 'ingset'], tasks: { t: { run: () => undefined } } });
      const run = runBackfill({
        db: h.db,
        settings: h.settings,
        clock: fixedClock(new Date('2024-01-03T00:00:00Z')),
        log: h.log,
        dags: new Map([[ok.id, ok], [typo.id, typo]]),
        dagIds: ['marts'],
        from: new Date('2024-01-01T00:00:00Z'),
        reset: false,
      });
      const err = await run.then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(UsageError);
      expect((err as Error).message).to.equal("DAG 'marts' waits for unknown DAG 'ingset' (see 'drivetrain dags list')");
      expect(ran).to.deep.equal([]);
    } finally {
      await h.close();
    }
  });

  it('refuses a range the waited-for DAG cannot reach, instead of waiting for ever', async () => {
    const h = await openHarness();
    try {
      // Manual only and never run: nothing the marts runs wait for will ever exist unless someone runs it.
      const ingest = defineDag({ id: 'ingest', schedule: null, startDate: '2024-01-01', tasks: { t: { run: () => undefined } } });
      const marts = defineDag({ id: 'marts', schedule: '@daily', startDate: '2024-01-01', waitFor: ['ingest'], tasks: { t: { run: () => undefined } } });
      const err = await runBackfill({
        db: h.db,
        settings: h.settings,
        clock: fixedClock(new Date('2024-01-03T05:00:00Z')),
        log: h.log,
        dags: new Map([[ingest.id, ingest], [marts.id, marts]]),
        dagIds: ['marts'],
        from: new Date('2024-01-01T00:00:00Z'),
        reset: false,
      }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(UsageError);
      expect((err as Error).message).to.equal(
        "DAG 'marts' waits for 'ingest', which has no data yet; its run of 2024-01-02 needs 'ingest' up to 2024-01-03T00:00:00.000Z (run 'ingest' that far first, or use an earlier --to)",
      );
    } finally {
      await h.close();
    }
  });

  it('stops at the last completed interval even when --to lies in the future', async () => {
    const h = await openHarness();
    try {
      const ran: string[] = [];
      const daily = defineDag({ id: 'daily', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: (ctx) => void ran.push(ctx.ds) } } });
      const result = await runBackfill({
        db: h.db,
        settings: h.settings,
        clock: fixedClock(new Date('2024-01-03T05:00:00Z')),
        log: h.log,
        dags: new Map([[daily.id, daily]]),
        from: new Date('2024-01-01T00:00:00Z'),
        to: new Date('2024-01-10T00:00:00Z'),
        reset: false,
      });
      // 2024-01-03 has not ended: its run would read an incomplete day and take the daemon's date.
      expect(ran).to.deep.equal(['2024-01-01', '2024-01-02']);
      expect(result.ok).to.equal(true);
      expect(result.rows[0]).to.include({ dagId: 'daily', to: '2024-01-02', runs: 2 });
    } finally {
      await h.close();
    }
  });
});
