/**
 * What every scheduler command opens: the settings (loaded once per process; they set V8's heap
 * growth), the scheduler log, the metadata database and the DAG bag. close() releases them in
 * reverse order.
 */
import { clockFromSettings } from '../clock.js';
import { loadConfiguredDagBag, type DagBag } from '../dagLoader.js';
import { applyHeapGrowth } from '../heapGrowth.js';
import { UsageError } from '../errors/UsageError.js';
import type { Clock, Dag } from '../interfaces.js';
import { createSchedulerLogger, type SchedulerLogger } from '../logging.js';
import { syncDags } from '../metadata/dagTable.js';
import { MetadataDb } from '../metadata/db.js';
import { storeDagBag } from '../serializedDag.js';
import { preflight } from '../preflight.js';
import { loadSettings, type Settings } from '../settings.js';

let cachedSettings: Settings | undefined;

/**
 * The process's settings, loaded and validated on first use, the home and log folders checked
 * (ConfigError -> exit 2). Every command that writes there (start, backfill, dags, tasks, runs) comes
 * through here; `logs` only reads and loads its settings itself.
 */
export function settingsOnce(): Settings {
  if (cachedSettings) return cachedSettings;
  const settings = loadSettings();
  preflight(settings);
  applyHeapGrowth(settings.heapGrowthPercent);
  cachedSettings = settings;
  return cachedSettings;
}

/** An opened command context. */
export interface CommandContext {
  readonly settings: Settings;
  readonly clock: Clock;
  readonly log: SchedulerLogger;
  readonly db: MetadataDb;
  readonly bag: DagBag;
  /** The DAG with this id, or UsageError naming it. */
  dag(id: string): Dag;
  close(): Promise<void>;
}

/** Opens settings, log, metadata and DAG bag; `stdout` also sends the scheduler log to stdout. */
export async function openContext(opts: { stdout?: boolean } = {}): Promise<CommandContext> {
  const settings = settingsOnce();
  const log = createSchedulerLogger(settings, { stdout: opts.stdout ?? false });
  let db: MetadataDb;
  try {
    db = await MetadataDb.open(settings.metadataUrl);
  } catch (err) {
    await log.close();
    throw err;
  }
  let bag: DagBag;
  try {
    bag = await loadConfiguredDagBag(settings, log);
  } catch (err) {
    await db.close();
    await log.close();
    throw err;
  }
  await syncDags(db, bag.dags.values());
  // The console and API read the DAGs' structure from the metadata, whoever loaded them last.
  await storeDagBag(db, bag, settings);
  return {
    settings,
    clock: clockFromSettings(settings),
    log,
    db,
    bag,
    dag(id: string): Dag {
      const dag = bag.dags.get(id);
      if (!dag) {
        const failed = bag.errors.length > 0 ? ` (${bag.errors.length} DAG file(s) failed to import: see 'dags list')` : '';
        throw new UsageError(`unknown DAG '${id}'${failed}`);
      }
      return dag;
    },
    async close() {
      await db.close();
      await log.close();
    },
  };
}

/** Runs `fn` with an opened context and always closes it. */
export async function withContext<T>(fn: (ctx: CommandContext) => Promise<T>, opts: { stdout?: boolean } = {}): Promise<T> {
  const ctx = await openContext(opts);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
