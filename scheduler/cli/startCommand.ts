/** `drivetrain start`: the daemon until SIGTERM/SIGINT, then a clean stop and exit 0. */
import { Daemon } from '../daemon.js';
import { createSchedulerLogger } from '../logging.js';
import { MetadataDb } from '../metadata/db.js';
import { settingsOnce } from './context.js';

/** Runs the daemon; resolves with 0 once a signal has stopped it cleanly. */
export async function startCommand(): Promise<number> {
  const settings = settingsOnce();
  const log = createSchedulerLogger(settings, { stdout: true });
  let db: MetadataDb | undefined;
  try {
    db = await MetadataDb.open(settings.metadataUrl);
    const daemon = new Daemon({ settings, db, log });
    const signalled = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    try {
      await daemon.start();
    } catch (err) {
      // E.g. the port is taken: stop what did start, so the process can exit with the error.
      await daemon.stop();
      throw err;
    }
    const signal = await signalled;
    log.info('signal received', { signal });
    await daemon.stop();
    return 0;
  } finally {
    await db?.close();
    await log.close();
  }
}
