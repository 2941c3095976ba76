import { expect } from 'chai';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Daemon } from '../../scheduler/daemon.js';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { serveConsole, TOKEN } from '../web/consoleSetup.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';
import { REPO_ROOT, cliEnv, metricsOf, outLines, runCli, spawnCli, waitUntil as waitWithDeadline, type CliProcess } from './harness.js';


/** The task instances of the `slow` fixture DAG, read from the daemon's metadata file. */
async function slowInstances(dir: string) {
  const db = await MetadataDb.open(path.join(dir, 'home', 'metadata.db'));
  try {
    return await db.read((sql) =>
      sql.all<{ run_id: string; state: string; try_number: number; last_error: string | null }>(
        "SELECT run_id, state, try_number, last_error FROM task_instances WHERE dag_id = 'slow'",
      ),
    );
  } finally {
    await db.close();
  }
}

/**
 * Waits for `check` with no deadline of its own: a daemon's start took more than 15 s with the machine
 * under a load of 20, so only the test's timeout ends a wait for something that never comes.
 */
const waitUntil = (check: () => boolean | Promise<boolean>, what: string) => waitWithDeadline(check, what, Number.POSITIVE_INFINITY);

describe('drivetrain start (daemon)', function () {
  this.timeout(180_000);
  const tmp = useTmpDir('drivetrain-daemon-');

  const env = (extra: Record<string, string> = {}) =>
    cliEnv(tmp.dir, 'crash', { DRIVETRAIN_NOW: '2024-01-03T06:00:00Z', DRIVETRAIN_SCHEDULER_TICK: '* * * * * *', ...extra });

  it('re-runs a task exactly once after the daemon is killed with SIGKILL mid-task', async () => {
    const first = spawnCli(['start'], env({ DT_FIXTURE_HOLD_MS: '60000' }));
    await waitUntil(() => outLines(tmp.dir).includes('start 2024-01-02 try=1'), 'the first attempt to start');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).to.equal('SIGKILL');
    expect((await slowInstances(tmp.dir))[0]).to.include({ state: 'running', try_number: 1 });

    const second = spawnCli(['start'], env({ DT_FIXTURE_HOLD_MS: '60000', DRIVETRAIN_SHUTDOWN_GRACE_MS: '100' }));
    await waitUntil(() => outLines(tmp.dir).includes('done 2024-01-02 try=2'), 'the retry to finish');
    await waitUntil(async () => (await slowInstances(tmp.dir))[0]?.state === 'success', 'the instance to be recorded success');
    // A later run claimed by the same daemon: the turns that would have claimed the instance a second
    // time have passed by then.
    const triggered = await runCli(['dags', 'trigger', 'slow', '--date', '2024-01-01'], env());
    expect(triggered.code, triggered.stderr).to.equal(0);
    await waitUntil(() => outLines(tmp.dir).includes('start 2024-01-01 try=1'), 'the later run to start');
    second.child.kill('SIGTERM');
    const stopped = await second.done;
    expect(stopped.code).to.equal(0);
    expect(outLines(tmp.dir)).to.deep.equal(['start 2024-01-02 try=1', 'start 2024-01-02 try=2', 'done 2024-01-02 try=2', 'start 2024-01-01 try=1']);
    const ti = (await slowInstances(tmp.dir)).find((t) => t.run_id.includes('2024-01-02'));
    expect(ti).to.include({ state: 'success', try_number: 2 });
    expect(second.stdout()).to.contain('recovered a lost task instance');
  });

  it('on SIGTERM gives a running task the grace period, then records it up_for_retry and exits 0', async () => {
    const daemon = spawnCli(['start'], env({ DT_FIXTURE_HOLD_MS: '60000', DRIVETRAIN_SHUTDOWN_GRACE_MS: '300' }));
    await waitUntil(() => outLines(tmp.dir).includes('start 2024-01-02 try=1'), 'the attempt to start');
    const t0 = Date.now();
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    expect(result.code).to.equal(0);
    expect(Date.now() - t0).to.be.at.least(300);
    const [ti] = await slowInstances(tmp.dir);
    expect(ti).to.include({ state: 'up_for_retry', try_number: 1 });
    expect(ti.last_error).to.contain('ShutdownError');
    expect(outLines(tmp.dir)).to.not.include('done 2024-01-02 try=1');
  });

  it('lets a task that finishes within the grace period succeed on SIGTERM', async () => {
    const daemon = spawnCli(['start'], env({ DT_FIXTURE_HOLD_MS: '700', DRIVETRAIN_SHUTDOWN_GRACE_MS: '5000' }));
    await waitUntil(() => outLines(tmp.dir).includes('start 2024-01-02 try=1'), 'the attempt to start');
    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).to.equal(0);
    expect(outLines(tmp.dir)).to.include('done 2024-01-02 try=1');
    expect((await slowInstances(tmp.dir))[0]).to.include({ state: 'success', try_number: 1 });
  });

  it('creates the missed scheduled runs with catchup on and runs them in logical-date order', async () => {
    const e = cliEnv(tmp.dir, 'backfill', { DRIVETRAIN_NOW: '2024-01-04T01:00:00Z', DRIVETRAIN_SCHEDULER_TICK: '* * * * * *' });
    const daemon = spawnCli(['start'], e);
    await waitUntil(() => outLines(tmp.dir).length >= 6, 'three runs to finish');
    // The gauges are set at the end of a run-creation tick: a tick that saw the three runs succeed has
    // created whatever it would create, so a fourth run would show by then.
    await waitUntil(async () => /drivetrain_dag_runs\{dag_id="days",state="success"\} 3\b/.test(await metricsOf(daemon)), 'a tick after the three runs');
    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).to.equal(0);
    expect(outLines(tmp.dir)).to.deep.equal(['a 2024-01-01', 'b 2024-01-01', 'a 2024-01-02', 'b 2024-01-02', 'a 2024-01-03', 'b 2024-01-03']);
    const listed = await runCli(['runs', 'list', 'days'], e);
    expect(listed.stdout.match(/scheduled__2024-01-0\dT00:00:00\+00:00\s+scheduled\s+success/g)).to.have.length(3);
    expect(listed.stdout.match(/scheduled__/g), 'no run beyond the three').to.have.length(3);
  });

  it("runs a DAG's tasks after its waitFor sensor has seen the waited-for DAG succeed", async () => {
    const e = cliEnv(tmp.dir, 'waitfor', { DRIVETRAIN_NOW: '2024-01-02T03:00:00Z', DRIVETRAIN_SCHEDULER_TICK: '* * * * * *' });
    const daemon = spawnCli(['start'], e);
    const sensorOf = async () => {
      const db = await MetadataDb.open(path.join(tmp.dir, 'home', 'metadata.db'));
      try {
        return (await db.read((sql) => sql.all<{ state: string | null; try_number: number }>("SELECT state, try_number FROM task_instances WHERE dag_id = 'marts' AND task_id = 'wait_for_snapshot'")))[0];
      } finally {
        await db.close();
      }
    };
    try {
      await waitUntil(() => outLines(tmp.dir).length >= 2, 'both DAGs to run');
      await waitUntil(async () => (await sensorOf())?.state === 'success', 'the sensor to be recorded');
    } finally {
      daemon.child.kill('SIGTERM');
      expect((await daemon.done).code).to.equal(0);
    }
    expect(outLines(tmp.dir)).to.deep.equal(['snapshot 2024-01-01', 'marts 2024-01-01']);
    expect(await sensorOf()).to.deep.equal({ state: 'success', try_number: 1 });
    // The API shows the sensor the waitFor became, and what the root task now depends on.
    const served = await serveConsole(tmp.dir);
    try {
      const dag = (await (await fetch(`${served.url}/api/v1/dags/marts`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        tasks: { task_id: string; upstream: string[]; sensor: unknown }[];
      };
      expect(dag.tasks.find((t) => t.task_id === 'wait_for_snapshot')).to.deep.include({ upstream: [], sensor: { poke_interval_s: 0.2, timeout_s: 604800, soft_fail: false } });
      expect(dag.tasks.find((t) => t.task_id === 'build')).to.deep.include({ upstream: ['wait_for_snapshot'], sensor: null });
    } finally {
      await served.close();
    }
  });

  it('logs a DAG file that fails to import once, and warns about a DAG waiting for one that is not loaded', async () => {
    const dags = path.join(tmp.dir, 'dags');
    mkdirSync(dags, { recursive: true });
    writeFileSync(path.join(dags, 'broken.ts'), 'export default {{{ nope\n');
    writeFileSync(
      path.join(dags, 'waiting.ts'),
      `import { defineDag } from ${JSON.stringify(path.join(REPO_ROOT, 'scheduler', 'dag.ts'))};
export default defineDag({ id: 'waiting', schedule: null, startDate: '2024-01-01', waitFor: ['ingset'], tasks: { t: { run: () => undefined } } });\n`,
    );
    const settings = testSettings(tmp.dir, { DRIVETRAIN_DAGS_DIR: dags, DRIVETRAIN_HTTP_PORT: '0' });
    const log = new RecordingLogger();
    const db = await MetadataDb.open(settings.metadataDb);
    const daemon = new Daemon({ settings, db, log: Object.assign(log, { close: async () => undefined }) });
    try {
      await daemon.start();
    } finally {
      await daemon.stop();
      await db.close();
    }
    const errors = log.at('error');
    expect(errors, log.text('error')).to.have.length(1);
    expect(JSON.stringify(errors[0])).to.contain('broken.ts');
    // A DAG waiting for one that is not loaded would otherwise hold its tasks back until the sensors' timeout without a word.
    expect(log.find('DAG waits for DAGs that are not loaded', 'warn')).to.deep.equal([
      { level: 'warn', message: 'DAG waits for DAGs that are not loaded: its waitFor sensors will time out', meta: { dagId: 'waiting', missing: ['ingset'] } },
    ]);
  });

  it('exits 2 naming the variable when a setting is malformed', async () => {
    const result = await runCli(['start'], env({ DRIVETRAIN_PARALLELISM: 'lots' }));
    expect(result.code).to.equal(2);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.contain('DRIVETRAIN_PARALLELISM').and.contain("'lots'");
  });
});
