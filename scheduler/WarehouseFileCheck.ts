/**
 * A health check on the warehouse's SQLite file. SQLite keeps working on a file deleted (or replaced)
 * under an open connection: the process writes into an inode nothing else can reach, every later
 * connection opens another file, and tasks fail while the daemon still looks healthy. The check
 * compares the file at the configured path with the one first seen there, so `/healthz` answers 503
 * with the reason until the daemon is restarted on the right file.
 */
import { stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import type { HealthReport } from './httpServer.js';

/** What makes a file the same file: its device and inode. */
interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

function identityOf(s: { dev: number; ino: number }): FileIdentity {
  return { dev: s.dev, ino: s.ino };
}

export class WarehouseFileCheck {
  /** The file first seen at the path; undefined until the warehouse exists (a fresh home has none yet). */
  private seen: FileIdentity | undefined;

  constructor(
    /** The warehouse's SQLite file (settings.warehouseDb). */
    readonly file: string,
  ) {
    if (typeof file !== 'string' || file === '') throw new TypeError(`WarehouseFileCheck: file '${String(file)}' is not a path`);
    try {
      this.seen = identityOf(statSync(file));
    } catch {
      // Not created yet: the first load creates it, and the first check after that records it.
    }
  }

  /** Healthy while the path holds the file first seen there, or no warehouse was ever seen; never rejects. */
  async check(): Promise<HealthReport> {
    let now: FileIdentity;
    try {
      now = identityOf(await stat(this.file));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (this.seen === undefined && code === 'ENOENT') return { healthy: true };
      return { healthy: false, reason: `warehouse database '${this.file}' is gone (${code}): deleted while the daemon runs? restart it` };
    }
    if (this.seen === undefined) {
      this.seen = now;
      return { healthy: true };
    }
    if (now.dev !== this.seen.dev || now.ino !== this.seen.ino) {
      return { healthy: false, reason: `warehouse database '${this.file}' was replaced by another file while the daemon runs: restart it` };
    }
    return { healthy: true };
  }
}
