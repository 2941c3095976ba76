/**
 * The heartbeat thread in this process, on a real metadata file, with this test's own event loop
 * blocked by a busy loop: it renews the leases of a running attempt all through the block, and stops
 * renewing an attempt past its deadline.
 */
import { expect } from 'chai';
import { HeartbeatThread } from '../../scheduler/heartbeat.js';
import { expandReplacements } from '../../scheduler/metadata/plainConnection.js';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { openHarness, waitUntil, type Harness } from './harness.js';

const OWNER = 'heartbeat-test:1:beef';
const LEASE_MS = 1000;

forEachMetadataEngine('the heartbeat thread', function (engine) {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  /** Two running instances under OWNER, leases expiring in one lease period. */
  async function twoClaimed(): Promise<[number, number]> {
    return h.db.tx(async (sql) => {
      const st = h.db.statements;
      await st.insertRuns(sql, [{ dagId: 'd', runId: 'r', logicalDate: '2024-01-01', intervalStart: '2024-01-01', intervalEnd: '2024-01-02', runType: 'manual', conf: '{}' }], 'now');
      const [run] = await st.runsBetween(sql, 'd', '', '9999');
      await st.insertTaskInstances(sql, ['a', 'b'].map((t) => ({ runPk: run.id, dagId: 'd', runId: 'r', taskId: t, maxTries: 0 })));
      const tis = await st.taskInstancesOf(sql, [run.id]);
      const now = Date.now();
      await st.claim(sql, tis.map((t) => t.id), { owner: OWNER, pid: 1, hostname: 'h', nowIso: 'x', nowMs: now, leaseExpiresAt: now + LEASE_MS });
      return [tis[0].id, tis[1].id];
    });
  }

  async function expiries(): Promise<Map<number, number>> {
    const rows = await h.db.read((sql) => sql.all<{ id: number; lease_expires_at: number }>('SELECT id, lease_expires_at FROM task_instances'));
    return new Map(rows.map((r) => [r.id, r.lease_expires_at]));
  }

  it('renews the leases of a running attempt while the event loop is blocked, and lets those of an attempt past its deadline lapse', async function () {
    h = await openHarness(engine.env());
    const [within, overdue] = await twoClaimed();
    const errors: string[] = [];
    const keeper = HeartbeatThread.shared().keep({
      owner: OWNER,
      metadataFile: h.db.location,
      leaseS: LEASE_MS / 1000,
      heartbeatS: 0.1,
      onLost: () => undefined,
      onError: (m) => errors.push(m),
    });
    try {
      const start = Date.now();
      keeper.track(1, [{ id: within, tryNumber: 1 }], null);
      keeper.track(2, [{ id: overdue, tryNumber: 1 }], start + 300);
      // The thread may still be starting; it renews from its own first beat on.
      await waitUntil(async () => ((await expiries()).get(within) ?? 0) > start + LEASE_MS, 'a first renewal');
      const blockedFrom = Date.now();
      while (Date.now() < blockedFrom + 3 * LEASE_MS) {
        // Nothing in this thread runs: no timer, no callback, no promise.
      }
      const blockEnd = Date.now();
      const leases = await expiries();
      // Renewed during the block by the thread, long after the lease claimed before it ran out.
      expect(leases.get(within)).to.be.greaterThan(blockEnd - 500);
      // Not renewed after its deadline: it lapsed during the block.
      expect(leases.get(overdue)).to.be.lessThan(start + 300 + LEASE_MS + 200);
      expect(errors).to.deep.equal([]);
    } finally {
      await keeper.release();
    }
  });

  it('tells the executor when another process took an instance of a running attempt over', async function () {
    h = await openHarness(engine.env());
    const [id] = await twoClaimed();
    const lost: [number, string | null][] = [];
    const keeper = HeartbeatThread.shared().keep({
      owner: OWNER,
      metadataFile: h.db.location,
      leaseS: LEASE_MS / 1000,
      heartbeatS: 0.1,
      onLost: (key, holder) => lost.push([key, holder]),
      onError: () => undefined,
    });
    try {
      keeper.track(7, [{ id, tryNumber: 1 }], null);
      await h.db.tx((sql) => sql.run('UPDATE task_instances SET lease_owner = ?, try_number = 2 WHERE id = ?', ['elsewhere:2:cafe', id]));
      await waitUntil(() => lost.length > 0, 'the loss to be reported');
      expect(lost).to.deep.equal([[7, 'elsewhere:2:cafe']]);
    } finally {
      await keeper.release();
    }
  });

  it('binds values as Sequelize replacements do: a list, rows, quoted question marks left alone', function () {
    expect(expandReplacements("SELECT '?' FROM t WHERE a = ? AND id IN (?)", [1, [2, 3]])).to.deep.equal({
      text: "SELECT '?' FROM t WHERE a = ? AND id IN (?, ?)",
      values: [1, 2, 3],
    });
    expect(expandReplacements('INSERT INTO t VALUES ?', [[[1, 'x'], [2, null]]])).to.deep.equal({ text: 'INSERT INTO t VALUES (?, ?), (?, ?)', values: [1, 'x', 2, null] });
    expect(() => expandReplacements('SELECT ? , ?', [1])).to.throw(/2 placeholder\(s\) for 1 value\(s\)/);
  });
});
