import { expect } from 'chai';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineDag, sensor } from '../../scheduler/dag.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { TaskContext } from '../../scheduler/interfaces.js';
import { attemptLogPath } from '../../scheduler/logging.js';
import { taskAttemptsCounter } from '../../scheduler/metrics.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { Executor } from '../../scheduler/executor.js';
import { openHarness, waitUntil, type Harness } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Counts tasks running at once. The first `limit` tasks hold until `limit` run together, so the limit
 * is reached however slow the machine is (a scheduler that never starts that many leaves them waiting,
 * and the test times out); every task then holds a little longer, so one started beyond the limit
 * shows in `max`.
 */
function gauge(limit: number) {
  let now = 0;
  let max = 0;
  let started = 0;
  let release!: () => void;
  const full = new Promise<void>((resolve) => (release = resolve));
  return {
    async around(ms: number) {
      started += 1;
      now += 1;
      max = Math.max(max, now);
      if (now >= limit) release();
      if (started <= limit) await full;
      await sleep(ms);
      now -= 1;
    },
    get max() {
      return max;
    },
  };
}

forEachMetadataEngine('executor', (engine) => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('runs tasks after their upstream, each once, and the run succeeds', async () => {
    h = await openHarness(engine.env());
    const order: string[] = [];
    const rec = (ctx: TaskContext) => void order.push(`${ctx.ds}:${ctx.taskId}`);
    const dag = defineDag({
      id: 'deps',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { extract: { run: rec }, left: { run: rec, upstream: ['extract'] }, right: { run: rec, upstream: ['extract'] }, join: { run: rec, upstream: ['left', 'right'] } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-02');
    await h.drain([dag]);
    expect(order).to.have.length(8);
    for (const ds of ['2024-01-01', '2024-01-02']) {
      const pos = (t: string) => order.indexOf(`${ds}:${t}`);
      expect(pos('extract')).to.be.lessThan(pos('left')).and.lessThan(pos('right'));
      expect(pos('join')).to.be.greaterThan(pos('left')).and.greaterThan(pos('right'));
    }
    // One run at a time (maxActiveRuns 1): the first day finishes before the second starts.
    expect(order.indexOf('2024-01-01:join')).to.be.lessThan(order.indexOf('2024-01-02:extract'));
    expect((await h.runs('deps')).map((r) => r.state)).to.deep.equal(['success', 'success']);
    expect(existsSync(attemptLogPath(h.settings.logDir, { dagId: 'deps', runId: 'backfill__2024-01-01T00:00:00+00:00', taskId: 'join', attempt: 1 }))).to.equal(true);
  });

  it('still runs a task whose attempt log cannot be written, and says so in the scheduler log', async () => {
    // The log directory is a plain file, so no attempt log directory can be created under it.
    const tmp = makeTmpDir('drivetrain-nolog-');
    try {
      const notADir = path.join(tmp.dir, 'logs');
      writeFileSync(notADir, 'x');
      h = await openHarness({ ...engine.env(), DRIVETRAIN_LOG_DIR: notADir });
      let ran = 0;
      const dag = defineDag({ id: 'nolog', schedule: '@daily', startDate: '2024-01-01', tasks: { only: { run: (ctx) => { ctx.log.info('hello'); ran += 1; } } } });
      await h.addRuns(dag, '2024-01-01', '2024-01-01');
      await h.drain([dag]);
      expect(ran).to.equal(1);
      expect((await h.runs('nolog'))[0].state).to.equal('success');
      const [failure] = h.log.find('attempt log write failed', 'error');
      expect(failure, h.log.text()).to.not.equal(undefined);
      expect(failure.meta).to.include({ taskId: 'only' });
      expect(String(failure.meta?.file)).to.contain(notADir);
    } finally {
      tmp.cleanup();
    }
  });

  it('re-queues the running backfill runs of a dead backfill, so they no longer block the daemon\'s runs', async () => {
    h = await openHarness(engine.env());
    const ran: string[] = [];
    const dag = defineDag({ id: 'orphans', schedule: '@daily', startDate: '2024-01-01', maxActiveRuns: 2, tasks: { only: { run: (ctx) => void ran.push(ctx.ds) } } });
    await h.addRuns(dag, '2024-01-01', '2024-01-02', 'backfill');
    await h.addRuns(dag, '2024-01-03', '2024-01-03', 'scheduled');
    // What a backfill killed with SIGKILL leaves: its runs running, one instance mid-attempt, its process gone.
    const dead = `${os.hostname()}:2147483646:deadbeef`;
    await h.db.tx(async (sql) => {
      await sql.run("UPDATE dag_runs SET state = 'running', owner = ? WHERE run_type = 'backfill'", [dead]);
      await sql.run(
        `INSERT INTO task_instances (run_pk, dag_id, run_id, task_id, state, try_number, max_tries, lease_owner, lease_expires_at)
         SELECT id, dag_id, run_id, 'only', 'running', 1, 3, ?, ? FROM dag_runs WHERE run_type = 'backfill'`,
        [dead, Date.now() + 60_000],
      );
    });
    // The daemon's scope: scheduled and manual runs only.
    await h.drain([dag], { runTypes: ['scheduled', 'manual'] });
    expect(ran).to.deep.equal(['2024-01-03']);
    expect((await h.runs('orphans')).map((r) => r.state)).to.deep.equal(['queued', 'queued', 'success']);
    expect(h.log.find('re-queued a backfill run of a dead backfill')).to.have.length(2);
  });

  it('waits a poll interval after a failed tick instead of retrying it at once, and keeps its finished attempts', async () => {
    h = await openHarness(engine.env());
    const dag = defineDag({ id: 'flaky', schedule: '@daily', startDate: '2024-01-01', tasks: { only: { run: () => undefined } } });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    let finished = false;
    const failedAt: number[] = [];
    const executor = new Executor({
      db: h.db,
      settings: h.settings,
      log: h.log,
      pollMs: 50,
      // Once the attempt has finished, every turn fails (as a metadata write failing fast would).
      dags: () => {
        if (!finished) return new Map([[dag.id, dag]]);
        failedAt.push(performance.now());
        throw new Error('DAG bag unavailable');
      },
      scope: { runTypes: ['backfill'], respectPause: false, batching: false },
    });
    executor.onAttemptDone = () => (finished = true);
    await executor.start();
    await waitUntil(() => failedAt.length >= 5, 'five failed turns');
    await executor.stop(0);
    // Four poll intervals at least between the first and the fifth; a loop that retries a failed turn
    // at once makes the five within a few milliseconds.
    expect(failedAt[4] - failedAt[0]).to.be.at.least(4 * 50 * 0.9);
    // The finished attempt was kept through the failed turns and written by the stop.
    expect((await h.tis('flaky'))[0]).to.include({ state: 'success', try_number: 1 });
  });

  it("holds a run's tasks back, by its waitFor sensor, until the DAG it waits for has a successful run reaching its interval end", async () => {
    h = await openHarness(engine.env());
    const ran: string[] = [];
    const task = (name: string) => ({ run: (ctx: TaskContext) => void ran.push(`${name} ${ctx.ds}`) });
    const up = defineDag({ id: 'up', schedule: '@daily', startDate: '2024-01-01', tasks: { t: task('up') } });
    const down = defineDag({ id: 'down', schedule: '@daily', startDate: '2024-01-01', waitFor: ['up'], waitForSensor: { pokeIntervalS: 0.05 }, tasks: { t: task('down') } });
    const other = defineDag({ id: 'other', schedule: '@daily', startDate: '2024-01-01', tasks: { t: task('other') } });
    await h.addRuns(down, '2024-01-01', '2024-01-01');
    await h.addRuns(other, '2024-01-01', '2024-01-01');
    const executor = h.executor([up, down, other]);
    await executor.start();
    const stateOf = async (taskId: string) => (await h.tis('down')).find((t) => t.task_id === taskId)?.state;
    try {
      // The waitFor is a sensor task of the run: it has poked and said no, and the run's own task waits.
      await waitUntil(async () => (await stateOf('wait_for_up')) === 'up_for_reschedule', 'the waitFor sensor to say no');
      await waitUntil(async () => (await h.runs('other'))[0].state === 'success', "the other DAG's run");
      expect(await stateOf('t')).to.equal(null);
      expect(ran).to.deep.equal(['other 2024-01-01']);
      await h.addRuns(up, '2024-01-01', '2024-01-01');
      executor.wake();
      await waitUntil(async () => (await h.runs('down'))[0].state === 'success', "the waiting DAG's run");
    } finally {
      await executor.stop(0);
    }
    expect(ran).to.deep.equal(['other 2024-01-01', 'up 2024-01-01', 'down 2024-01-01']);
    // Pokes are not tries: the sensor succeeded as its first try, however many times it poked.
    expect((await h.tis('down')).find((t) => t.task_id === 'wait_for_up')).to.include({ state: 'success', try_number: 1 });
  });

  it('aborts an attempt whose instance another process has taken over, and does not record its result', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_HEARTBEAT_S: '0.05' });
    let abortedWith: unknown;
    const dag = defineDag({
      id: 'taken',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        hold: {
          run: (ctx) =>
            new Promise<void>((_, reject) =>
              ctx.signal.addEventListener('abort', () => {
                abortedWith = ctx.signal.reason;
                reject(ctx.signal.reason as Error);
              }),
            ),
        },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    const executor = h.executor([dag]);
    await executor.start();
    const state = async () => (await h.db.read((sql) => sql.all<{ state: string; lease_owner: string | null }>('SELECT state, lease_owner FROM task_instances')))[0];
    await waitUntil(async () => (await state())?.state === 'running', 'the attempt to start');
    // What recovery and a new claim in another process do once this one failed to renew in time.
    const other = 'elsewhere:1:cafe';
    await h.db.tx((sql) => sql.run("UPDATE task_instances SET lease_owner = ?, try_number = try_number + 1", [other]));
    await waitUntil(() => abortedWith !== undefined, 'the attempt to be aborted');
    await executor.stop(0);
    expect((abortedWith as Error).name).to.equal('LeaseLostError');
    expect((abortedWith as Error).message).to.contain(other);
    // The other process's claim stands: this one's failure was not recorded over it.
    expect(await state()).to.deep.equal({ state: 'running', lease_owner: other });
    expect(h.log.has('lease lost', 'warn')).to.equal(true);
  });

  it('recovers at once an instance held by an earlier process with this host and pid (a restarted container)', async () => {
    h = await openHarness(engine.env());
    const ran: number[] = [];
    const dag = defineDag({ id: 'reborn', schedule: '@daily', startDate: '2024-01-01', tasks: { only: { run: (ctx) => void ran.push(ctx.tryNumber) } } });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    // Same hostname and pid as this process, another start: its lease has not expired yet.
    const earlier = `${os.hostname()}:${process.pid}:0ldst4rt`;
    await h.db.tx(async (sql) => {
      await sql.run("UPDATE dag_runs SET state = 'running'");
      await sql.run(
        `INSERT INTO task_instances (run_pk, dag_id, run_id, task_id, state, try_number, max_tries, lease_owner, lease_expires_at)
         SELECT id, dag_id, run_id, 'only', 'running', 1, 3, ?, ? FROM dag_runs`,
        [earlier, Date.now() + 3_600_000],
      );
    });
    await h.drain([dag]);
    expect(ran).to.deep.equal([2]);
    expect(h.log.has((l) => l.message.includes('recovered a lost task instance') && JSON.stringify(l.meta ?? {}).includes('0ldst4rt'))).to.equal(true);
  });

  it('marks the downstream of a failed task upstream_failed and fails the run (all_success)', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_TASK_RETRIES: '0' });
    const ran: string[] = [];
    const dag = defineDag({
      id: 'rule',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        ok: { run: () => void ran.push('ok') },
        boom: { run: () => { ran.push('boom'); throw new Error('disk full'); } },
        after: { run: () => void ran.push('after'), upstream: ['ok', 'boom'] },
        later: { run: () => void ran.push('later'), upstream: ['after'] },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const states = Object.fromEntries((await h.tis('rule')).map((t) => [t.task_id, t.state]));
    expect(states).to.deep.equal({ ok: 'success', boom: 'failed', after: 'upstream_failed', later: 'upstream_failed' });
    expect(ran).to.not.include('after');
    expect((await h.runs('rule'))[0].state).to.equal('failed');
    const boom = (await h.tis('rule')).find((t) => t.task_id === 'boom')!;
    expect(boom.last_error).to.contain('disk full');
  });

  it('retries with doubling delays recorded as up_for_retry, then succeeds', async () => {
    h = await openHarness(engine.env());
    const at: number[] = [];
    const dag = defineDag({
      id: 'retry',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        flaky: {
          retries: 3,
          retryDelayS: 0.2,
          run: (ctx) => {
            at.push(Date.now());
            if (ctx.tryNumber < 3) throw new Error(`try ${ctx.tryNumber} failed`);
          },
        },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    const states: string[] = [];
    const draining = h.drain([dag]);
    // Observe the metadata between attempts: the retry is a recorded state with its due time.
    while (at.length < 3) {
      const [ti] = await h.tis('retry');
      if (ti?.state === 'up_for_retry') {
        expect(ti.next_retry_at).to.be.a('number');
        states.push(`${ti.state}@${ti.try_number}`);
      }
      await sleep(20);
    }
    await draining;
    const [ti] = await h.tis('retry');
    expect(ti).to.include({ state: 'success', try_number: 3 });
    expect(states).to.include('up_for_retry@1').and.to.include('up_for_retry@2');
    // Delay 0.2 s then 0.4 s, each with at most 20% jitter either way.
    expect(at[1] - at[0]).to.be.at.least(160);
    expect(at[2] - at[1]).to.be.at.least(320);
  });

  it('fails a NonRetryableError at once, without using its retries', async () => {
    h = await openHarness(engine.env());
    let calls = 0;
    const dag = defineDag({
      id: 'fatal',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { bad: { retries: 5, retryDelayS: 0.01, run: () => { calls += 1; throw new NonRetryableError('row 7 is malformed'); } } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const [ti] = await h.tis('fatal');
    expect(calls).to.equal(1);
    expect(ti).to.include({ state: 'failed', try_number: 1 });
    expect(ti.last_error).to.contain('NonRetryableError: row 7 is malformed');
  });

  it('stores a failed attempt\'s error in last_error with the passwords of the URLs it quotes redacted', async () => {
    h = await openHarness(engine.env());
    const dag = defineDag({
      id: 'leaky',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { fetch: { run: () => { throw new NonRetryableError('GET http://etl:s3cr3t-pw@source.example/v1/cars answered 503'); } } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const [ti] = await h.tis('leaky');
    expect(ti.last_error).to.contain('http://etl:***@source.example/v1/cars answered 503');
    expect(ti.last_error).not.to.contain('s3cr3t-pw');
  });

  it('fails a task that never returns at the default timeout of DRIVETRAIN_TASK_TIMEOUT_S', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_TASK_RETRIES: '0', DRIVETRAIN_TASK_TIMEOUT_S: '1' });
    const dag = defineDag({ id: 'hung', schedule: '@daily', startDate: '2024-01-01', tasks: { forever: { run: () => new Promise<never>(() => {}) } } });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const [ti] = await h.tis('hung');
    expect(ti).to.include({ state: 'failed', try_number: 1 });
    expect(ti.last_error).to.contain('TaskTimeoutError');
  });

  it('aborts an attempt at its timeout and fails it with TaskTimeoutError', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_TASK_RETRIES: '0' });
    let aborted = false;
    const dag = defineDag({
      id: 'slow',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        hang: {
          timeoutS: 0.1,
          run: (ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener('abort', () => (aborted = true));
              setTimeout(resolve, 5000).unref();
            }),
        },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    const [ti] = await h.tis('slow');
    expect(aborted).to.equal(true);
    expect(ti.state).to.equal('failed');
    expect(ti.last_error).to.contain('TaskTimeoutError');
  });

  it('never runs more task instances at once than the global parallelism', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_PARALLELISM: '2' });
    const g = gauge(2);
    const tasks = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`t${i}`, { run: () => g.around(40) }]));
    const dag = defineDag({ id: 'wide', schedule: '@daily', startDate: '2024-01-01', maxActiveTasks: 16, tasks });
    await h.addRuns(dag, '2024-01-01', '2024-01-02');
    await h.drain([dag]);
    expect(g.max).to.equal(2);
    expect((await h.tis('wide')).every((t) => t.state === 'success')).to.equal(true);
  });

  it("never runs more of a DAG's task instances at once than its maxActiveTasks", async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_PARALLELISM: '8' });
    const g = gauge(3);
    const tasks = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`t${i}`, { run: () => g.around(40) }]));
    const dag = defineDag({ id: 'capped', schedule: '@daily', startDate: '2024-01-01', maxActiveTasks: 3, maxActiveRuns: 2, tasks });
    await h.addRuns(dag, '2024-01-01', '2024-01-02');
    await h.drain([dag]);
    expect(g.max).to.equal(3);
  });

  it('keeps at most maxActiveRuns runs active and starts them in logical-date order', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_PARALLELISM: '8' });
    const active = new Set<string>();
    let maxRuns = 0;
    const firstStart: string[] = [];
    // The first run's first task holds until a second run is active, so two runs overlap whatever the
    // machine's speed; a third run started beside them shows in maxRuns.
    let second!: () => void;
    const twoActive = new Promise<void>((resolve) => (second = resolve));
    const work = async (ctx: TaskContext) => {
      if (!firstStart.includes(ctx.ds)) firstStart.push(ctx.ds);
      active.add(ctx.ds);
      maxRuns = Math.max(maxRuns, active.size);
      if (active.size >= 2) second();
      if (ctx.ds === '2024-01-01' && ctx.taskId === 'a') await twoActive;
      await sleep(30);
      if (ctx.taskId === 'b') active.delete(ctx.ds);
    };
    const dag = defineDag({
      id: 'runs',
      schedule: '@daily',
      startDate: '2024-01-01',
      maxActiveRuns: 2,
      tasks: { a: { run: work }, b: { run: work, upstream: ['a'] } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-06');
    await h.drain([dag]);
    expect(maxRuns).to.equal(2);
    expect(firstStart).to.deep.equal([...firstStart].sort());
    expect((await h.runs('runs')).every((r) => r.state === 'success')).to.equal(true);
  });

  it('gives a batch task one call for many consecutive backfill intervals, and every instance its log', async () => {
    h = await openHarness(engine.env());
    const calls: string[] = [];
    const perDay: string[] = [];
    const dag = defineDag({
      id: 'batched',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        load: {
          batch: true,
          run: (ctx) => {
            calls.push(`${ctx.intervals.length} ${ctx.ds} ${ctx.dataIntervalEnd.toISOString().slice(0, 10)}`);
            ctx.log.info('loaded', { days: ctx.intervals.length });
          },
        },
        report: { run: (ctx) => void perDay.push(ctx.ds), upstream: ['load'] },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-10');
    await h.drain([dag], { batching: true });
    expect(calls).to.deep.equal(['10 2024-01-01 2024-01-11']);
    expect(perDay).to.deep.equal([...perDay].sort()).and.to.have.length(10);
    const tis = await h.tis('batched');
    expect(tis.every((t) => t.state === 'success')).to.equal(true);
    for (const t of tis.filter((x) => x.task_id === 'load')) {
      expect(existsSync(attemptLogPath(h.settings.logDir, { dagId: 'batched', runId: t.run_id, taskId: 'load', attempt: 1 }))).to.equal(true);
    }
  });

  it('does not batch outside backfill runs', async () => {
    h = await openHarness(engine.env());
    const calls: number[] = [];
    const dag = defineDag({
      id: 'nobatch',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { load: { batch: true, run: (ctx) => void calls.push(ctx.intervals.length) } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-03', 'scheduled');
    await h.drain([dag], { batching: true });
    expect(calls).to.deep.equal([1, 1, 1]);
  });

  it("pokes a range of backfill runs' waitFor sensors in one call, each run's own interval, so the batch task after them takes the met ones in one call", async () => {
    h = await openHarness(engine.env());
    const calls: string[] = [];
    const up = defineDag({ id: 'up', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: () => undefined } } });
    const down = defineDag({
      id: 'down',
      schedule: '@daily',
      startDate: '2024-01-01',
      waitFor: ['up'],
      waitForSensor: { pokeIntervalS: 0.05, timeoutS: 0.3 },
      tasks: { load: { batch: true, run: (ctx) => void calls.push(`${ctx.intervals.length} ${ctx.ds}`) } },
    });
    // The DAG waited for has succeeded through the 6th: the 7th to the 10th wait until their sensors time out.
    await h.addRuns(up, '2024-01-06', '2024-01-06');
    await h.drain([up]);
    await h.addRuns(down, '2024-01-01', '2024-01-10');
    await h.drain([down], { batching: true });
    expect(calls).to.deep.equal(['6 2024-01-01']);
    const sensors = (await h.tis('down')).filter((t) => t.task_id === 'wait_for_up').sort((a, b) => a.run_id.localeCompare(b.run_id));
    expect(sensors.map((t) => t.state)).to.deep.equal([...Array(6).fill('success'), ...Array(4).fill('failed')]);
    expect(sensors[9].last_error).to.match(/^SensorTimeoutError/);
    // One call, one log in each instance's file: a line per outcome, naming the days.
    const log = (runId: string) => readFileSync(attemptLogPath(h.settings.logDir, { dagId: 'down', runId, taskId: 'wait_for_up', attempt: 1 }), 'utf8');
    expect(log(sensors[0].run_id))
      .to.include('attempt succeeded for 6 of 10 runs (2024-01-01 to 2024-01-06)')
      .and.to.include('rescheduled for 4 of 10 runs (2024-01-07 to 2024-01-10), not a try');
    expect(log(sensors[9].run_id)).to.include('timed out for 4 of 4 runs (2024-01-07 to 2024-01-10)').and.to.include('SensorTimeoutError');
  });

  it('fails only the run whose poke threw in a batched sensor call, and counts an attempt per instance', async () => {
    h = await openHarness(engine.env());
    const calls: string[] = [];
    const attempts = async (outcome: string) =>
      (await taskAttemptsCounter.get()).values.find((v) => v.labels.dag_id === 'flaky' && v.labels.task_id === 'ready' && v.labels.outcome === outcome)?.value ?? 0;
    const [succeededBefore, failedBefore] = [await attempts('success'), await attempts('failed')];
    const dag = defineDag({
      id: 'flaky',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        ready: sensor({
          batch: true,
          retries: 0,
          poke: (ctx) => {
            if (ctx.ds === '2024-01-03') throw new Error('the marker file is unreadable');
            return true;
          },
        }),
        load: { batch: true, upstream: ['ready'], run: (ctx) => void calls.push(`${ctx.intervals.length} ${ctx.ds}`) },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-05');
    await h.drain([dag], { batching: true });
    const states = (await h.tis('flaky')).filter((t) => t.task_id === 'ready').sort((a, b) => a.run_id.localeCompare(b.run_id));
    expect(states.map((t) => t.state)).to.deep.equal(['success', 'success', 'failed', 'success', 'success']);
    expect(states[2].last_error).to.equal('Error: the marker file is unreadable');
    // The runs after the failed one go on in a batch of their own.
    expect(calls).to.deep.equal(['2 2024-01-01', '2 2024-01-04']);
    expect([(await attempts('success')) - succeededBefore, (await attempts('failed')) - failedBefore]).to.deep.equal([4, 1]);
  });
});
