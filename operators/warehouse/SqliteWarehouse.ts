/**
 * The warehouse in a SQLite file, over node-sqlite3 directly (why not through Sequelize:
 * docs/design/warehouse-connection.md). Each transaction runs on a fresh connection of its own, so
 * what a task sets on its connection (the load's `wal_autocheckpoint = 0`) ends with its transaction;
 * statements outside a transaction share one long-lived connection. Every connection gets the same
 * settings when it is opened: {@link CONNECTION_PRAGMAS}, and the memory it may use
 * ({@link SqliteMemory}, from the `warehouse` settings).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SETTINGS } from '../../scheduler/settings/declarations.js';
import type { Params, Queryable, RunResult, TransactionOptions, Warehouse, WarehouseSession } from './interfaces.js';
import { SqliteConnection } from './SqliteConnection.js';
import { SqliteSession } from './SqliteSession.js';
import { WarehouseClosedError } from './WarehouseClosedError.js';
import { TurnQueue } from './TurnQueue.js';

/**
 * Page size of a NEW warehouse file; an existing file keeps its own (SQLite changes it only by VACUUM,
 * and never in WAL mode). Larger than SQLite's default so a load writes fewer WAL frames and B-tree
 * pages (docs/design/page-size.md).
 */
export const PAGE_SIZE_BYTES = 32 * 1024;

/**
 * What the WAL file is cut back to when a writer restarts it (journal_size_limit). SQLite applies the
 * limit of the connection that restarts the WAL, a writer's, not the checkpointer's, and a load's WAL
 * is large: without it the file keeps its largest size (docs/design/wal-checkpoint.md).
 */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 60_000;

/** Set on every new connection: the page size (before WAL, which fixes it); WAL so readers never block
 * the writer; commits not fsynced (the WAL is, by syncWal, after a large write); the WAL's size limit. */
export const CONNECTION_PRAGMAS =
  `PRAGMA page_size=${PAGE_SIZE_BYTES}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; ` + `PRAGMA journal_size_limit=${WAL_SIZE_LIMIT_BYTES};`;

/**
 * What each connection may hold in memory: its page cache, its memory map of the file, and where its
 * sorts and temporary tables go. Every connection of the process can fill its own, and mapped pages
 * count as resident memory, so these bound the warehouse's share of the process (docs/design/warehouse-memory.md).
 */
export interface SqliteMemory {
  readonly cacheMb: number;
  readonly mmapMb: number;
  readonly tempStore: 'file' | 'memory';
  /** SQLite's soft heap limit, which is the process's, not the connection's: all of SQLite's memory in it (0 = none). */
  readonly heapMb: number;
}

/** The declared defaults of the `warehouse` settings (scheduler/settings/declarations.ts), for opens without settings. */
export const DEFAULT_MEMORY: SqliteMemory = {
  cacheMb: SETTINGS.warehouse.cacheMb.default!,
  mmapMb: SETTINGS.warehouse.mmapMb.default!,
  tempStore: SETTINGS.warehouse.tempStore.default!,
  heapMb: SETTINGS.warehouse.heapMb.default!,
};

/** The pragmas that set `memory` on a connection. */
export function memoryPragmas(memory: SqliteMemory): string {
  // A negative cache_size is KiB; temp_store FILE lets a sort larger than the cache spill to a
  // temporary file instead of growing in memory. The soft heap limit holds however many connections
  // tasks have open at once (a cache each, and sorts of up to about twice that beside them):
  // the first day at scale peaked 60-100 MB lower with it at the same speed (docs/benchmarks.md).
  return (
    `PRAGMA cache_size=-${memory.cacheMb * 1024}; PRAGMA mmap_size=${memory.mmapMb * 1024 * 1024}; ` +
    `PRAGMA temp_store=${memory.tempStore.toUpperCase()}; PRAGMA soft_heap_limit=${memory.heapMb * 1024 * 1024};`
  );
}

export class SqliteWarehouse implements Warehouse {
  readonly kind = 'sqlite';
  /**
   * This process's writers, one at a time. SQLite has one writer anyway, but
   * node-sqlite3 runs each statement on libuv's small thread pool: writers waiting in the busy handler
   * occupy those threads, the lock holder's next statement then finds none free, and everything stalls
   * for the whole busy timeout. Queuing in-process writers keeps the busy timeout for what it is for:
   * another process (the daemon and a CLI backfill) holding the lock.
   */
  private readonly writes = new TurnQueue(1);
  /**
   * Write transactions' prepare steps, two at a time: after the last raw load the vault's models all
   * become ready at once, and their sorts, one at a time, left the second core idle while the writer
   * waited for the next one (the day bench's next day: 5.1-5.2 s from the last raw load to the last
   * vault write, 4.1-4.8 s two at a time, and the whole day 26.9-27.2 s against 25.4-25.5 s). A
   * prepared connection then waits for the write lock without holding its turn, so the next step runs
   * meanwhile; what the waiting connections keep in SQLite's memory is bounded
   * by the soft heap limit (SqliteMemory.heapMb), and their temporary tables are files. (A raw load's
   * prepare step reads the previous partition's rowids and ids into the JavaScript heap, ~25 MB a
   * million rows, held while it waits: operators/load/fast/PreviousPartition.ts.) (Before that
   * limit, prepared connections waiting behind a long load peaked at 747 MB instead of 418: each turn
   * was held until the write lock.)
   */
  private readonly preparing = new TurnQueue(2);
  /** Transactions in progress outside the queues (reads; prepared writes), for {@link close} to wait for. */
  private readonly unqueued = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    /** The SQLite file. */
    readonly location: string,
    /** The connection statements outside a transaction run on. */
    private readonly shared: SqliteConnection,
    /** What each connection may hold in memory. */
    readonly memory: SqliteMemory,
  ) {}

  /** Opens (creating it and its folder when missing) the warehouse file `file`. */
  static async open(file: string, memory: SqliteMemory = DEFAULT_MEMORY): Promise<SqliteWarehouse> {
    mkdirSync(path.dirname(file), { recursive: true });
    return new SqliteWarehouse(file, await connect(file, memory), memory);
  }

  async all<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    return this.open().all<T>(sql, params);
  }

  async get<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined> {
    return this.open().get<T>(sql, params);
  }

  /** Runs one statement on the shared connection, in turn with this process's writers. */
  async run(sql: string, params?: Params): Promise<RunResult> {
    const shared = this.open();
    return this.writes.run(() => shared.run(sql, params));
  }

  /** Runs a script on the shared connection, in turn with this process's writers. */
  async exec(sql: string): Promise<void> {
    const shared = this.open();
    return this.writes.run(() => shared.exec(sql));
  }

  async transaction<T>(fn: (session: WarehouseSession) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    this.open();
    if (opts.write ?? true) {
      const { prepare } = opts;
      if (!prepare) return this.writes.run(() => inTransaction(this.location, this.memory, 'BEGIN IMMEDIATE', fn));
      // The connection is opened for the prepare step and kept for the transaction: its temporary
      // tables are the transaction's input. The step runs outside any transaction of the main file (a
      // temporary table is the connection's own), so it reads what was committed when it started.
      const connection = this.preparing.run(() => prepared(this.location, this.memory, prepare));
      // Tracked whole: between the end of its prepare turn and its turn to write it is in neither queue.
      return this.outsideQueues(connection.then((c) => this.writes.run(() => inTransaction(c, this.memory, 'BEGIN IMMEDIATE', fn))));
    }
    return this.outsideQueues(inTransaction(this.location, this.memory, 'BEGIN DEFERRED', fn));
  }

  /** `work`, tracked until it settles so that {@link close} waits for it. */
  private outsideQueues<T>(work: Promise<T>): Promise<T> {
    const settled = work.catch(() => undefined).finally(() => this.unqueued.delete(settled));
    this.unqueued.add(settled);
    return work;
  }

  /**
   * The rows' earlier versions stay in the file's pages until a checkpoint copies the new pages over
   * them, and in older WAL frames until the WAL is emptied: TRUNCATE does both, unless a reader holds it.
   * Every table is in the one file, so `tables` is not needed.
   */
  async purgeOldVersions(): Promise<boolean> {
    const r = await this.open().get<{ busy: number }>('PRAGMA wal_checkpoint(TRUNCATE)');
    return r?.busy === 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.writes.idle(), ...this.unqueued]);
    await this.shared.close();
  }

  private open(): Queryable {
    if (this.closed) throw new WarehouseClosedError(this.location, 'warehouse');
    return this.shared;
  }
}

/** A new connection to `file` with the warehouse's settings. */
async function connect(file: string, memory: SqliteMemory): Promise<SqliteConnection> {
  // URIs: a session may attach its own file read-only (SqliteSession.attachReadOnly).
  const connection = await SqliteConnection.open(file, { busyTimeoutMs: BUSY_TIMEOUT_MS, uri: true });
  try {
    await connection.exec(CONNECTION_PRAGMAS + memoryPragmas(memory));
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
  return connection;
}

/**
 * A new connection to `file` on which `prepare` ran; its page cache is then given back (shrink_memory:
 * the pages stay in the OS's file cache), as it may wait long for the write lock.
 */
async function prepared(file: string, memory: SqliteMemory, prepare: (session: WarehouseSession) => Promise<void>): Promise<SqliteConnection> {
  const connection = await connect(file, memory);
  try {
    const session = new SqliteSession(connection);
    try {
      await prepare(session);
    } finally {
      session.end();
    }
    await connection.exec('PRAGMA shrink_memory');
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
  return connection;
}

/**
 * Runs `fn` between `begin` and COMMIT (ROLLBACK when it throws) on a connection opened for it (or
 * `file`'s connection already opened for it), closed after.
 */
async function inTransaction<T>(file: string | SqliteConnection, memory: SqliteMemory, begin: string, fn: (session: WarehouseSession) => Promise<T>): Promise<T> {
  const connection = typeof file === 'string' ? await connect(file, memory) : file;
  const session = new SqliteSession(connection);
  let result: T;
  let failed = true;
  try {
    await connection.exec(begin);
    try {
      result = await fn(session);
      await connection.exec('COMMIT');
      failed = false;
    } catch (err) {
      // SQLite may have rolled back already (an I/O error, a full disk): then ROLLBACK fails, harmlessly.
      await connection.exec('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    session.end();
    // Fails only while a prepared statement is not finalized; the transaction's own error comes first.
    await connection.close().catch((err) => {
      if (!failed) throw err;
    });
  }
  return result;
}
