/**
 * Pools enforced where instances are claimed (scheduler/poolClaims.ts), on both metadata engines: in
 * one executor, and between a daemon and a backfill as real child processes sharing a pool of two
 * slots, with `pools list` and /metrics showing the pool's use while they do.
 */
import { expect } from 'chai';
import pg from 'pg';
import { defineDag } from '../../scheduler/dag.js';
import type { TaskContext } from '../../scheduler/interfaces.js';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { useTmpDir } from '../helpers/tmp.js';
import { cliEnv, metricsOf, openHarness, outLines, runCli, spawnCli, waitUntil, type CliProcess, type Harness } from './harness.js';

/** Most `start` lines without their `end` at any point of an out file of `start|end <name> <pid>` lines. */
function mostAtOnce(lines: readonly string[], only: (name: string) => boolean = () => true): number {
  let now = 0;
  let most = 0;
  for (const line of lines) {
    const [what, name] = line.split(' ');
    if (!only(name)) continue;
    now += what === 'start' ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
}


/** Advisory locks a PostgreSQL session is waiting for, seen from a connection of its own. */
async function waitingAdvisoryLocks(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

forEachMetadataEngine('pools in one executor', (engine) => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('runs a task of two slots alone in a pool of two, and the others two at a time', async () => {
    h = await openHarness({ ...engine.env(), DRIVETRAIN_POOLS: 'pair=2', DRIVETRAIN_TASK_RETRIES: '0' });
    const events: string[] = [];
    const work = async (ctx: TaskContext) => {
      events.push(`start ${ctx.taskId}.${ctx.ds}`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`end ${ctx.taskId}.${ctx.ds}`);
    };
    const dag = defineDag({
      id: 'pooled',
      schedule: '@daily',
      startDate: '2024-01-01',
      maxActiveRuns: 2,
      tasks: { wide: { pool: 'pair', poolSlots: 2, run: work }, a: { pool: 'pair', run: work }, b: { pool: 'pair', run: work }, free: { run: work } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-02');
    await h.drain([dag]);
    expect((await h.runs('pooled')).map((r) => r.state)).to.deep.equal(['success', 'success']);
    const inPair = (name: string) => !name.startsWith('free.');
    expect(mostAtOnce(events, inPair)).to.equal(2);
    // While a `wide` runs, no other instance of the pool does.
    for (const ds of ['2024-01-01', '2024-01-02']) {
      const from = events.indexOf(`start wide.${ds}`);
      const to = events.indexOf(`end wide.${ds}`);
      expect(events.slice(from + 1, to).filter((e) => e.startsWith('start') && inPair(e.split(' ')[1])), ds).to.deep.equal([]);
    }
    // The slots an instance held are recorded with it, and none is held once all are done.
    const rows = await h.db.read((sql) => sql.all<{ task_id: string; pool: string; pool_slots: number }>("SELECT task_id, pool, pool_slots FROM task_instances WHERE task_id IN ('wide', 'free') ORDER BY id"));
    expect(rows.map((r) => [r.task_id, r.pool, Number(r.pool_slots)])).to.deep.equal([
      ['wide', 'pair', 2],
      ['free', 'default_pool', 1],
      ['wide', 'pair', 2],
      ['free', 'default_pool', 1],
    ]);
    expect(await h.db.read((sql) => h.db.statements.usedPoolSlots(sql, ['pair', 'default_pool']))).to.deep.equal(new Map());
  });

  it('counts slots held, running and waiting instances per pool with one statement', async () => {
    h = await openHarness(engine.env());
    const st = h.db.statements;
    const stamp = { owner: 'me', pid: 1, hostname: 'h', nowIso: '2024-01-02T00:00:00.000Z', nowMs: 1000, leaseExpiresAt: 9000 };
    const dag = defineDag({ id: 'counted', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: () => undefined } } });
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.db.tx(async (sql) => {
      const [run] = await sql.all<{ id: number }>('SELECT id FROM dag_runs');
      const tasks = ['r1', 'r2', 'q1', 'q2', 'retry_due', 'retry_later', 'waiting'];
      await st.insertTaskInstances(sql, tasks.map((taskId) => ({ runPk: run.id, dagId: 'counted', runId: 'r', taskId, maxTries: 1, pool: 'p' })));
      const ids = new Map((await st.taskInstancesOf(sql, [run.id])).map((t) => [t.task_id, t.id]));
      await st.claim(sql, [ids.get('r1')!, ids.get('r2')!], stamp);
      await st.recordPoolUse(sql, [{ id: ids.get('r1')!, pool: 'p', slots: 3 }, { id: ids.get('r2')!, pool: 'p', slots: 0 }]);
      await st.decideWaiting(sql, [{ id: ids.get('q1')!, state: 'queued' }, { id: ids.get('q2')!, state: 'queued' }], stamp.nowIso);
      await sql.run("UPDATE task_instances SET state = 'up_for_retry', next_retry_at = ? WHERE id = ?", [1000, ids.get('retry_due')!]);
      await sql.run("UPDATE task_instances SET state = 'up_for_retry', next_retry_at = ? WHERE id = ?", [5000, ids.get('retry_later')!]);
    });
    const use = await h.db.read((sql) => st.poolUse(sql, 2000));
    expect(use).to.deep.equal([{ pool: 'p', used_slots: 3, running: 2, queued: 3 }]);
    expect(await h.db.read((sql) => st.usedPoolSlots(sql, ['p', 'other']))).to.deep.equal(new Map([['p', 3]]));
  });

  if (engine.name === 'postgres') {
    it("makes a second claimer of a pool wait for the first one's commit, then count the slots it claimed", async () => {
      h = await openHarness(engine.env());
      const st = h.db.statements;
      const dag = defineDag({ id: 'locked', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: () => undefined } } });
      await h.addRuns(dag, '2024-01-01', '2024-01-01');
      const id = await h.db.tx(async (sql) => {
        const [run] = await sql.all<{ id: number }>('SELECT id FROM dag_runs');
        await st.insertTaskInstances(sql, [{ runPk: run.id, dagId: 'locked', runId: 'r', taskId: 't', maxTries: 0, pool: 'p' }]);
        return (await st.taskInstancesOf(sql, [run.id]))[0].id;
      });
      const stamp = { owner: 'first', pid: 1, hostname: 'h', nowIso: 'x', nowMs: 1, leaseExpiresAt: 2 };
      let second: Promise<Map<string, number>> | undefined;
      await h.db.tx(async (sql) => {
        await st.lockPools(sql, ['p']);
        await st.claim(sql, [id], stamp);
        await st.recordPoolUse(sql, [{ id, pool: 'p', slots: 2 }]);
        second = h.db.tx(async (other) => {
          await st.lockPools(other, ['p']);
          return st.usedPoolSlots(other, ['p']);
        });
        await waitUntil(async () => (await waitingAdvisoryLocks(engine.env().DRIVETRAIN_METADATA_URL)) === 1, 'the second claimer to wait for the pool');
      });
      expect(await second).to.deep.equal(new Map([['p', 2]]));
    });
  }
});

forEachMetadataEngine('a pool shared by a daemon and a backfill', (engine) => {
  const children: CliProcess[] = [];
  const tmp = useTmpDir('drivetrain-pools-', {
    beforeRemove: async () => {
      for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) (c.child.kill('SIGKILL'), await c.done);
    },
  });

  it('never runs more than the pool\'s two slots between them, and shows the use in pools list and /metrics', async function () {
    this.timeout(180_000);
    const env = cliEnv(tmp.dir, 'pools', {
      ...engine.env(),
      DRIVETRAIN_POOLS: 'shared=2',
      DRIVETRAIN_NOW: '2024-01-03T01:00:00Z',
      DRIVETRAIN_SCHEDULER_TICK: '* * * * * *',
    });
    const has = (prefix: string) => () => outLines(tmp.dir).some((l) => l.startsWith(prefix));
    // The daemon leaves pb to the backfill.
    const paused = await runCli(['dags', 'pause', 'pb'], env);
    expect(paused.code, paused.stderr).to.equal(0);
    const daemon = spawnCli(['start'], env);
    children.push(daemon);
    await waitUntil(has('start pa.hold'), 'the daemon to start pa.hold', Number.POSITIVE_INFINITY);

    // pa.hold holds one slot until pb starts, so the pool's use is steady here.
    const listed = await runCli(['pools', 'list'], env);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.match(/^shared\s+2\s+1\s+1\s+0\s+1$/m);
    expect(listed.stdout).to.match(/^default_pool\s+128\s+0\s+0\s+0\s+128$/m);
    await waitUntil(async () => /drivetrain_pool_used_slots\{pool="shared"\} 1\b/.test(await metricsOf(daemon)), 'the gauges of a tick', Number.POSITIVE_INFINITY);
    const metrics = await metricsOf(daemon);
    expect(metrics).to.match(/drivetrain_pool_slots\{pool="shared"\} 2\b/);
    expect(metrics).to.match(/drivetrain_pool_open_slots\{pool="shared"\} 1\b/);
    expect(metrics).to.match(/drivetrain_pool_running\{pool="shared"\} 1\b/);

    const backfill = spawnCli(['backfill', '--dag', 'pb', '--from', '2024-01-01', '--to', '2024-01-02'], env);
    children.push(backfill);
    const done = await backfill.done;
    expect(done.code, done.stderr).to.equal(0);
    await waitUntil(has('end pa.hold'), 'pa.hold to end', Number.POSITIVE_INFINITY);
    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).to.equal(0);

    const lines = outLines(tmp.dir);
    expect(lines.filter((l) => l.startsWith('end '))).to.have.length(7);
    expect(mostAtOnce(lines)).to.equal(2);
    // The two processes held the pool together: pb started while pa.hold held its slot (pb alone
    // could run six at once, so the two slots were all the backfill got).
    const from = lines.findIndex((l) => l.startsWith('start pa.hold'));
    const to = lines.findIndex((l) => l.startsWith('end pa.hold'));
    expect(lines.slice(from, to).some((l) => l.startsWith('start pb.'))).to.equal(true);
    const pids = new Set(lines.map((l) => l.split(' ')[2]));
    expect(pids.size, 'both processes ran tasks').to.equal(2);
  });
});
