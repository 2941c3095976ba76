/**
 * The deliverer: takes due, undelivered rows of the alerts outbox, runs the DAG file's callback of
 * each once, POSTs the webhook's events, and marks them delivered right after the 2xx (or defers them
 * with backoff while the receiver is down). A row is claimed in one write transaction under this
 * deliverer's owner id (BEGIN IMMEDIATE on SQLite makes that exclusive, as for task claims), so two
 * daemons on one home never send the same row; a claim of a dead process on this host, or an expired
 * one, is taken over, so a restart picks up what a crash left. A crash between the POST and the mark
 * sends that alert again: delivery is at least once, and that window is one UPDATE long.
 */
import { errorText } from '../attempt.js';
import type { AlertCallback, AlertPayload, Dag, Logger } from '../interfaces.js';
import { forgetLiveOwner, newLeaseOwner, ownerIsDeadHere, registerLiveOwner } from '../lease.js';
import type { MetadataDb } from '../metadata/db.js';
import type { AlertRow } from '../metadata/statements.js';
import type { Settings } from '../settings.js';
import { WEBHOOK_EVENTS } from './outbox.js';
import { InterruptibleSleep } from '../InterruptibleSleep.js';
import { payloadOf } from './payload.js';
import { WEBHOOK_TIMEOUT_MS, postAlert, webhookOrigin } from './webhook.js';

/** Options of {@link AlertDeliverer}. */
export interface DelivererOptions {
  readonly db: MetadataDb;
  readonly settings: Settings;
  readonly log: Logger;
  /** The current DAGs by id, for their callbacks. */
  readonly dags: () => ReadonlyMap<string, Dag>;
  /** Claim owner id; default a fresh `host:pid:random`. */
  readonly owner?: string;
  /** How often an idle deliverer looks for due alerts, ms. Default 1000. */
  readonly pollMs?: number;
  /** The first retry delay of a failed POST, doubling per attempt, ms. Default 1000. */
  readonly minBackoffMs?: number;
  /** The cap of that delay, ms. Default 300000. */
  readonly maxBackoffMs?: number;
  /** How long a claim holds before another deliverer may take the row over, ms. Default 120000. */
  readonly claimMs?: number;
}

/** Rows claimed at once: a short transaction, and a receiver that is down fails few POSTs in a row. */
const CLAIM_BATCH = 20;

/** The callback of an event: the task's for its own events, the DAG's for its runs' (and for a retry of a task without one). */
export function callbackFor(row: Pick<AlertRow, 'event' | 'dag_id' | 'task_id'>, dags: ReadonlyMap<string, Dag>): AlertCallback | undefined {
  const dag = dags.get(row.dag_id);
  if (!dag) return undefined;
  const task = row.task_id === null ? undefined : dag.tasks.find((t) => t.id === row.task_id);
  switch (row.event) {
    case 'task_retry':
      return task?.onRetry ?? dag.onRetry;
    case 'task_failed':
      return task?.onFailure;
    case 'task_success':
      return task?.onSuccess;
    case 'dag_run_failed':
      return dag.onFailure;
    case 'dag_run_success':
      return dag.onSuccess;
    default:
      return undefined;
  }
}

/** Delivers the alerts outbox until stopped. */
export class AlertDeliverer {
  readonly owner: string;
  private readonly pollMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly claimMs: number;
  private stopping = false;
  /** Aborts a POST in flight at stop: the daemon must exit within Docker's stop timeout; the row is sent again later. */
  private readonly stopped = new AbortController();
  private loopDone: Promise<void> | undefined;
  /** The loop's wait between turns, cut short when work arrives. */
  private readonly idle = new InterruptibleSleep();

  constructor(private readonly opts: DelivererOptions) {
    this.owner = opts.owner ?? newLeaseOwner();
    registerLiveOwner(this.owner);
    this.pollMs = opts.pollMs ?? 1000;
    this.minBackoffMs = opts.minBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 300_000;
    this.claimMs = opts.claimMs ?? 120_000;
  }

  /** Starts the loop. */
  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Looks for due alerts now (something was just recorded). */
  wake(): void {
    this.idle.wake();
  }

  /** Ends the loop after the alert in hand; what is left stays in the outbox for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    this.idle.wake();
    await this.loopDone;
    forgetLiveOwner(this.owner);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let delivered = 0;
      try {
        delivered = await this.deliverDue();
      } catch (err) {
        this.opts.log.error('alert delivery failed', { error: errorText(err) });
      }
      if (this.stopping) break;
      if (delivered > 0) continue;
      await this.idle.sleep(this.pollMs);
    }
  }

  /** One pass: claims (or renews its claim on) the due alerts and handles each; resolves with how many were handled. */
  async deliverDue(): Promise<number> {
    const { db } = this.opts;
    const nowMs = Date.now();
    // A read first: an idle deliverer must not take the write lock every poll.
    const due = await db.read((sql) => db.statements.nextAlertDue(sql));
    if (due === null || due > nowMs) return 0;
    const rows = await db.tx(async (sql) => {
      const dead = (await db.statements.alertClaimOwners(sql, this.owner)).filter(ownerIsDeadHere);
      return db.statements.claimAlerts(sql, this.owner, nowMs, nowMs + this.claimMs, dead, CLAIM_BATCH);
    });
    let handled = 0;
    for (const row of rows) {
      if (this.stopping) break;
      // A row whose claim could run out during its POST waits for the next pass, which renews the claim:
      // past its expiry another deliverer may take it, and both would send it.
      if (row.claim_expires_at === null || Date.now() + WEBHOOK_TIMEOUT_MS >= row.claim_expires_at) continue;
      await this.handle(row);
      handled += 1;
    }
    return handled;
  }

  private async handle(row: AlertRow): Promise<void> {
    const { db, settings, log } = this.opts;
    const payload = payloadOf(row, settings);
    // Recorded at once, so a webhook retried later does not run the callback again.
    if (row.callback_pending && (await this.runCallback(row, payload))) {
      await db.tx((sql) => db.statements.alertCallbackDone(sql, row.id, this.owner));
    }
    const url = settings.alertWebhookUrl;
    if (!url || !WEBHOOK_EVENTS.has(row.event)) {
      await db.tx((sql) => db.statements.alertDelivered(sql, row.id, this.owner, new Date().toISOString()));
      return;
    }
    try {
      await postAlert(url, payload, undefined, this.stopped.signal);
    } catch (err) {
      const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** row.attempts);
      const nextAt = Date.now() + delay;
      await db.tx((sql) => db.statements.alertDeferred(sql, row.id, this.owner, nextAt, errorText(err)));
      log.warn('alert not delivered, will retry', { event: row.event, dagId: row.dag_id, attempt: row.attempts + 1, retryInMs: delay, error: errorText(err) });
      return;
    }
    await db.tx((sql) => db.statements.alertDelivered(sql, row.id, this.owner, new Date().toISOString()));
    log.info('alert delivered', { event: row.event, dagId: row.dag_id, taskId: row.task_id, runId: row.run_id, webhook: webhookOrigin(url) });
  }

  /** Runs the row's callback, if it has one (false when not); a throw is logged and goes no further (no alert about an alert). */
  private async runCallback(row: AlertRow, payload: AlertPayload): Promise<boolean> {
    const fn = callbackFor(row, this.opts.dags());
    if (!fn) return false;
    try {
      await fn(payload);
    } catch (err) {
      this.opts.log.error('alert callback failed', { event: row.event, dagId: row.dag_id, taskId: row.task_id, runId: row.run_id, error: errorText(err) });
    }
    return true;
  }
}
