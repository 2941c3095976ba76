import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { SCHEMA_VERSION } from '../../scheduler/metadata/migrations.js';

describe('metadata database', () => {
  let dir: string;
  let db: MetadataDb;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-metadata-'));
    db = await MetadataDb.open(path.join(dir, 'home', 'metadata.db'));
  });

  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets up the connection of every transaction and read: WAL, busy timeout, foreign keys', async () => {
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
});
