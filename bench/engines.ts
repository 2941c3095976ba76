/**
 * The warehouse on SQLite beside PostgreSQL, measured in one run on the same rows: 1,000,000 cars,
 * 500,000 customers and 1,000,000 subscriptions (x --scale), generated and served by the sample source
 * in a child process and extracted once into the lake; then, for each engine in turn,
 *   1. the loads of the three entities (lake -> raw tables; SQLite: packed INSERTs, PostgreSQL: COPY);
 *   2. the daily run on that first snapshot: the ingest DAG's vault models and tests, then the daily marts.
 * PostgreSQL is the machine's server (127.0.0.1:5432, user postgres), in a database made for the run
 * and dropped after it. Prints rows/s of the loads and seconds of the daily run per engine, with the
 * load average (the machine is shared: figures are comparable within one run, not across machines).
 *
 *   node --import tsx bench/engines.ts [--scale 1]
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { selectionOf, type PipelineDag } from '../dags/_pipeline.js';
import { ENTITIES, type Entity } from '../operators/entities.js';
import { extractEntity } from '../operators/extract/extractTask.js';
import { closeSharedPrepareWorkerPool } from '../operators/load/fast/PrepareWorkerPool.js';
import { loadEntity } from '../operators/load/loadTask.js';
import { modelTaskSpecs } from '../operators/sql/dagTasks.js';
import { closeWarehouses, settleWarehouses } from '../operators/warehouse/registry.js';
import type { DataInterval, Logger, TaskContext } from '../scheduler/interfaces.js';
import { loadSettings, type Settings } from '../scheduler/settings.js';
import { spawnSourceProcess } from '../source/spawnSource.js';

const args = process.argv.slice(2);
const i = args.indexOf('--scale');
const scale = i >= 0 ? Number(args[i + 1]) : 1;
if (!Number.isFinite(scale) || scale <= 0) {
  process.stderr.write(`bench engines: --scale '${args[i + 1]}' is not a positive number\n`);
  process.exit(2);
}
const sizes = { cars: Math.round(1_000_000 * scale), customers: Math.round(500_000 * scale), subscriptions: Math.round(1_000_000 * scale) };
const total = sizes.cars + sizes.customers + sizes.subscriptions;
const DS = '2024-01-31';
const DAY_MS = 86_400_000;
const interval: DataInterval = { start: new Date(`${DS}T00:00:00Z`), end: new Date(Date.parse(`${DS}T00:00:00Z`) + DAY_MS) };
const SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres' } as const;
const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-engines-'));
const database = `drivetrain_bench_${process.pid}`;

const quiet: Logger = { debug() {}, info() {}, warn: (m) => process.stderr.write(`warn: ${m}\n`), error: (m) => process.stderr.write(`error: ${m}\n`) };

function ctx(settings: Settings, dagId: string, taskId: string): TaskContext {
  return {
    dagId, taskId, runId: 'bench', tryNumber: 1, logicalDate: interval.start, ds: DS,
    dataIntervalStart: interval.start, dataIntervalEnd: interval.end, month: '2024-01-01',
    intervals: [interval], signal: new AbortController().signal, log: quiet, settings, params: {}, upstream: () => undefined, mapIndex: -1, mapValue: undefined, mapLabel: undefined,
  };
}

function settingsFor(env: Record<string, string>): Settings {
  return loadSettings({ env: { DRIVETRAIN_HOME: path.join(dir, 'home'), DRIVETRAIN_LOG_DIR: path.join(dir, 'logs'), ...env }, cwd: dir, warn: () => {} });
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ ...SERVER, database: 'postgres' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const load = () => `load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`;

/** Loads the lake into `settings`' warehouse and runs the daily DAGs; returns seconds of each. */
async function measure(settings: Settings): Promise<{ loadS: number; dailyS: number }> {
  const t0 = performance.now();
  // One after the other, as the loads take the warehouse's single writer on both engines.
  for (const entity of ENTITIES) await loadEntity(ctx(settings, 'ingest', `load_${entity}`), { entity });
  await settleWarehouses();
  const loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (const dag of ['ingest', 'marts_daily'] as PipelineDag[]) {
    for (const [id, spec] of Object.entries(modelTaskSpecs(selectionOf(dag)))) await spec.run(ctx(settings, dag, id));
  }
  const dailyS = (performance.now() - t1) / 1000;
  await closeWarehouses();
  return { loadS, dailyS };
}

async function main(): Promise<void> {
  process.stdout.write(`engines bench: ${sizes.cars} cars, ${sizes.customers} customers, ${sizes.subscriptions} subscriptions (${total} rows)\n`);
  const { child, url } = await spawnSourceProcess([
    '--generate', '--cars', String(sizes.cars), '--customers', String(sizes.customers), '--subscriptions', String(sizes.subscriptions),
    '--seed', '20240101', '--port', '0',
  ]);
  try {
    const extractSettings = settingsFor({ DRIVETRAIN_SOURCE_URL: url });
    await Promise.all(ENTITIES.map((entity: Entity) => extractEntity(ctx(extractSettings, 'ingest', `extract_${entity}`), { entity })));
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await admin(`CREATE DATABASE "${database}"`);
  try {
    const engines: Array<[string, Settings]> = [
      ['sqlite', settingsFor({})],
      ['postgres', settingsFor({ DRIVETRAIN_WAREHOUSE_URL: `postgres://${SERVER.user}@${SERVER.host}:${SERVER.port}/${database}` })],
    ];
    for (const [engine, settings] of engines) {
      const before = load();
      const { loadS, dailyS } = await measure(settings);
      process.stdout.write(
        `${engine.padEnd(8)} load ${total} rows in ${loadS.toFixed(1)} s = ${Math.round(total / loadS)} rows/s; ` +
          `daily run (vault + daily marts, first snapshot) ${dailyS.toFixed(1)} s  (${before} before, ${load()} after)\n`,
      );
    }
  } finally {
    await closeSharedPrepareWorkerPool();
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  }
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
