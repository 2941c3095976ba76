import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetadataDb, type Sql } from '../../scheduler/metadata/db.js';
import { SCHEMA_VERSION } from '../../scheduler/metadata/migrations.js';
import { clearTasks, type ClearResult } from '../../scheduler/clearTasks.js';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';

forEachMetadataEngine('metadata database', (engine) => {
  let dir: string;
  let db: MetadataDb;
  // What only SQLite has: connection PRAGMAs, Sequelize's per-statement stack (its SQLite dialect), its messages.
  const sqliteOnly = engine.name === 'sqlite' ? it : () => undefined;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-metadata-'));
    db = await MetadataDb.open(engine.env().DRIVETRAIN_METADATA_URL ?? path.join(dir, 'home', 'metadata.db'));
  });

  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  sqliteOnly('sets up the connection of every transaction and read: WAL, busy timeout, foreign keys', async () => {
    const pragmas = async (sql: { all<T>(s: string): Promise<T[]> }) => ({
      journal: (await sql.all<{ journal_mode: string }>('PRAGMA journal_mode'))[0].journal_mode,
      timeout: Object.values((await sql.all<Record<string, number>>('PRAGMA busy_timeout'))[0])[0],
      fk: (await sql.all<{ foreign_keys: number }>('PRAGMA foreign_keys'))[0].foreign_keys,
    });
    const expected = { journal: 'wal', timeout: 15_000, fk: 1 };
    expect(await db.tx(pragmas)).to.deep.equal(expected);
    expect(await db.tx(pragmas)).to.deep.equal(expected);
    expect(await db.read(pragmas)).to.deep.equal(expected);
  });

  it('migrates a new file to the current schema version', async () => {
    expect(await db.schemaVersion()).to.equal(SCHEMA_VERSION);
  });

  it('counts the rows a statement changed, and inserts a run only once', async () => {
    const run = { dagId: 'd', runId: 'r1', logicalDate: '2024-01-01T00:00:00.000Z', intervalStart: '2024-01-01T00:00:00.000Z', intervalEnd: '2024-01-02T00:00:00.000Z', runType: 'manual' as const, conf: '{}' };
    const st = db.statements;
    expect(await db.tx((sql) => st.insertRuns(sql, [run, { ...run, runId: 'r2', logicalDate: '2024-01-02T00:00:00.000Z' }], 'now'))).to.equal(2);
    expect(await db.tx((sql) => st.insertRuns(sql, [run], 'now'))).to.equal(0);
    expect(await db.read((sql) => st.runsBetween(sql, 'd', '', '9999'))).to.have.length(2);
  });

  it('rolls a transaction back when its body throws, and keeps working', async () => {
    const st = db.statements;
    const failing = db.tx(async (sql) => {
      await st.setPaused(sql, 'd', null, true);
      throw new Error('body failed');
    });
    const err = await failing.then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(Error).with.property('message', 'body failed');
    expect(await db.read((sql) => st.pausedDagIds(sql))).to.deep.equal([]);
    await db.tx((sql) => st.setPaused(sql, 'd', null, true));
    expect(await db.read((sql) => st.pausedDagIds(sql))).to.deep.equal(['d']);
  });

  it('records completions only for instances this owner still holds', async () => {
    const st = db.statements;
    await db.tx(async (sql) => {
      await st.insertRuns(sql, [{ dagId: 'd', runId: 'r', logicalDate: '2024-01-01', intervalStart: '2024-01-01', intervalEnd: '2024-01-02', runType: 'manual', conf: '{}' }], 'now');
      const [{ id }] = await st.runsBetween(sql, 'd', '', '9999');
      await st.insertTaskInstances(sql, [1, 2].map((n) => ({ runPk: id, dagId: 'd', runId: 'r', taskId: `t${n}`, maxTries: 0 })));
      const tis = await st.taskInstancesOf(sql, [id]);
      const stamp = (owner: string) => ({ owner, pid: 1, hostname: 'h', nowIso: 'x', nowMs: 1, leaseExpiresAt: 2 });
      await st.claim(sql, [tis[0].id], stamp('me'));
      await st.claim(sql, [tis[1].id], stamp('other'));
      const done = tis.map((ti) => ({ id: ti.id, tryNumber: 1, state: 'success' as const, endIso: 'y', durationS: 0.5, nextRetryAt: null, error: null, interrupted: false }));
      await st.recordCompletions(sql, 'me', done);
    });
    const rows = await db.read((sql) => sql.all<{ task_id: string; state: string; try_number: number }>('SELECT task_id, state, try_number FROM task_instances ORDER BY task_id'));
    expect(rows).to.deep.equal([
      { task_id: 't1', state: 'success', try_number: 1 },
      { task_id: 't2', state: 'running', try_number: 1 },
    ]);
  });

  sqliteOnly('formats no stack trace for a statement that succeeds', async () => {
    // Sequelize builds an Error per statement and reads its stack, which source maps make costly; the
    // driver turns the capture off for it. Count the call sites any stack formatting is handed meanwhile.
    let frames = 0;
    const previous = Error.prepareStackTrace;
    Error.prepareStackTrace = (error, sites) => {
      frames += sites.length;
      return [String(error), ...sites.map((s) => `    at ${String(s)}`)].join('\n');
    };
    try {
      await db.tx(async (sql) => {
        await sql.all('SELECT 1 AS ok');
        await sql.run('UPDATE dags SET paused = 0 WHERE 0');
      });
      await db.read((sql) => sql.all('SELECT 1 AS ok'));
    } finally {
      Error.prepareStackTrace = previous;
    }
    expect(frames).to.equal(0);
  });

  sqliteOnly("gives a failed statement's error its message and its caller's stack", async () => {
    // As a statement of statements.ts calls it.
    async function readMissingColumn(sql: Sql): Promise<unknown[]> {
      return await sql.all('SELECT no_such_column FROM dags');
    }
    const err = await db.tx(readMissingColumn).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(Error).with.property('message').that.matches(/no such column: no_such_column/);
    const stack = (err as Error).stack!.split('\n');
    expect(stack[0]).to.match(/^SequelizeDatabaseError: SQLITE_ERROR: no such column: no_such_column$/);
    expect(stack.some((line) => /readMissingColumn .*metadataDb\.test\.ts/.test(line)), stack.join('\n')).to.equal(true);
  });

  it("reads a turn's window as one row per run, its instances with it, only for runs within max active runs", async () => {
    const st = db.statements;
    const run = (n: number) => ({ dagId: 'd', runId: `r${n}`, logicalDate: `2024-01-0${n}`, intervalStart: `2024-01-0${n}`, intervalEnd: `2024-01-0${n + 1}`, runType: 'backfill' as const, conf: '{}' });
    const window = await db.tx(async (sql) => {
      await st.insertRuns(sql, [run(1), run(2), run(3)], 'now');
      const [r1, r2] = await st.runsBetween(sql, 'd', '', '9999');
      await st.insertTaskInstances(sql, ['a', 'b'].map((taskId) => ({ runPk: r1.id, dagId: 'd', runId: 'r1', taskId, maxTries: 2 })));
      await st.insertTaskInstances(sql, [{ runPk: r2.id, dagId: 'd', runId: 'r2', taskId: 'a', maxTries: 0 }]);
      await st.startRuns(sql, [r1.id, r2.id], 'me', 'now');
      const [a] = await st.taskInstancesOf(sql, [r1.id], ['a']);
      await st.claim(sql, [a.id], { owner: 'me', pid: 1, hostname: 'h', nowIso: 'x', nowMs: 1, leaseExpiresAt: 2 });
      return st.activeWindow(sql, [{ dagId: 'd', maxRuns: 1 }], { runTypes: ['backfill'] });
    });
    // r1 and r2 run (r2 past max active runs: listed, its instances not read); r3 is the oldest queued.
    expect(window.map((w) => [w.run_id, w.state, [...w.tis].sort((x, y) => x.task_id.localeCompare(y.task_id)).map((ti) => [ti.task_id, ti.state, ti.try_number, ti.max_tries])])).to.deep.equal([
      ['r1', 'running', [['a', 'running', 1, 2], ['b', null, 0, 2]]],
      ['r2', 'running', []],
      ['r3', 'queued', []],
    ]);
    expect(window[0].tis.every((ti) => ti.run_pk === window[0].id && ti.next_retry_at === null)).to.equal(true);
  });
  it('claims an instance read at a try only while it is still claimable at that try', async () => {
    const st = db.statements;
    const stamp = (owner: string) => ({ owner, pid: 1, hostname: 'h', nowIso: 'x', nowMs: 1, leaseExpiresAt: 2 });
    const [first, second, stale] = await db.tx(async (sql) => {
      await st.insertRuns(sql, [{ dagId: 'd', runId: 'r', logicalDate: '2024-01-01', intervalStart: '2024-01-01', intervalEnd: '2024-01-02', runType: 'manual', conf: '{}' }], 'now');
      const [{ id }] = await st.runsBetween(sql, 'd', '', '9999');
      await st.insertTaskInstances(sql, [{ runPk: id, dagId: 'd', runId: 'r', taskId: 't', maxTries: 1 }]);
      const [ti] = await st.taskInstancesOf(sql, [id]);
      const a = await st.claim(sql, [{ id: ti.id, readTry: 0 }], stamp('me'));
      // A second daemon that read the same window: the row is running at try 1 now.
      const b = await st.claim(sql, [{ id: ti.id, readTry: 0 }], stamp('other'));
      await st.endLostAttempt(sql, ti.id, true, 1, 'y', 'lost');
      // Up for retry again, but at try 1: a claim made from the first read is stale.
      const c = await st.claim(sql, [{ id: ti.id, readTry: 0 }], stamp('other'));
      return [a, b, c];
    });
    expect([first, second, stale]).to.deep.equal([1, 0, 0]);
    const [row] = await db.read((sql) => sql.all<{ state: string; try_number: number; lease_owner: string | null }>('SELECT state, try_number, lease_owner FROM task_instances'));
    expect(row).to.deep.equal({ state: 'up_for_retry', try_number: 1, lease_owner: null });
  });

  if (engine.name === 'postgres') {
    /** Runs `inner` in a second transaction while `outer`'s transaction is still open. */
    async function meanwhile<T>(outer: (sql: Sql) => Promise<void>, inner: (sql: Sql) => Promise<T>): Promise<T> {
      let result: T | undefined;
      await db.tx(async (sql) => {
        await outer(sql);
        result = await db.tx(inner);
      });
      return result as T;
    }

    it('passes instances another transaction is claiming instead of waiting for them (SKIP LOCKED)', async () => {
      const st = db.statements;
      const ids = await db.tx(async (sql) => {
        await st.insertRuns(sql, [{ dagId: 'd', runId: 'r', logicalDate: '2024-01-01', intervalStart: '2024-01-01', intervalEnd: '2024-01-02', runType: 'manual', conf: '{}' }], 'now');
        const [{ id }] = await st.runsBetween(sql, 'd', '', '9999');
        await st.insertTaskInstances(sql, ['a', 'b'].map((t) => ({ runPk: id, dagId: 'd', runId: 'r', taskId: t, maxTries: 0 })));
        return (await st.taskInstancesOf(sql, [id])).map((t) => t.id).sort((x, y) => x - y);
      });
      const stamp = (owner: string) => ({ owner, pid: 1, hostname: 'h', nowIso: 'x', nowMs: 1, leaseExpiresAt: 2 });
      const got = await meanwhile(
        async (sql) => void (await st.claim(sql, [{ id: ids[0], readTry: 0 }], stamp('first'))),
        (sql) => st.claim(sql, ids.map((id) => ({ id, readTry: 0 })), stamp('second')),
      );
      expect(got).to.equal(1);
      const rows = await db.read((sql) => sql.all<{ id: number; lease_owner: string }>('SELECT id, lease_owner FROM task_instances ORDER BY id'));
      expect(rows).to.deep.equal([
        { id: ids[0], lease_owner: 'first' },
        { id: ids[1], lease_owner: 'second' },
      ]);
    });

    it('gives an alert another deliverer is claiming to that deliverer only, so none is sent twice', async () => {
      const st = db.statements;
      const alert = (n: number) => ({ event: 'task_failed', dedupKey: `k${n}`, dagId: 'd', runId: 'r', taskId: 't', tryNumber: 1, maxTries: 0, logicalDate: '2024-01-01', error: 'boom' });
      await db.tx((sql) => st.insertAlerts(sql, [alert(1), alert(2)], 'now'));
      let first: string[] = [];
      const second = await meanwhile(
        async (sql) => void (first = (await st.claimAlerts(sql, 'first', 10, 1000, [], 1)).map((a) => a.dedup_key)),
        async (sql) => (await st.claimAlerts(sql, 'second', 10, 1000, [], 10)).map((a) => a.dedup_key),
      );
      expect([first, second]).to.deep.equal([['k1'], ['k2']]);
      const rows = await db.read((sql) => sql.all<{ dedup_key: string; claimed_by: string }>('SELECT dedup_key, claimed_by FROM alerts ORDER BY id'));
      expect(rows).to.deep.equal([
        { dedup_key: 'k1', claimed_by: 'first' },
        { dedup_key: 'k2', claimed_by: 'second' },
      ]);
    });

    it("leaves a DAG whose scheduling lock another turn holds to that turn, and takes it once that turn has ended", async () => {
      const st = db.statements;
      const during = await meanwhile(
        async (sql) => void (await st.tryLockDags(sql, ['a'])),
        (sql) => st.tryLockDags(sql, ['a', 'b']),
      );
      expect(during).to.deep.equal(['b']);
      expect((await db.tx((sql) => st.tryLockDags(sql, ['a', 'b']))).sort()).to.deep.equal(['a', 'b']);
    });

    it("makes a clear wait for the DAG's scheduling lock before it locks a run or an instance, as every writer does", async () => {
      const st = db.statements;
      await db.tx(async (sql) => {
        await st.insertRuns(sql, [{ dagId: 'd', runId: 'r', logicalDate: '2024-01-01', intervalStart: '2024-01-01', intervalEnd: '2024-01-02', runType: 'manual', conf: '{}' }], 'now');
        const [{ id }] = await st.runsBetween(sql, 'd', '', '9999');
        await st.insertTaskInstances(sql, [{ runPk: id, dagId: 'd', runId: 'r', taskId: 't', maxTries: 1 }]);
        await sql.run("UPDATE task_instances SET state = 'failed'");
      });
      const waiting = () => db.read(async (sql) => (await sql.all<{ n: number }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))[0].n);
      let clear: Promise<ClearResult> | undefined;
      // A turn holds the DAG's lock: the clear waits for it, holding no row lock the turn could want.
      await db.tx(async (sql) => {
        expect(await st.tryLockDags(sql, ['d'])).to.deep.equal(['d']);
        clear = clearTasks(db, { id: 'd', tasks: [{ id: 't', upstream: [], retries: 0 }] }, { includeDownstream: false });
        while ((await waiting()) === 0) await new Promise((r) => setTimeout(r, 20));
        // NOWAIT fails at once (55P03) if the waiting clear held any of these rows.
        expect(await sql.all('SELECT id FROM dag_runs FOR UPDATE NOWAIT')).to.have.length(1);
        expect(await sql.all('SELECT id FROM task_instances FOR UPDATE NOWAIT')).to.have.length(1);
      });
      expect((await clear!).cleared).to.deep.equal([{ runId: 'r', taskId: 't', state: 'failed' }]);
    });

    it('stores the DAG bags of two daemons storing theirs at once one after the other, the later one kept', async () => {
      const st = db.statements;
      const bag = (file: string) => [{ dagId: 'd', fileloc: file, data: '{}' }];
      const waiting = () => db.read(async (sql) => (await sql.all<{ n: number }>('SELECT count(*) AS n FROM pg_locks WHERE NOT granted'))[0].n);
      let second: Promise<void> | undefined;
      await db.tx(async (sql) => {
        await st.replaceDagBag(sql, bag('/old/d.ts'), [], 'now');
        second = db.tx((other) => st.replaceDagBag(other, bag('/new/d.ts'), [], 'now'));
        // The second waits for this one (without the lock, on the key this one inserted: then it fails).
        while ((await waiting()) === 0) await new Promise((r) => setTimeout(r, 20));
      });
      await second;
      const stored = await db.read((sql) => sql.all<{ dag_id: string; fileloc: string }>('SELECT dag_id, fileloc FROM serialized_dags'));
      expect(stored).to.deep.equal([{ dag_id: 'd', fileloc: '/new/d.ts' }]);
    });

    it('runs a transaction again after a deadlock, a serialization failure or a lock timeout, and no other error', () => {
      const wrapped = (code: string) => ({ name: 'SequelizeDatabaseError', parent: { code } });
      expect(['40P01', '40001', '55P03'].map((c) => db.dialect.isBusy(wrapped(c)))).to.deep.equal([true, true, true]);
      expect(db.dialect.isBusy({ code: '40P01' })).to.equal(true);
      expect(['23505', '42P01', undefined].map((c) => db.dialect.isBusy(wrapped(c as string)))).to.deep.equal([false, false, false]);
    });
  }
});
