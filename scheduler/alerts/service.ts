/**
 * Alerts in a long-running process: the deliverer's loop and the periodic deadline check, started
 * and stopped together (the daemon runs one; see docs/design/alerts.md).
 */
import { errorText } from '../attempt.js';
import type { Clock, Dag, Logger } from '../interfaces.js';
import type { MetadataDb } from '../metadata/db.js';
import type { Settings } from '../settings.js';
import { checkDeadlines } from './deadlines.js';
import { AlertDeliverer, type DelivererOptions } from './deliverer.js';

/** How often the deadline check runs: deadlines are hours, so a quarter minute late is on time. */
export const DEADLINE_CHECK_MS = 15_000;

/** Options of {@link startAlerts}. */
export interface AlertsOptions extends Pick<DelivererOptions, 'pollMs' | 'minBackoffMs'> {
  readonly db: MetadataDb;
  readonly settings: Settings;
  readonly log: Logger;
  readonly dags: () => ReadonlyMap<string, Dag>;
  /** The scheduler's clock: deadlines are measured against it. */
  readonly clock: Clock;
}

/** The running alerts of a process. */
export interface RunningAlerts {
  readonly deliverer: AlertDeliverer;
  stop(): Promise<void>;
}

/** Checks deadlines now and every {@link DEADLINE_CHECK_MS}, and starts delivering. */
export async function startAlerts(opts: AlertsOptions): Promise<RunningAlerts> {
  const deliverer = new AlertDeliverer(opts);
  let checking: Promise<void> = Promise.resolve();
  const check = (): Promise<void> =>
    (checking = checkDeadlines(opts.db, opts.dags().values(), opts.clock.now())
      .then((n) => {
        if (n > 0) deliverer.wake();
      })
      .catch((err) => opts.log.error('deadline check failed', { error: errorText(err) })));
  await check();
  const timer = setInterval(() => void check(), DEADLINE_CHECK_MS);
  timer.unref();
  deliverer.start();
  return {
    deliverer,
    async stop() {
      clearInterval(timer);
      await checking;
      await deliverer.stop();
    },
  };
}
