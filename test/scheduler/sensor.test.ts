import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFileSync, mkdirSync } from 'node:fs';
import { defineDag } from '../../scheduler/dag.js';
import { dagSucceeded } from '../../scheduler/dagSucceeded.js';
import { runBackfill } from '../../scheduler/backfill.js';
import type { Executor } from '../../scheduler/executor.js';
import { fixedClock } from '../../scheduler/clock.js';
import type { Clock, Dag } from '../../scheduler/interfaces.js';
import { sensor } from '../../scheduler/sensor.js';
import { fileExists } from '../../operators/sensors/fileExists.js';
import { httpOk } from '../../operators/sensors/httpOk.js';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { completionsOf } from '../../scheduler/attempt.js';
import { ShutdownError } from '../../scheduler/errors/ShutdownError.js';
import { makeTmpDir, testSettings } from '../helpers/tmp.js';
import { openHarness, waitUntil, type Harness } from './harness.js';

const RUN_ID = 'backfill__2024-01-01T00:00:00+00:00';

/** A clock the test moves by hand: the one sensors' timeouts are measured on. */
function handClock(start = Date.parse('2024-06-01T00:00:00Z')): Clock & { advance(ms: number): void } {
  let ms = start;
  return { now: () => new Date(ms), advance: (by) => void (ms += by) };
}

/** Runs every queued run of `dags` to the end, with `clock` as the executor's clock. */
async function drainWith(h: Harness, dags: readonly Dag[], clock?: Clock): Promise<void> {
  await h.executor(dags, { clock }).drain();
}

/** The instance of `taskId` in the harness's runs of `dagId`, with its first poke. */
async function instance(h: Harness, dagId: string, taskId: string) {
  const rows = await h.db.read((sql) =>
    sql.all<{ state: string | null; try_number: number; last_error: string | null; first_poke_at: number | string | null }>(
      'SELECT state, try_number, last_error, first_poke_at FROM task_instances WHERE dag_id = ? AND task_id = ?',
      [dagId, taskId],
    ),
  );
  return rows[0];
}

function attemptLog(h: Harness, dagId: string, taskId: string, attempt: number): string {
  return readFileSync(path.join(h.settings.logDir, `dag_id=${dagId}`, `run_id=${RUN_ID}`, `task_id=${taskId}`, `attempt=${attempt}.log`), 'utf8');
}

forEachMetadataEngine('sensors in reschedule mode', (engine) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('frees its slot between pokes, gives the try back each time, and succeeds once the poke says yes', async () => {
    // One slot: a sensor holding it between pokes would starve 'other', whose run is what it waits for.
    h = await openHarness({ ...engine.env(), DRIVETRAIN_PARALLELISM: '1' });
    let otherRan = false;
    let pokes = 0;
    const dag = defineDag({
      id: 'sensing',
      schedule: '@daily',
      startDate: '2024-01-01',
      retries: 0,
      tasks: {
        wait: sensor({ pokeIntervalS: 0.05, poke: () => (pokes += 1) > 0 && otherRan }),
        other: { run: () => void (otherRan = true) },
        after: { upstream: ['wait'], run: () => 'done' },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    expect(await instance(h, 'sensing', 'wait')).to.include({ state: 'success', try_number: 1 });
    expect(await instance(h, 'sensing', 'after')).to.include({ state: 'success' });
    expect(pokes).to.be.at.least(2);
    // Every poke appends to the try's one log file.
    const log = attemptLog(h, 'sensing', 'wait', 1);
    expect(log.match(/poke: condition not met yet/g)).to.have.length(pokes - 1);
    expect(log.match(/rescheduled, not a try: next poke not before \d{4}-/g)).to.have.length(pokes - 1);
    expect(log).to.contain('poke: condition met');
    expect(log).to.contain('attempt succeeded');
  });

  it('fails with SensorTimeoutError, without its retries, once a poke says no timeoutS after the first poke on the executor clock', async () => {
    h = await openHarness(engine.env());
    const clock = handClock();
    const seen: { pokeAt: number; firstPokeAt: unknown }[] = [];
    const dag = defineDag({
      id: 'late',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        wait: sensor({
          pokeIntervalS: 0.05,
          timeoutS: 60,
          retries: 3,
          poke: async () => {
            seen.push({ pokeAt: clock.now().getTime(), firstPokeAt: (await instance(h!, 'late', 'wait')).first_poke_at });
            // Each poke takes time on the clock: the second ends a millisecond short of the timeout, the third on it.
            clock.advance([30_000, 29_999, 1][seen.length - 1]);
            return false;
          },
        }),
        load: { upstream: ['wait'], run: () => undefined },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await drainWith(h, [dag], clock);
    const wait = await instance(h, 'late', 'wait');
    expect(wait).to.include({ state: 'failed', try_number: 1 });
    expect(wait.last_error).to.equal("SensorTimeoutError: sensor 'wait' timed out: its condition was not met within 60s of its first poke");
    expect(seen).to.have.length(3);
    // The first poke's start was stored and kept, not moved by the reschedules.
    expect(seen[0].firstPokeAt).to.equal(null);
    expect(Number(seen[1].firstPokeAt)).to.equal(seen[0].pokeAt);
    expect(Number(seen[2].firstPokeAt)).to.equal(seen[0].pokeAt);
    expect(await instance(h, 'late', 'load')).to.include({ state: 'upstream_failed' });
    expect((await h.runs('late'))[0].state).to.equal('failed');
  });

  it('skips at the timeout with softFail, and the skip flows downstream', async () => {
    h = await openHarness(engine.env());
    const clock = handClock();
    const dag = defineDag({
      id: 'optional',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        wait: sensor({ pokeIntervalS: 0.05, timeoutS: 10, softFail: true, poke: () => (clock.advance(10_000), false) }),
        load: { upstream: ['wait'], run: () => undefined },
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await drainWith(h, [dag], clock);
    expect(await instance(h, 'optional', 'wait')).to.include({ state: 'skipped', try_number: 1 });
    expect(await instance(h, 'optional', 'load')).to.include({ state: 'skipped' });
    expect((await h.runs('optional'))[0].state).to.equal('success');
  });

  it('treats a poke that throws as a failed try, retried as any task', async () => {
    h = await openHarness(engine.env());
    let pokes = 0;
    const dag = defineDag({
      id: 'flaky',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        wait: sensor({ pokeIntervalS: 0.05, retries: 1, retryDelayS: 0, poke: () => { pokes += 1; if (pokes === 1) throw new Error('disk unreadable'); return true; } }),
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    expect(await instance(h, 'flaky', 'wait')).to.include({ state: 'success', try_number: 2 });
  });

  it('waits with dagSucceeded for the same data interval of another DAG to succeed, not any other', async () => {
    h = await openHarness(engine.env());
    const up = defineDag({ id: 'up', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: () => undefined } } });
    const down = defineDag({
      id: 'down',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { wait: sensor({ pokeIntervalS: 0.05, poke: dagSucceeded('up') }), t: { upstream: ['wait'], run: () => undefined } },
    });
    // up's later interval succeeds first: not the one down's run of 2024-01-01 waits for.
    await h.addRuns(up, '2024-01-02', '2024-01-02');
    await h.drain([up]);
    await h.addRuns(down, '2024-01-01', '2024-01-01');
    const executor = h.executor([up, down]);
    await executor.start();
    try {
      await waitUntil(async () => (await instance(h!, 'down', 'wait'))?.state === 'up_for_reschedule', 'the sensor to say no');
      expect(await instance(h, 'down', 't')).to.include({ state: null });
      await h.addRuns(up, '2024-01-01', '2024-01-01');
      executor.wake();
      await waitUntil(async () => (await h!.runs('down'))[0].state === 'success', "down's run");
    } finally {
      await executor.stop(0);
    }
    expect(await instance(h, 'down', 'wait')).to.include({ state: 'success', try_number: 1 });
  });
});

describe("a sensor's first poke on its row", () => {
  const dag = defineDag({ id: 'd', schedule: '@daily', startDate: '2024-01-01', tasks: { wait: sensor({ poke: () => false, retries: 2 }) } });
  const claim = {
    dag,
    task: dag.tasks[0],
    items: [
      {
        ti: { id: 1, run_pk: 1, task_id: 'wait', state: 'running' as const, try_number: 1, max_tries: 2, next_retry_at: null, first_poke_at: 1_000, map_index: -1, map_label: null, map_value: null },
        run: { id: 1, dag_id: 'd', run_id: RUN_ID, logical_date: '', data_interval_start: '', data_interval_end: '', run_type: 'backfill' as const, state: 'running' as const, conf: '{}' },
      },
    ],
  };
  const { dir, cleanup } = makeTmpDir('drivetrain-sensor-');
  after(cleanup);
  const settings = testSettings(dir);

  it('is kept when shutdown interrupts a poke, so a restart does not restart the timeout', () => {
    const shutdown = new AbortController();
    shutdown.abort(new ShutdownError(0));
    const [c] = completionsOf(claim, { ok: false, error: new ShutdownError(0), durationS: 0, aborted: true }, shutdown.signal, settings);
    expect(c).to.include({ state: 'up_for_retry', interrupted: true, firstPokeAt: 1_000 });
  });

  it('is cleared by a poke that throws, so the retry times out from its own first poke', () => {
    const [c] = completionsOf(claim, { ok: false, error: new Error('disk unreadable'), durationS: 0, aborted: false }, new AbortController().signal, settings);
    expect(c).to.include({ state: 'up_for_retry', firstPokeAt: null });
  });
});

describe('sensors in a backfill', function () {
  this.timeout(30_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('sleeps until the next poke instead of polling the metadata while a sensor waits', async () => {
    h = await openHarness();
    const pokedAt: number[] = [];
    const dag = defineDag({
      id: 'patient',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { wait: sensor({ pokeIntervalS: 1.5, poke: () => pokedAt.push(Date.now()) === 3 }), load: { upstream: ['wait'], run: () => undefined } },
    });
    let executor: Executor | undefined;
    const result = await runBackfill({
      db: h.db,
      settings: h.settings,
      clock: fixedClock(new Date('2024-01-02T05:00:00Z')),
      log: h.log,
      dags: new Map([[dag.id, dag]]),
      from: new Date('2024-01-01T00:00:00Z'),
      reset: false,
      onExecutor: (e) => (executor = e),
    });
    expect(result.ok).to.equal(true);
    expect(pokedAt).to.have.length(3);
    expect(pokedAt[2] - pokedAt[0]).to.be.at.least(3000);
    // Three pokes and a load: a few turns each. Polling every 200 ms through the 3 s would be 15 more.
    expect(executor!.turnCount).to.be.at.most(12);
  });

  it('turns waitFor into a wait_for_<dag> sensor that each run of the range passes once the waited-for DAG has run', async () => {
    h = await openHarness();
    const ran: string[] = [];
    const ingest = defineDag({ id: 'ingest', schedule: '@daily', startDate: '2024-01-01', catchup: false, tasks: { t: { run: (ctx) => void ran.push(`ingest ${ctx.ds}`) } } });
    const marts = defineDag({
      id: 'marts',
      schedule: '@daily',
      startDate: '2024-01-01',
      waitFor: ['ingest'],
      tasks: { build: { run: (ctx) => void ran.push(`marts ${ctx.ds}`) } },
    });
    const result = await runBackfill({
      db: h.db,
      settings: h.settings,
      clock: fixedClock(new Date('2024-01-03T05:00:00Z')),
      log: h.log,
      dags: new Map([[ingest.id, ingest], [marts.id, marts]]),
      dagIds: ['marts'],
      from: new Date('2024-01-01T00:00:00Z'),
      reset: false,
    });
    expect(result.ok).to.equal(true);
    expect(ran).to.deep.equal(['ingest 2024-01-02', 'marts 2024-01-01', 'marts 2024-01-02']);
    const sensors = (await h.tis('marts')).filter((t) => t.task_id === 'wait_for_ingest');
    expect(sensors.map((t) => [t.state, t.try_number])).to.deep.equal([['success', 1], ['success', 1]]);
  });
});

describe('ready-made pokes', function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  let server: http.Server | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('httpOk is met by a 2xx answer of a real server, and not by a 503 or by no server at all', async () => {
    const asked: string[] = [];
    let ready = false;
    server = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(ready ? 200 : 503).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    h = await openHarness();
    let pokes = 0;
    const check = httpOk(`http://127.0.0.1:${port}/ready?day={ds}`);
    const dag = defineDag({
      id: 'http',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        wait: sensor({
          pokeIntervalS: 0.05,
          poke: async (ctx, env) => {
            pokes += 1;
            const met = await check(ctx, env);
            if (pokes === 2) ready = true;
            return met;
          },
        }),
      },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    expect(await instance(h, 'http', 'wait')).to.include({ state: 'success', try_number: 1 });
    expect(pokes).to.equal(3);
    expect(asked).to.deep.equal(['/ready?day=2024-01-01', '/ready?day=2024-01-01', '/ready?day=2024-01-01']);
    expect(attemptLog(h, 'http', 'wait', 1)).to.contain(`GET http://127.0.0.1:${port}/ready?day=2024-01-01 answered 503`);
    // Nobody listening: a no, not a failure.
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const { testTaskContext } = await import('../helpers/taskContext.js');
    const { NO_SENSOR_ENV } = await import('../../scheduler/sensor.js');
    expect(await check(testTaskContext(h.settings), NO_SENSOR_ENV)).to.equal(false);
  });

  it('fileExists is met once the file of the run\'s day appears', async () => {
    h = await openHarness();
    const inbox = path.join(h.dir, 'inbox');
    const dag = defineDag({
      id: 'files',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: { wait: sensor({ pokeIntervalS: 0.05, poke: fileExists(path.join(inbox, '{ds}', '_SUCCESS')) }), load: { upstream: ['wait'], run: () => undefined } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    const executor = h.executor([dag]);
    await executor.start();
    try {
      await waitUntil(async () => (await instance(h!, 'files', 'wait'))?.state === 'up_for_reschedule', 'the sensor to say no');
      // Another day's file does not count.
      mkdirSync(path.join(inbox, '2024-01-02'), { recursive: true });
      writeFileSync(path.join(inbox, '2024-01-02', '_SUCCESS'), '');
      mkdirSync(path.join(inbox, '2024-01-01'), { recursive: true });
      writeFileSync(path.join(inbox, '2024-01-01', '_SUCCESS'), '');
      await waitUntil(async () => (await h!.runs('files'))[0].state === 'success', 'the run');
    } finally {
      await executor.stop(0);
    }
    expect(attemptLog(h, 'files', 'wait', 1)).to.contain(`no file at ${path.join(inbox, '2024-01-01', '_SUCCESS')} yet`);
  });

  it('refuses a path template with an unknown placeholder when the DAG is defined, naming it', () => {
    expect(() => fileExists('/in/{date}/_SUCCESS')).to.throw("path template '/in/{date}/_SUCCESS' has unknown placeholder '{date}' (one of {ds}, {ds_nodash}, {month}, {start}, {end})");
  });
});
