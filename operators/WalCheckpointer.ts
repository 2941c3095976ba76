/**
 * Copies a warehouse's write-ahead log into the database file in the background, on a connection of
 * its own. By default SQLite does this at the commit of the transaction that grew the WAL past 1000
 * pages, and the commit waits: a load of a million rows waits ~1 s (measured) for its ~350 MB to be
 * copied and synced, while the next load waits for the writer lock. A PASSIVE checkpoint on another
 * connection blocks neither writers nor readers, so the copy overlaps the next task's work.
 */
import sqlite3 from 'sqlite3';

export class WalCheckpointer {
  private db: Promise<sqlite3.Database> | undefined;
  private running: Promise<void> | undefined;
  /** Set when a checkpoint is requested while one runs: the WAL may have grown since it started. */
  private again = false;
  /** Checkpoints run so far. */
  runs = 0;
  /** The last checkpoint's failure, if it failed (a later one may still succeed). */
  lastError: Error | undefined;

  constructor(
    /** The database file. */
    readonly file: string,
  ) {}

  /**
   * Starts a checkpoint, or asks for one more after the running one (requests in between share it).
   * Resolves once the WAL as of this call is copied; never rejects (see {@link lastError}).
   */
  request(): Promise<void> {
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

  /** Waits for the checkpoints requested so far, then closes the connection. */
  async close(): Promise<void> {
    await this.settle();
    const db = await this.db?.catch(() => undefined);
    this.db = undefined;
    if (db) await new Promise<void>((resolve) => db.close(() => resolve()));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const db = await this.connection();
        await new Promise<void>((resolve, reject) => db.all('PRAGMA wal_checkpoint(PASSIVE)', (err) => (err ? reject(err) : resolve())));
        this.runs++;
        this.lastError = undefined;
      } catch (err) {
        this.lastError = err as Error;
      }
    } while (this.again);
  }

  private connection(): Promise<sqlite3.Database> {
    if (!this.db) {
      const opening = new Promise<sqlite3.Database>((resolve, reject) => {
        const db = new sqlite3.Database(this.file, sqlite3.OPEN_READWRITE, (err) => (err ? reject(err) : resolve(db)));
      });
      // A file that could not be opened is tried again on the next request.
      opening.catch(() => {
        if (this.db === opening) this.db = undefined;
      });
      this.db = opening;
    }
    return this.db;
  }
}
