/**
 * Connections to the warehouse database. One Sequelize instance per file and process, shared by every
 * task; Sequelize's SQLite dialect gives each transaction its own connection, and the busy timeout
 * lets concurrent writers queue instead of failing with SQLITE_BUSY.
 */
import { mkdirSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import path from 'node:path';
import { Sequelize } from 'sequelize';
import { WalCheckpointer } from './WalCheckpointer.js';

const open = new Map<string, Promise<Sequelize>>();
const checkpointers = new Map<string, WalCheckpointer>();

/**
 * What the WAL file is cut back to when a writer restarts it (journal_size_limit). SQLite applies the
 * limit of the connection that restarts the WAL, a writer's, not the checkpointer's (measured), and a
 * load's WAL is hundreds of MB: without it the file keeps its largest size.
 */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Page size of a NEW warehouse file; an existing file keeps its own (SQLite changes it only by VACUUM,
 * and never in WAL mode). 32 KB instead of SQLite's 4 KB: a load of a million rows writes an eighth as
 * many WAL frames and B-tree pages. Measured in the ingest bench, interleaved runs: 16 KB 9% faster
 * than 4 KB, 32 KB another 6%. The warehouse bench: its first vault load 58 s with 16 or 32 KB against
 * 69 s with 4 KB, its daily run and backfill no slower (README, "Benchmarks").
 */
export const PAGE_SIZE_BYTES = 32 * 1024;

/** Set on every new connection: the page size (before WAL, which fixes it); WAL so readers never block
 * the writer; the WAL file's size limit. (The busy timeout, so writers queue, is set with them.) */
const PRAGMAS =
  `PRAGMA page_size=${PAGE_SIZE_BYTES}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; ` +
  `PRAGMA journal_size_limit=${WAL_SIZE_LIMIT_BYTES};`;
const BUSY_TIMEOUT_MS = 60_000;

interface RawConnection {
  configure(option: 'busyTimeout', ms: number): void;
  exec(sql: string, cb: (err: Error | null) => void): void;
}

/**
 * Sequelize's SQLite dialect opens a fresh sqlite3 connection per transaction and has no afterConnect
 * hook, so the per-connection settings are applied by wrapping its getConnection, once per connection.
 */
export function applyConnectionPragmas(sequelize: Sequelize): void {
  const manager = sequelize.connectionManager as unknown as { getConnection(o?: unknown): Promise<RawConnection> };
  const getConnection = manager.getConnection.bind(manager);
  const prepared = new WeakSet<RawConnection>();
  manager.getConnection = async (options?: unknown) => {
    const connection = await getConnection(options);
    if (!prepared.has(connection)) {
      prepared.add(connection);
      connection.configure('busyTimeout', BUSY_TIMEOUT_MS);
      await new Promise<void>((resolve, reject) => connection.exec(PRAGMAS, (err) => (err ? reject(err) : resolve())));
    }
    return connection;
  };
}

/**
 * Runs this process's managed write transactions one at a time. SQLite has one writer anyway, but
 * node-sqlite3 runs each statement on libuv's small thread pool: writers waiting in the busy
 * handler occupy those threads, the lock holder's next statement then finds none free, and
 * everything stalls for the whole busy timeout. Queuing in-process writers here keeps the busy
 * timeout for what it is for: another process (the daemon and a CLI backfill) holding the lock.
 * Unmanaged transactions (`transaction()` without a callback) are not queued; don't use them.
 */
export function serializeTransactions(sequelize: Sequelize): void {
  const transaction = sequelize.transaction.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
  let queue: Promise<unknown> = Promise.resolve();
  sequelize.transaction = ((...args: unknown[]) => {
    if (typeof args[args.length - 1] !== 'function') return transaction(...args);
    const run = queue.then(() => transaction(...args));
    queue = run.catch(() => undefined);
    return run;
  }) as Sequelize['transaction'];
}

async function connect(file: string): Promise<Sequelize> {
  mkdirSync(path.dirname(file), { recursive: true });
  const sequelize = new Sequelize({ dialect: 'sqlite', storage: file, logging: false });
  applyConnectionPragmas(sequelize);
  serializeTransactions(sequelize);
  await sequelize.authenticate();
  return sequelize;
}

/** The shared Sequelize instance for a warehouse file, opened on first use. */
export function openWarehouse(file: string): Promise<Sequelize> {
  let db = open.get(file);
  if (!db) {
    db = connect(file);
    open.set(file, db);
    db.catch(() => open.delete(file));
  }
  return db;
}

/**
 * Copies the warehouse file's WAL into the database in the background (WalCheckpointer.ts): for a
 * transaction that wrote a lot with its connection's `wal_autocheckpoint` off. Not awaited by the
 * writer; {@link settleWarehouses} and {@link closeWarehouses} wait for it.
 */
export function checkpointInBackground(file: string): Promise<void> {
  let checkpointer = checkpointers.get(file);
  if (!checkpointer) {
    checkpointer = new WalCheckpointer(file);
    checkpointers.set(file, checkpointer);
  }
  return checkpointer.request();
}

/** Why the file's last background checkpoint failed, if it did (a later one may still succeed). */
export function lastCheckpointError(file: string): Error | undefined {
  return checkpointers.get(file)?.lastError;
}

/**
 * fsyncs the file's WAL. With synchronous=NORMAL a commit is not synced, and a large write used to
 * be made durable by the checkpoint its commit ran; a writer that leaves the checkpoint to the
 * background calls this before it reports success.
 */
export async function syncWal(file: string): Promise<void> {
  let handle;
  try {
    handle = await openFile(`${file}-wal`, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Waits for this process's background checkpoints requested so far. */
export async function settleWarehouses(): Promise<void> {
  await Promise.all([...checkpointers.values()].map((c) => c.settle()));
}

/** Closes every warehouse connection of this process (tests, shutdown), after its background checkpoints. */
export async function closeWarehouses(): Promise<void> {
  const waiting = [...checkpointers.values()];
  checkpointers.clear();
  await Promise.all(waiting.map((c) => c.close()));
  const all = [...open.values()];
  open.clear();
  await Promise.all(all.map(async (p) => (await p).close()));
}
