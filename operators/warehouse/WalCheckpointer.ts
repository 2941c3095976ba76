/**
 * Copies a warehouse's write-ahead log into the database file in the background, on a connection of
 * its own. By default SQLite does this at the commit of the transaction that grew the WAL past its
 * autocheckpoint size, and the commit waits while a load's whole WAL is copied and synced, and the
 * next load waits for the writer lock meanwhile. A PASSIVE checkpoint on another connection blocks
 * neither writers nor readers, so the copy overlaps the next task's work (docs/design/wal-checkpoint.md).
 *
 * A PASSIVE checkpoint copies what no reader still needs: frames a reader's snapshot pins are left
 * for the next checkpoint (see {@link WalCheckpointer.lastResult}).
 */
import { SqliteConnection } from './SqliteConnection.js';

const BUSY_TIMEOUT_MS = 5_000;

export class WalCheckpointer {
  private db: Promise<SqliteConnection> | undefined;
  private running: Promise<void> | undefined;
  /** Set when a checkpoint is requested while one runs: the WAL may have grown since it started. */
  private again = false;
  /** Checkpoints run so far. */
  runs = 0;
  /** The last checkpoint's failure, if it failed (a later one may still succeed). */
  lastError: Error | undefined;
  /** What the last checkpoint did: WAL frames in the log, and how many of them are in the database. */
  lastResult: { readonly busy: number; readonly log: number; readonly checkpointed: number } | undefined;
  private closed = false;

  constructor(
    /** The database file. */
    readonly file: string,
  ) {}

  /**
   * Starts a checkpoint, or asks for one more after the running one (requests in between share it).
   * Resolves once a checkpoint that started after this call has run; never rejects (see
   * {@link lastError}). After {@link close}, does nothing.
   */
  request(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Waits for the checkpoints requested so far. */
  async settle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Waits for the checkpoints requested so far, then closes the connection; later requests do nothing. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
    const db = await this.db?.catch(() => undefined);
    this.db = undefined;
    await db?.close().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const db = await this.connection();
        this.lastResult = await db.get<{ busy: number; log: number; checkpointed: number }>('PRAGMA wal_checkpoint(PASSIVE)');
        this.runs++;
        this.lastError = undefined;
      } catch (err) {
        this.lastError = err as Error;
      }
    } while (this.again);
  }

  private connection(): Promise<SqliteConnection> {
    if (!this.db) {
      // Rides out a moment's lock (a connection recovering the WAL); the checkpoint itself never waits.
      const opening = SqliteConnection.open(this.file, { create: false, busyTimeoutMs: BUSY_TIMEOUT_MS });
      // A file that could not be opened is tried again on the next request.
      opening.catch(() => {
        if (this.db === opening) this.db = undefined;
      });
      this.db = opening;
    }
    return this.db;
  }
}
