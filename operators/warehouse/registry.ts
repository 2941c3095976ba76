/**
 * The warehouses this process has open: one {@link Warehouse} per file or PostgreSQL URL, shared by
 * every task (opened on first use), the background WAL checkpoint of each SQLite file, and their
 * settling and closing on shutdown. The connections themselves: SqliteWarehouse.ts, PostgresWarehouse.ts.
 */
import { open as openFile } from 'node:fs/promises';
import type { Settings } from '../../scheduler/settings/interfaces.js';
import { parseWarehouseUrl } from '../../scheduler/settings/warehouseUrl.js';
import type { Warehouse } from './interfaces.js';
import { PostgresWarehouse } from './PostgresWarehouse.js';
import { SqliteWarehouse, type SqliteMemory } from './SqliteWarehouse.js';
import { WalCheckpointer } from './WalCheckpointer.js';

export { PAGE_SIZE_BYTES, type SqliteMemory } from './SqliteWarehouse.js';
export type { Warehouse, WarehouseSession } from './interfaces.js';

const open = new Map<string, Promise<Warehouse>>();
const checkpointers = new Map<string, WalCheckpointer>();

/**
 * What {@link openWarehouse} opens for these settings: DRIVETRAIN_WAREHOUSE_URL when it is a
 * PostgreSQL URL, else the SQLite file (settings.warehouseDb, which a `sqlite:` URL already set).
 */
export function warehouseOf(settings: Pick<Settings, 'warehouseUrl' | 'warehouseDb'>): string {
  const url = settings.warehouseUrl;
  return url !== undefined && parseWarehouseUrl(url).engine === 'postgres' ? url : settings.warehouseDb;
}

/** Whether `target` (a {@link warehouseOf} value) is a SQLite file, which has a WAL to sync and checkpoint. */
export function isSqliteFile(target: string): boolean {
  return !/^postgres(ql)?:/.test(target);
}

/**
 * The shared warehouse `target`, opened on first use: a SQLite file path, `sqlite:FILE`, or a
 * `postgres://...[?schema=NAME]` URL. A SQLite file gets `memory` (the process's `warehouse` settings;
 * the declared defaults when not given): the first opener's value holds for the process.
 */
export function openWarehouse(target: string, memory?: SqliteMemory): Promise<Warehouse> {
  let db = open.get(target);
  if (!db) {
    db = openTarget(target, memory);
    open.set(target, db);
    db.catch(() => open.delete(target));
  }
  return db;
}

async function openTarget(target: string, memory: SqliteMemory | undefined): Promise<Warehouse> {
  if (isSqliteFile(target)) return SqliteWarehouse.open(target.startsWith('sqlite:') ? (parseWarehouseUrl(target) as { file: string }).file : target, memory);
  const parsed = parseWarehouseUrl(target);
  if (parsed.engine !== 'postgres') throw new RangeError(`not a PostgreSQL URL: ${target}`);
  return PostgresWarehouse.open(parsed.connectionString, parsed.schema);
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
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
}
