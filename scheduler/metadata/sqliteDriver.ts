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

/** sqlite3's flag to open for reading and writing (see {@link SqliteDriverOptions.createFile}). */
export const OPEN_READWRITE = sqlite3.OPEN_READWRITE;

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

  /**
   * Runs `callback` in serialized mode (sqlite3's own behaviour) with no stack trace captured while it
   * runs. Sequelize's SQLite dialect passes a callback that builds an Error for every statement and
   * formats its stack every time, for the one case where the statement fails; under source maps that
   * formatting costs more than the statement. The callback's synchronous part is all that runs here,
   * so the limit is back before anything else runs. A statement that does fail gets its caller's
   * stack from MetadataDb instead (db.ts). See docs/design/metadata-storage.md.
   */
  override serialize(callback?: () => void): void {
    if (!callback) return super.serialize();
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super.serialize(callback);
    } finally {
      Error.stackTraceLimit = limit;
    }
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

/** Options of {@link createSqliteDriver}. */
export interface SqliteDriverOptions {
  /**
   * Open with OPEN_CREATE whatever mode the caller passes. MetadataDb passes Sequelize a mode without
   * it, because with it Sequelize makes the file's directory again for every transaction's connection.
   */
  readonly createFile?: boolean;
}

/** A fresh driver: the connections of one Sequelize instance (so of one file). */
export function createSqliteDriver(opts: SqliteDriverOptions = {}): SqliteDriver {
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
      opts.createFile ? mode | sqlite3.OPEN_CREATE : mode,
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
