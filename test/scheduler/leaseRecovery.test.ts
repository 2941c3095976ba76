/**
 * The lease module on a real metadata file: owner ids, which owners count as dead, the heartbeat's
 * renewal and the recovery of lost instances. lease.test.ts holds the two-pass takeover and the
 * try guard on completions.
 */
import { expect } from 'chai';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { spawn } from 'node:child_process';
import os from 'node:os';
import {
  forgetLiveOwner,
  newLeaseOwner,
  ownerIsDeadHere,
  parseLeaseOwner,
  recoverLostTaskInstances,
  recoverOrphanedBackfillRuns,
  registerLiveOwner,
  renewLeases,
} from '../../scheduler/lease.js';
import { defineDag } from '../../scheduler/dag.js';
import { openHarness, type Harness } from './harness.js';

/** The pid of a process that has exited: a child started and waited for (once per file: it costs a process). */
let exited: Promise<number> | undefined;
function deadPid(): Promise<number> {
  exited ??= new Promise((resolve, reject) => {
    const child = spawn('true');
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
  return exited;
}

/** An owner id on another machine: never dead "here", so only its lease decides. */
const ELSEWHERE = 'elsewhere.example:4242:0ther';
const NOW = 1_700_000_000_000;

interface InstanceRow {
  readonly task_id: string;
  readonly state: string | null;
  readonly try_number: number;
  readonly lease_owner: string | null;
  readonly lease_expires_at: number | null;
  readonly heartbeat_at: number | null;
  readonly next_retry_at: number | null;
  readonly end_date: string | null;
  readonly last_error: string | null;
}

forEachMetadataEngine('lease owners, heartbeats and recovery', (engine) => {
  let h: Harness;
  beforeEach(async () => (h = await openHarness(engine.env())));
  afterEach(async () => h.close());

  const dag = defineDag({ id: 'leased', schedule: '@daily', startDate: '2024-01-01', tasks: { only: { run: () => undefined } } });

  /** A running instance of the one run, one task per call, as a claim leaves it. */
  async function running(taskId: string, row: { owner: string | null; expiresAt: number | null; tryNumber?: number; maxTries?: number }): Promise<void> {
    await h.db.tx((sql) =>
      sql.run(
        `INSERT INTO task_instances (run_pk, dag_id, run_id, task_id, state, try_number, max_tries, lease_owner, lease_expires_at)
         SELECT id, dag_id, run_id, ?, 'running', ?, ?, ?, ? FROM dag_runs`,
        [taskId, row.tryNumber ?? 1, row.maxTries ?? 3, row.owner, row.expiresAt],
      ),
    );
  }

  const instances = async (): Promise<Record<string, InstanceRow>> =>
    Object.fromEntries(
      (
        await h.db.read((sql) =>
          sql.all<InstanceRow>('SELECT task_id, state, try_number, lease_owner, lease_expires_at, heartbeat_at, next_retry_at, end_date, last_error FROM task_instances'),
        )
      ).map((r) => [r.task_id, r]),
    );

  beforeEach(async () => {
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.db.tx((sql) => sql.run("UPDATE dag_runs SET state = 'running'"));
  });

  describe('owner ids', () => {
    it('names this host and pid, and differs between two executors of one process', () => {
      const a = newLeaseOwner();
      expect(a).to.match(new RegExp(`^${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}:[0-9a-f]{8}$`));
      expect(newLeaseOwner()).to.not.equal(a);
      expect(parseLeaseOwner(a)).to.deep.equal({ host: os.hostname(), pid: process.pid });
    });

    it('reads a host that itself contains colons, and nothing from an id that is not an owner id', () => {
      expect(parseLeaseOwner('fe80::1:77:abcd')).to.deep.equal({ host: 'fe80::1', pid: 77 });
      expect(parseLeaseOwner('host:77')).to.equal(undefined);
      expect(parseLeaseOwner('12:34'), 'two parts, even numeric ones, are no owner id').to.equal(undefined);
      expect(parseLeaseOwner('host:seven:abcd')).to.equal(undefined);
    });
  });

  describe('dead owners', () => {
    it('never calls an owner on another host dead, nor an id it cannot read', () => {
      expect(ownerIsDeadHere(ELSEWHERE)).to.equal(false);
      expect(ownerIsDeadHere('not an owner')).to.equal(false);
    });

    it('calls an executor of this process alive until it is forgotten, then dead', () => {
      const owner = newLeaseOwner();
      expect(ownerIsDeadHere(owner), 'an earlier start of this process with our pid').to.equal(true);
      registerLiveOwner(owner);
      try {
        expect(ownerIsDeadHere(owner)).to.equal(false);
      } finally {
        forgetLiveOwner(owner);
      }
      expect(ownerIsDeadHere(owner)).to.equal(true);
    });

    it('calls an owner whose process on this host has exited dead, and one still running alive', async () => {
      expect(ownerIsDeadHere(`${os.hostname()}:${await deadPid()}:abcd0123`)).to.equal(true);
      expect(ownerIsDeadHere(`${os.hostname()}:${process.ppid}:abcd0123`)).to.equal(false);
    });
  });

  describe('heartbeat', () => {
    it("moves the expiry of the owner's running leases to now plus the lease, and records the beat", async () => {
      const me = 'me.example:1:aaaa';
      await running('mine', { owner: me, expiresAt: NOW + 1_000 });
      await running('theirs', { owner: ELSEWHERE, expiresAt: NOW + 1_000 });
      await renewLeases(h.db, me, 30_000, NOW + 500);
      const tis = await instances();
      expect(tis.mine).to.include({ lease_expires_at: NOW + 500 + 30_000, heartbeat_at: NOW + 500 });
      expect(tis.theirs).to.include({ lease_expires_at: NOW + 1_000, heartbeat_at: null });
    });

    it('keeps an instance found by the next recovery only while its owner beats', async () => {
      const me = 'me.example:1:aaaa';
      await running('only', { owner: me, expiresAt: NOW + 10_000 });
      await renewLeases(h.db, me, 60_000, NOW + 5_000);
      expect(await recoverLostTaskInstances(h.db, 'recoverer.example:2:bbbb', NOW + 20_000)).to.deep.equal([]);
      expect(await recoverLostTaskInstances(h.db, 'recoverer.example:2:bbbb', NOW + 66_000)).to.have.length(1);
    });
  });

  describe('recovery of lost instances', () => {
    const self = 'recoverer.example:2:bbbb';

    it('re-queues an instance whose lease has expired, due now, with the lost try in its error', async () => {
      await running('only', { owner: ELSEWHERE, expiresAt: NOW - 1, tryNumber: 2, maxTries: 4 });
      const recovered = await recoverLostTaskInstances(h.db, self, NOW);
      const message = `attempt 2 lost: lease of ${ELSEWHERE} expired`;
      expect(recovered).to.have.length(1);
      expect(recovered[0]).to.deep.include({ dagId: 'leased', runId: 'backfill__2024-01-01T00:00:00+00:00', taskId: 'only', tryNumber: 2, newState: 'up_for_retry', reason: message });
      expect(recovered[0].id).to.be.a('number');
      expect((await instances()).only).to.deep.equal({
        task_id: 'only',
        state: 'up_for_retry',
        try_number: 2,
        lease_owner: null,
        lease_expires_at: null,
        heartbeat_at: null,
        next_retry_at: NOW,
        end_date: new Date(NOW).toISOString(),
        last_error: message,
      });
    });

    it('leaves an instance whose lease expires exactly now, or later, to its owner', async () => {
      await running('now', { owner: ELSEWHERE, expiresAt: NOW });
      await running('later', { owner: ELSEWHERE, expiresAt: NOW + 60_000 });
      expect(await recoverLostTaskInstances(h.db, self, NOW)).to.deep.equal([]);
      expect(Object.values(await instances()).map((t) => t.state)).to.deep.equal(['running', 'running']);
    });

    it('fails an instance out of tries instead of re-queuing it, and re-queues one on its last try', async () => {
      await running('spent', { owner: ELSEWHERE, expiresAt: NOW - 1, tryNumber: 4, maxTries: 3 });
      await running('last', { owner: ELSEWHERE, expiresAt: NOW - 1, tryNumber: 3, maxTries: 3 });
      const byTask = Object.fromEntries((await recoverLostTaskInstances(h.db, self, NOW)).map((r) => [r.taskId, r.newState]));
      expect(byTask).to.deep.equal({ spent: 'failed', last: 'up_for_retry' });
      const tis = await instances();
      expect(tis.spent).to.include({ state: 'failed', next_retry_at: null });
      expect(tis.last).to.include({ state: 'up_for_retry', next_retry_at: NOW });
    });

    it('records the alert of each lost attempt with the recovery: a retry for one re-queued, a failure for one out of tries', async () => {
      await running('spent', { owner: ELSEWHERE, expiresAt: NOW - 1, tryNumber: 4, maxTries: 3 });
      await running('last', { owner: ELSEWHERE, expiresAt: NOW - 1, tryNumber: 3, maxTries: 3 });
      await running('alive', { owner: ELSEWHERE, expiresAt: NOW + 60_000 });
      await recoverLostTaskInstances(h.db, self, NOW);
      const alerts = await h.db.read((sql) =>
        sql.all<{ event: string; task_id: string; try_number: number; error: string; created_at: string }>(
          'SELECT event, task_id, try_number, error, created_at FROM alerts ORDER BY task_id',
        ),
      );
      const at = new Date(NOW).toISOString();
      expect(alerts).to.deep.equal([
        { event: 'task_retry', task_id: 'last', try_number: 3, error: `attempt 3 lost: lease of ${ELSEWHERE} expired`, created_at: at },
        { event: 'task_failed', task_id: 'spent', try_number: 4, error: `attempt 4 lost: lease of ${ELSEWHERE} expired`, created_at: at },
      ]);
    });

    it('recovers an instance running without an owner or without an expiry', async () => {
      await running('ownerless', { owner: null, expiresAt: NOW + 60_000 });
      await running('endless', { owner: ELSEWHERE, expiresAt: null });
      const reasons = Object.fromEntries((await recoverLostTaskInstances(h.db, self, NOW)).map((r) => [r.taskId, r.reason]));
      expect(reasons).to.deep.equal({ ownerless: 'attempt 1 lost: running without a lease owner', endless: `attempt 1 lost: lease of ${ELSEWHERE} expired` });
    });

    it('recovers at once an instance whose owner process on this host is gone, lease or not', async () => {
      const dead = `${os.hostname()}:${await deadPid()}:dead0001`;
      await running('only', { owner: dead, expiresAt: NOW + 3_600_000 });
      const [r] = await recoverLostTaskInstances(h.db, self, NOW);
      expect(r).to.include({ taskId: 'only', newState: 'up_for_retry', reason: `attempt 1 lost: owner ${dead} is no longer running` });
    });

    it('never recovers what the recovering process itself holds, expired or not', async () => {
      await running('only', { owner: self, expiresAt: NOW - 60_000 });
      expect(await recoverLostTaskInstances(h.db, self, NOW)).to.deep.equal([]);
      expect((await instances()).only.state).to.equal('running');
    });
  });

  describe('orphaned backfill runs', () => {
    const self = 'recoverer.example:2:bbbb';
    const runs = () => h.db.read((sql) => sql.all<{ state: string; owner: string | null }>('SELECT state, owner FROM dag_runs ORDER BY logical_date'));

    it('re-queues the running backfill runs of a dead backfill on this host, and names them', async () => {
      const dead = `${os.hostname()}:${await deadPid()}:dead0002`;
      await h.db.tx((sql) => sql.run('UPDATE dag_runs SET owner = ?', [dead]));
      expect(await recoverOrphanedBackfillRuns(h.db, self)).to.deep.equal([{ dagId: 'leased', runId: 'backfill__2024-01-01T00:00:00+00:00', owner: dead }]);
      expect(await runs()).to.deep.equal([{ state: 'queued', owner: null }]);
    });

    it('leaves the runs of a backfill that may be alive, and its own', async () => {
      for (const owner of [ELSEWHERE, self]) {
        await h.db.tx((sql) => sql.run('UPDATE dag_runs SET owner = ?', [owner]));
        expect(await recoverOrphanedBackfillRuns(h.db, self)).to.deep.equal([]);
        expect(await runs()).to.deep.equal([{ state: 'running', owner }]);
      }
    });
  });
});
