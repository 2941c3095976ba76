/**
 * Leases on a real metadata file: recovery takes over an expired lease of a live owner only when two
 * passes in a row saw it expired, and a completion from a copy that lost its instance never overwrites
 * the state of the try that holds it now.
 */
import { expect } from 'chai';
import { forEachMetadataEngine } from '../helpers/metadataEngines.js';
import { lostTo, recoverLostTaskInstances } from '../../scheduler/lease.js';
import type { MetadataDb } from '../../scheduler/metadata/db.js';
import type { CompletionRow } from '../../scheduler/metadata/statements.js';
import { openHarness, type Harness } from './harness.js';

/** An owner on another host: only its lease can say it is lost (no pid to check). */
const ELSEWHERE = 'other-host.example:4242:cafe';

/** One running run with one task instance; returns the instance id. */
async function oneInstance(db: MetadataDb): Promise<number> {
  return db.tx(async (sql) => {
    const st = db.statements;
    await st.insertRuns(sql, [{ dagId: 'd', runId: 'r', logicalDate: '2024-01-01', intervalStart: '2024-01-01', intervalEnd: '2024-01-02', runType: 'manual', conf: '{}' }], 'now');
    const [run] = await st.runsBetween(sql, 'd', '', '9999');
    await st.startRuns(sql, [run.id], 'me', 'now');
    await st.insertTaskInstances(sql, [{ runPk: run.id, dagId: 'd', runId: 'r', taskId: 't', maxTries: 3 }]);
    const [ti] = await st.taskInstancesOf(sql, [run.id]);
    return ti.id;
  });
}

function claimBy(db: MetadataDb, id: number, owner: string, leaseExpiresAt: number): Promise<void> {
  return db.tx(async (sql) => {
    await db.statements.claim(sql, [id], { owner, pid: 1, hostname: 'h', nowIso: 'x', nowMs: 1, leaseExpiresAt });
  });
}

async function instance(db: MetadataDb, id: number) {
  const [row] = await db.read((sql) =>
    sql.all<{ state: string; try_number: number; lease_owner: string | null; last_error: string | null }>(
      'SELECT state, try_number, lease_owner, last_error FROM task_instances WHERE id = ?',
      [id],
    ),
  );
  return row;
}

function completion(id: number, tryNumber: number, state: CompletionRow['state']): CompletionRow {
  return { id, tryNumber, state, endIso: 'y', durationS: 1, nextRetryAt: null, error: state === 'success' ? null : 'Error: boom', interrupted: false };
}

describe('leases: which attempt is lost', function () {
  it('calls an attempt lost as soon as one of its instances is not running under its owner at its try, naming who holds it now', () => {
    const items = [
      { id: 1, tryNumber: 2 },
      { id: 2, tryNumber: 1 },
    ];
    const row = (id: number, state: string | null, tryNumber: number, owner: string | null) => ({ id, state, try_number: tryNumber, lease_owner: owner });
    const mine = row(1, 'running', 2, 'me');
    expect(lostTo('me', items, [mine, row(2, 'running', 1, 'me')])).to.equal(undefined);
    // Another process recovered it and claimed it again.
    expect(lostTo('me', items, [mine, row(2, 'running', 2, ELSEWHERE)])).to.deep.equal({ holder: ELSEWHERE });
    // Recovered, and this owner runs the next try: this copy is stale all the same.
    expect(lostTo('me', items, [mine, row(2, 'running', 2, 'me')])).to.deep.equal({ holder: 'me' });
    // Another owner at the same try (a claim after a recovery that kept the try).
    expect(lostTo('me', items, [mine, row(2, 'running', 1, ELSEWHERE)])).to.deep.equal({ holder: ELSEWHERE });
    // Not running any more (recovered and waiting for its retry), or gone: nobody holds it.
    expect(lostTo('me', items, [mine, row(2, 'up_for_retry', 1, null)])).to.deep.equal({ holder: null });
    expect(lostTo('me', items, [mine, row(2, 'success', 1, 'me')])).to.deep.equal({ holder: null });
    expect(lostTo('me', items, [mine])).to.deep.equal({ holder: null });
    expect(lostTo('me', [], [])).to.equal(undefined);
  });
});

forEachMetadataEngine('leases', (engine) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('takes over an expired lease of a live owner only when the previous pass saw the same lease expired', async function () {
    h = await openHarness(engine.env());
    const id = await oneInstance(h.db);
    const now = Date.now();
    await claimBy(h.db, id, ELSEWHERE, now - 1000);
    const seen = new Map<number, string>();
    // First sight: its owner may have been kept from renewing by a write lock it could not get.
    expect(await recoverLostTaskInstances(h.db, 'me', now, seen)).to.deep.equal([]);
    expect(await instance(h.db, id)).to.include({ state: 'running', lease_owner: ELSEWHERE });
    // The owner renewed meanwhile: nothing is lost.
    await h.db.tx((sql) => h.db.statements.renewLeases(sql, ELSEWHERE, now + 10_000, now));
    expect(await recoverLostTaskInstances(h.db, 'me', now + 500, seen)).to.deep.equal([]);
    // Expired again, a new lease: the count starts over.
    expect(await recoverLostTaskInstances(h.db, 'me', now + 20_000, seen)).to.deep.equal([]);
    const [lost] = await recoverLostTaskInstances(h.db, 'me', now + 20_500, seen);
    expect(lost).to.include({ id, newState: 'up_for_retry', reason: `attempt 1 lost: lease of ${ELSEWHERE} expired` });
    expect(await instance(h.db, id)).to.include({ state: 'up_for_retry', lease_owner: null });
  });

  it('starts the count over when the owner renewed between two passes, even when the renewed lease has lapsed too', async function () {
    h = await openHarness(engine.env());
    const id = await oneInstance(h.db);
    const now = Date.now();
    await claimBy(h.db, id, ELSEWHERE, now - 1000);
    const seen = new Map<number, string>();
    expect(await recoverLostTaskInstances(h.db, 'me', now, seen)).to.deep.equal([]);
    // The owner beat once more, then stalled past its new expiry before the next pass: it was alive
    // after the first sight, so this sight is a first one again.
    await h.db.tx((sql) => h.db.statements.renewLeases(sql, ELSEWHERE, now + 100, now));
    expect(await recoverLostTaskInstances(h.db, 'me', now + 500, seen)).to.deep.equal([]);
    expect(await instance(h.db, id)).to.include({ state: 'running', lease_owner: ELSEWHERE });
    const [lost] = await recoverLostTaskInstances(h.db, 'me', now + 1000, seen);
    expect(lost).to.include({ id, newState: 'up_for_retry' });
  });

  it('records nothing from a copy whose instance another process recovered and this owner claimed again', async function () {
    h = await openHarness(engine.env());
    const id = await oneInstance(h.db);
    await claimBy(h.db, id, 'me', Date.now() - 1000);
    // Another process recovers try 1; this owner claims the instance again: try 2 runs.
    const [lost] = await recoverLostTaskInstances(h.db, ELSEWHERE);
    expect(lost).to.include({ id, newState: 'up_for_retry' });
    await claimBy(h.db, id, 'me', Date.now() + 60_000);
    // The first copy ends (failed, aborted or not): its completion must not end try 2.
    await h.db.tx((sql) => h.db.statements.recordCompletions(sql, 'me', [completion(id, 1, 'failed')]));
    expect(await instance(h.db, id)).to.deep.equal({ state: 'running', try_number: 2, lease_owner: 'me', last_error: `attempt 1 lost: lease of me expired` });
    await h.db.tx((sql) => h.db.statements.recordCompletions(sql, 'me', [completion(id, 2, 'success')]));
    expect(await instance(h.db, id)).to.deep.equal({ state: 'success', try_number: 2, lease_owner: null, last_error: null });
  });
});
