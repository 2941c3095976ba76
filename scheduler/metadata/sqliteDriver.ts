/**
 * The sqlite3 module as Sequelize's `dialectModule` (a documented Sequelize option): the same
 * module, except that the Databases it opens are set up (busy timeout, WAL, foreign keys) before
 * Sequelize sees them, and are kept open for reuse when Sequelize closes them.
 *
 * Why reuse: Sequelize's SQLite dialect opens a new connection for every transaction and closes it
 * at commit. A scheduler turn is one short transaction, so opening the file, reading its schema and
 * setting it up again each turn would cost more than the turn's statements (see
 * docs/design/metadata-storage.md). A connection handed back by Sequelize is idle (committed or
 * rolled back), so handing it to the next transaction is what a pool does.
 */
import { createRequire } from 'node:module';
import type sqlite3Types from 'sqlite3';

const require = createRequire(import.meta.url);
const sqlite3 = require('sqlite3') as typeof sqlite3Types;

/** How long a statement waits for another connection's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 15_000;

/**
 * WAL lets readers run beside the one writer; NORMAL sync is durable across process crashes, which
 * is what leases and claims need (a power loss may lose the last commits, never corrupt the file).
 */
const PRAGMAS = 'PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;';

type Callback = (err: Error | null) => void;

/** A sqlite3 Database whose close() returns it to its driver's idle list instead of closing it. */
class PooledDatabase extends sqlite3.Database {
  constructor(
    file: string,
    mode: number,
    onOpen: Callback,
    private readonly idle: PooledDatabase[],
  ) {
    super(file, mode, onOpen);
  }

  /** Keeps the connection for the next transaction; {@link SqliteDriver.closeAll} really closes it. */
  override close(callback?: Callback): void {
    this.idle.push(this);
    if (callback) queueMicrotask(() => callback(null));
  }

  /** Closes the underlying connection. */
  reallyClose(): Promise<void> {
    return new Promise((resolve, reject) => super.close((err) => (err ? reject(err) : resolve())));
  }
}

/** A dialectModule for one metadata file, with its open connections. */
export interface SqliteDriver {
  /** Pass as Sequelize's `dialectModule`. */
  readonly module: object;
  /** Closes every connection this driver opened (after sequelize.close()). */
  closeAll(): Promise<void>;
}

/** A fresh driver: the connections of one Sequelize instance (so of one file). */
export function createSqliteDriver(): SqliteDriver {
  const idle: PooledDatabase[] = [];
  const all = new Set<PooledDatabase>();
  /** Sequelize calls `new Database(file, mode, cb)`: a constructor returning an object yields it. */
  function Database(file: string, mode: number, callback: Callback): sqlite3Types.Database {
    const reused = idle.pop();
    if (reused) {
      queueMicrotask(() => callback(null));
      return reused;
    }
    const db: PooledDatabase = new PooledDatabase(
      file,
      mode,
      (err) => {
        if (err) return callback(err);
        db.configure('busyTimeout', BUSY_TIMEOUT_MS);
        db.exec(PRAGMAS, callback);
      },
      idle,
    );
    all.add(db);
    return db;
  }
  return {
    module: { ...sqlite3, Database },
    async closeAll() {
      idle.length = 0;
      const open = [...all];
      all.clear();
      await Promise.all(open.map((db) => db.reallyClose()));
    },
  };
}
