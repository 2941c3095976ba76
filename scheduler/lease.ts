/**
 * Leases on task instances. A claim writes the claimer's owner id and an expiry; the owner renews it
 * by heartbeat. An instance whose lease expired, or whose owner process on this host is gone, is
 * lost: recovery re-queues it (up_for_retry, due now) with its try counted, or fails it when its
 * tries are used up. Backfill runs carry their starter's owner id too, so a dead backfill's runs go
 * back to queued instead of holding max-active-runs slots.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { recordLostAttemptAlert } from './alerts/outbox.js';
import type { MetadataDb } from './metadata/db.js';

/** Owner ids of the executors alive in this process (see {@link ownerIsDeadHere}). */
const liveHere = new Set<string>();

/** `hostname:pid:random` — unique per process start, even when a pid is reused. */
export function newLeaseOwner(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** Marks `owner` as an executor of this process, alive until {@link forgetLiveOwner}. */
export function registerLiveOwner(owner: string): void {
  liveHere.add(owner);
}

/** `owner` (an executor of this process) has stopped: what it still holds is lost. */
export function forgetLiveOwner(owner: string): void {
  liveHere.delete(owner);
}

/** The host and pid encoded in an owner id (the host may itself contain ':'). */
export function parseLeaseOwner(owner: string): { host: string; pid: number } | undefined {
  const parts = owner.split(':');
  if (parts.length < 3) return undefined;
  const pid = Number(parts[parts.length - 2]);
  if (!Number.isInteger(pid)) return undefined;
  return { host: parts.slice(0, -2).join(':'), pid };
}

/** True when the owner ran on this host and its process no longer exists. */
export function ownerIsDeadHere(owner: string): boolean {
  const parsed = parseLeaseOwner(owner);
  if (!parsed || parsed.host !== os.hostname()) return false;
  // Our own pid: a container restarted with the same hostname gets the same pid, so an owner with it
  // is either an executor of this process or an earlier incarnation, which is dead.
  if (parsed.pid === process.pid) return !liveHere.has(owner);
  try {
    process.kill(parsed.pid, 0);
    return false;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Renews every lease `owner` holds on running task instances but those of `except` (attempts past
 * their timeout, left to lapse). The heartbeat thread runs this on its own connection (heartbeatWorker.ts).
 */
export async function renewLeases(
  db: Pick<MetadataDb, 'tx' | 'statements'>,
  owner: string,
  leaseMs: number,
  nowMs = Date.now(),
  except: readonly number[] = [],
): Promise<void> {
  await db.tx((sql) => db.statements.renewLeases(sql, owner, nowMs + leaseMs, nowMs, except));
}

/**
 * Whether an attempt of `owner` on `items` (each at the try it runs as) has lost its instances:
 * undefined while every one is still running at that try under `owner`, else who holds the first one
 * lost (null: it is not running any more). `rows` are the instances as stored now.
 */
export function lostTo(
  owner: string,
  items: readonly { id: number; tryNumber: number }[],
  rows: readonly { id: number; state: string | null; try_number: number; lease_owner: string | null }[],
): { holder: string | null } | undefined {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const item of items) {
    const row = byId.get(item.id);
    if (row && row.state === 'running' && row.lease_owner === owner && row.try_number === item.tryNumber) continue;
    return { holder: row?.state === 'running' ? row.lease_owner : null };
  }
  return undefined;
}

/** One task instance found lost by {@link recoverLostTaskInstances}. */
export interface RecoveredInstance {
  readonly id: number;
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly tryNumber: number;
  readonly newState: 'up_for_retry' | 'failed';
  readonly reason: string;
}

/**
 * Re-queues (or fails, when out of tries) the running instances whose lease expired or whose owner
 * died on this host. `self` is never considered lost: this process knows what it runs.
 *
 * With `expiredSeen` (the caller keeps it from one pass to the next), an expired lease of an owner not
 * known dead is taken over only when the previous pass saw the same lease expired: a process whose
 * main thread blocked while it held the database's write lock could not renew (nobody could write),
 * and once the lock is free its heartbeat thread renews within a pass. See docs/design/heartbeat.md.
 */
export async function recoverLostTaskInstances(
  db: MetadataDb,
  self: string,
  nowMs = Date.now(),
  expiredSeen?: Map<number, string>,
): Promise<RecoveredInstance[]> {
  return db.tx(async (sql) => {
    const running = await db.statements.runningNotOwnedBy(sql, self);
    const out: RecoveredInstance[] = [];
    const endIso = new Date(nowMs).toISOString();
    // Rebuilt on every try of the transaction (it is retried from the start when the file is busy).
    const expiredNow = new Map<number, string>();
    for (const ti of running) {
      let reason: string | undefined;
      if (ti.lease_owner === null) reason = 'running without a lease owner';
      else if (ownerIsDeadHere(ti.lease_owner)) reason = `owner ${ti.lease_owner} is no longer running`;
      else if (ti.lease_expires_at === null || ti.lease_expires_at < nowMs) {
        const lease = `${ti.lease_owner}@${ti.lease_expires_at}`;
        if (expiredSeen && expiredSeen.get(ti.id) !== lease) {
          expiredNow.set(ti.id, lease);
          continue;
        }
        reason = `lease of ${ti.lease_owner} expired`;
      }
      if (!reason) continue;
      const retry = ti.try_number <= ti.max_tries;
      const message = `attempt ${ti.try_number} lost: ${reason}`;
      await db.statements.endLostAttempt(sql, ti.id, retry, nowMs, endIso, message);
      await recordLostAttemptAlert(sql, db.statements, ti.id, retry, message, endIso);
      out.push({
        id: ti.id,
        dagId: ti.dag_id,
        runId: ti.run_id,
        taskId: ti.task_id,
        tryNumber: ti.try_number,
        newState: retry ? 'up_for_retry' : 'failed',
        reason: message,
      });
    }
    if (expiredSeen) {
      expiredSeen.clear();
      for (const [id, lease] of expiredNow) expiredSeen.set(id, lease);
    }
    return out;
  });
}

/** A backfill run re-queued by {@link recoverOrphanedBackfillRuns}. */
export interface OrphanedRun {
  readonly dagId: string;
  readonly runId: string;
  readonly owner: string;
}

/**
 * Re-queues the running backfill runs whose owner process died on this host (a backfill killed with
 * SIGKILL or a crash; a stopped backfill releases its own). Run after {@link recoverLostTaskInstances},
 * so the dead owner's instances are no longer 'running'. Runs with an instance still running (another
 * backfill racing over the same range holds it) stay.
 */
export async function recoverOrphanedBackfillRuns(db: MetadataDb, self: string): Promise<OrphanedRun[]> {
  return db.tx(async (sql) => {
    const dead = (await db.statements.backfillRunOwners(sql, self)).filter(ownerIsDeadHere);
    if (dead.length === 0) return [];
    const runs = await db.statements.releasableBackfillRuns(sql, dead);
    await db.statements.releaseBackfillRuns(sql, dead);
    return runs.map((r) => ({ dagId: r.dag_id, runId: r.run_id, owner: r.owner }));
  });
}
