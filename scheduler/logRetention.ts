/**
 * Removes the task logs of old runs. A run's directory goes once its NEWEST file is older than the
 * retention, so a long or retried run is never cut in half while it is still writing. scheduler.log
 * (rotated by winston) is never touched: only `dag_id=*` / `run_id=*` directories are considered.
 */
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';

const DAY_MS = 86_400_000;

/** Newest mtime of any file below `dir` (the directory's own mtime when it holds no file). */
async function newestMtime(dir: string): Promise<number> {
  let newest = -Infinity;
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, await newestMtime(p));
    else newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  if (newest === -Infinity) newest = (await stat(dir)).mtimeMs;
  return newest;
}

async function subdirs(dir: string, prefix: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && e.name.startsWith(prefix)).map((e) => path.join(dir, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Removes every `$logDir/dag_id=*\/run_id=*` directory whose newest file is older than
 * `now - olderThanDays` (by mtime), then any `dag_id=*` directory left empty. Returns how many run
 * directories were removed. `olderThanDays` 0 means retention is off (nothing is removed); a negative
 * or non-finite value is a RangeError. A missing log directory removes nothing.
 */
export async function removeOldTaskLogs(logDir: string, olderThanDays: number, now: Date): Promise<number> {
  if (!Number.isFinite(olderThanDays) || olderThanDays < 0) {
    throw new RangeError(`log retention must be a number of days >= 0, got '${olderThanDays}'`);
  }
  if (olderThanDays === 0) return 0;
  const cutoff = now.getTime() - olderThanDays * DAY_MS;
  let removed = 0;
  for (const dagDir of await subdirs(logDir, 'dag_id=')) {
    for (const runDir of await subdirs(dagDir, 'run_id=')) {
      let newest: number;
      try {
        newest = await newestMtime(runDir);
      } catch (err) {
        // Removed concurrently (another process's retention pass): nothing to do.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (newest < cutoff) {
        await rm(runDir, { recursive: true, force: true });
        removed++;
      }
    }
    try {
      await rmdir(dagDir); // only succeeds when empty, which is exactly when it should go
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
