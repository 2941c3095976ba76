/**
 * What the heartbeat thread's two plain connections (PlainMetadataConnection on sqlite3,
 * PlainPgConnection on pg) share: MetadataDb's tx/read over one connection, one statement at a time.
 * A subclass gives the statements (`sql`), a way to run transaction control (`exec`), the BEGIN its
 * engine needs, and how to close.
 */
import { retryWhileBusy } from './busyRetry.js';
import type { MetadataDialect } from './dialect.js';
import type { Sql } from './interfaces.js';

export abstract class QueuedConnection {
  private queue: Promise<unknown> = Promise.resolve();

  protected constructor(protected readonly dialect: MetadataDialect) {}

  /** The connection's statements, with Sequelize-style `?` replacements. */
  protected abstract sql(): Sql;
  /** Runs one statement without values (BEGIN, COMMIT, ROLLBACK). */
  protected abstract exec(text: string): Promise<void>;
  /** The statement that opens a write transaction. */
  protected abstract readonly begin: string;
  /** Closes the underlying connection. */
  protected abstract closeConnection(): Promise<void>;

  /** One statement at a time on the one connection. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs `fn` in one write transaction, again from the start while the engine answers busy (a locked file, a deadlock). */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.enqueue(() =>
      retryWhileBusy(this.dialect, async () => {
        await this.exec(this.begin);
        try {
          const out = await fn(this.sql());
          await this.exec('COMMIT');
          return out;
        } catch (err) {
          await this.exec('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );
  }

  /** Runs read-only statements after the ones queued before. */
  read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.enqueue(() => fn(this.sql()));
  }

  /** `SELECT 1`, as MetadataDb.ping: the database answers a read. */
  async ping(): Promise<void> {
    await this.read((sql) => sql.all('SELECT 1 AS ok'));
  }

  /** Waits for queued statements, then closes the connection. */
  async close(): Promise<void> {
    await this.queue;
    await this.closeConnection();
  }
}
