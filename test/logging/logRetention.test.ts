import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { attemptLogPath, openAttemptLog, type AttemptRef } from '../../scheduler/logging.js';
import { removeOldTaskLogs } from '../../scheduler/logRetention.js';
import { useTmpDir } from '../helpers/tmp.js';

const DAY = 86_400_000;
const NOW = new Date('2024-06-30T12:00:00Z');

/** Writes an attempt log whose mtime is `daysAgo` days before NOW. */
async function attempt(logDir: string, ref: AttemptRef, daysAgo: number): Promise<string> {
  const log = openAttemptLog(logDir, [ref]);
  log.info('hello');
  await log.close();
  const file = attemptLogPath(logDir, ref);
  const t = new Date(NOW.getTime() - daysAgo * DAY);
  utimesSync(file, t, t);
  return file;
}

describe('task log retention', () => {
  const tmp = useTmpDir('drivetrain-retention-');

  it('removes runs whose newest file is older than the retention and keeps the rest', async () => {
    const old = { dagId: 'daily', runId: 'scheduled__2024-05-01T00:00:00+00:00', taskId: 'a', attempt: 1 };
    const recent = { ...old, runId: 'scheduled__2024-06-29T00:00:00+00:00' };
    // An old run with one recent retry: its newest file is recent, so the whole run stays.
    const retried = { ...old, runId: 'scheduled__2024-05-02T00:00:00+00:00' };
    await attempt(tmp.dir, old, 40);
    await attempt(tmp.dir, { ...old, taskId: 'b' }, 35);
    await attempt(tmp.dir, recent, 1);
    const retriedFirst = await attempt(tmp.dir, retried, 40);
    await attempt(tmp.dir, { ...retried, attempt: 2 }, 2);

    const removed = await removeOldTaskLogs(tmp.dir, 30, NOW);
    expect(removed).to.equal(1);
    expect(readdirSync(path.join(tmp.dir, 'dag_id=daily')).sort()).to.deep.equal([
      'run_id=scheduled__2024-05-02T00:00:00+00:00',
      'run_id=scheduled__2024-06-29T00:00:00+00:00',
    ]);
    expect(existsSync(retriedFirst)).to.equal(true);
  });

  it('removes a DAG directory left empty but never scheduler.log or its rotated files', async () => {
    const ref = { dagId: 'gone', runId: 'manual__2024-01-01T00:00:00+00:00', taskId: 't', attempt: 1 };
    await attempt(tmp.dir, ref, 100);
    await attempt(tmp.dir, { ...ref, dagId: 'kept' }, 1);
    for (const f of ['scheduler.log', 'scheduler.log.1']) {
      writeFileSync(path.join(tmp.dir, f), '{}\n');
      utimesSync(path.join(tmp.dir, f), new Date(0), new Date(0));
    }
    expect(await removeOldTaskLogs(tmp.dir, 7, NOW)).to.equal(1);
    expect(readdirSync(tmp.dir).sort()).to.deep.equal(['dag_id=kept', 'scheduler.log', 'scheduler.log.1']);
  });

  it('judges an empty run directory by its own time', async () => {
    const emptyRun = path.join(tmp.dir, 'dag_id=d', 'run_id=manual__x');
    mkdirSync(emptyRun, { recursive: true });
    utimesSync(emptyRun, new Date(NOW.getTime() - 10 * DAY), new Date(NOW.getTime() - 10 * DAY));
    expect(await removeOldTaskLogs(tmp.dir, 5, NOW)).to.equal(1);
    expect(existsSync(path.join(tmp.dir, 'dag_id=d'))).to.equal(false);
  });

  it('removes nothing when retention is 0 days or the log directory does not exist', async () => {
    await attempt(tmp.dir, { dagId: 'd', runId: 'r', taskId: 't', attempt: 1 }, 1000);
    expect(await removeOldTaskLogs(tmp.dir, 0, NOW)).to.equal(0);
    expect(existsSync(path.join(tmp.dir, 'dag_id=d'))).to.equal(true);
    expect(await removeOldTaskLogs(path.join(tmp.dir, 'missing'), 1, NOW)).to.equal(0);
  });

  it('rejects a negative retention quoting the value', async () => {
    let caught: unknown;
    await removeOldTaskLogs(tmp.dir, -1, NOW).catch((e: unknown) => (caught = e));
    expect((caught as Error).message).to.equal("log retention must be a number of days >= 0, got '-1'");
  });
});
