/**
 * Ingest benchmark: 1,000,000 subscriptions, 1,000,000 cars and 500,000 customers (x --scale),
 * generated and served by the sample source in a CHILD process (its memory is not ours), extracted over
 * loopback into the lake and loaded into the raw tables in THIS process. Prints rows/s end to end, peak
 * RSS of this process, and the ratio to the sqlite3 CLI's `.import` of the same rows as CSV.
 *
 *   node --import tsx bench/ingest.ts [--scale 1] [--page-size 5000] [--batch-rows 500] [--prepare-workers 1] [--timeline]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import type { Logger, TaskContext } from '../scheduler/interfaces.js';
import { loadSettings } from '../scheduler/settings.js';
import { ENTITIES, type Entity } from '../operators/entities.js';
import { extractEntity } from '../operators/extract/extractTask.js';
import { loadEntity } from '../operators/load/loadTask.js';
import { closeWarehouses, settleWarehouses } from '../operators/warehouse/registry.js';
import type { DatasetSizes } from '../source/generator.js';
import { spawnSourceProcess } from '../source/spawnSource.js';
import { importSeconds } from './sqliteImport.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number, min = Number.MIN_VALUE): number => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`bench ingest: ${name} '${args[i + 1]}' is not ${min === Number.MIN_VALUE ? 'a positive number' : `a number >= ${min}`}\n`);
    process.exit(2);
  }
  return n;
};
const scale = flag('--scale', 1);
const pageSize = flag('--page-size', 5000);
const batchRows = flag('--batch-rows', 500);
/** The load's prepare worker threads (DRIVETRAIN_LOAD_PREPARE_WORKERS; default 1, the setting's default). */
const prepareWorkers = flag('--prepare-workers', 1, 0);
const SEED = 20240101;
const sizes: DatasetSizes = {
  cars: Math.round(1_000_000 * scale),
  customers: Math.round(500_000 * scale),
  subscriptions: Math.round(1_000_000 * scale),
};
const total = sizes.cars + sizes.customers + sizes.subscriptions;
const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-ingest-'));

/** utime + stime from a /proc `stat` file (a process's or a thread's), in seconds (100 ticks a second on Linux). */
function statCpuSeconds(statFile: string): number {
  const fields = readFileSync(statFile, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of each thread of this process: the main (JS) thread, and the rest (libuv's pool, where
 * zlib and sqlite3 run, and V8's helpers). */
function threadCpuSeconds(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const s = statCpuSeconds(`/proc/self/task/${tid}/stat`);
      if (Number(tid) === process.pid) main += s;
      else others += s;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { main, others };
}

function vmHwmMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

async function startChildSource(): Promise<{ url: string; cpuSeconds: () => number; stop: () => Promise<void> }> {
  const { child, url } = await spawnSourceProcess([
    '--generate', '--cars', String(sizes.cars), '--customers', String(sizes.customers), '--subscriptions', String(sizes.subscriptions),
    '--seed', String(SEED), '--port', '0',
  ]);
  return {
    url,
    cpuSeconds: () => statCpuSeconds(`/proc/${child.pid}/stat`),
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

const quiet: Logger = { debug() {}, info() {}, warn: (m) => process.stderr.write(`warn: ${m}\n`), error: (m) => process.stderr.write(`error: ${m}\n`) };

async function main(): Promise<void> {
  process.stdout.write(`ingest bench: ${sizes.cars} cars, ${sizes.customers} customers, ${sizes.subscriptions} subscriptions (${total} rows), page size ${pageSize}, batch rows ${batchRows}, prepare workers ${prepareWorkers}\n`);
  // The heap limit changes when V8 runs its full GCs, so the peak RSS (docs/design/heap-limit.md): npm
  // runs get .npmrc's limit, a bare `node` V8's default, which depends on the machine's memory.
  process.stdout.write(`V8 heap limit of the pipeline process: ${Math.round(v8.getHeapStatistics().heap_size_limit / 1048576)} MB (NODE_OPTIONS '${process.env.NODE_OPTIONS ?? ''}')\n`);
  const source = await startChildSource();
  const settings = loadSettings({
    env: { DRIVETRAIN_HOME: path.join(dir, 'home'), DRIVETRAIN_LOG_DIR: path.join(dir, 'logs'), DRIVETRAIN_SOURCE_URL: source.url, DRIVETRAIN_SOURCE_PAGE_SIZE: String(pageSize), DRIVETRAIN_LOAD_BATCH_ROWS: String(batchRows), DRIVETRAIN_LOAD_PREPARE_WORKERS: String(prepareWorkers) },
    cwd: dir,
    warn: () => {},
  });
  const ds = '2024-01-31';
  const start = new Date(`${ds}T00:00:00Z`);
  const ctx = (entity: Entity): TaskContext => ({
    dagId: 'bench', taskId: entity, runId: 'bench', tryNumber: 1, logicalDate: start, ds,
    dataIntervalStart: start, dataIntervalEnd: new Date(start.getTime() + 86_400_000), month: '2024-01-01',
    intervals: [{ start, end: new Date(start.getTime() + 86_400_000) }], signal: new AbortController().signal,
    log: quiet, settings, params: {}, upstream: () => undefined, mapIndex: -1, mapValue: undefined, mapLabel: undefined,
  });
  let peak = process.memoryUsage().rss;
  let atPeak = process.memoryUsage();
  let peakAt = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peak) {
      peak = m.rss;
      atPeak = m;
      peakAt = (performance.now() - t0) / 1000;
    }
  }, 50);

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const at = (t: number): string => ((t - t0) / 1000).toFixed(1);
  const timeline: string[] = [];
  let prevThreads = threadCpuSeconds();
  let prevSource = source.cpuSeconds();
  // --timeline: CPU use per second of the main thread, the other threads and the source process, to
  // see which one a phase waits on, and this process's memory (printed at the end).
  const ticker = args.includes('--timeline')
    ? setInterval(() => {
        const t = threadCpuSeconds();
        const sc = source.cpuSeconds();
        const m = process.memoryUsage();
        timeline.push(
          `t=${at(performance.now())} main ${((t.main - prevThreads.main) * 100).toFixed(0)}% others ${((t.others - prevThreads.others) * 100).toFixed(0)}% source ${((sc - prevSource) * 100).toFixed(0)}%` +
            ` | rss ${(m.rss / 2 ** 20).toFixed(0)} MB heap ${(m.heapTotal / 2 ** 20).toFixed(0)} external ${(m.external / 2 ** 20).toFixed(0)}`,
        );
        prevThreads = t;
        prevSource = sc;
      }, 1000)
    : undefined;
  const times: string[] = [];
  // The three extracts run concurrently (the server is another process); each load starts as soon as its
  // extract is done, as the ingest DAG runs them, and waits for the warehouse's single writer, which the
  // loads take one after the other.
  const done = ENTITIES.map(async (entity) => {
    const e0 = performance.now();
    await extractEntity(ctx(entity), { entity });
    times.push(`extract ${entity} ${((performance.now() - e0) / 1000).toFixed(1)} s (t = ${at(e0)}..${at(performance.now())} s)`);
    const l0 = performance.now();
    const r = await loadEntity(ctx(entity), { entity });
    times.push(`load ${entity} t = ${at(l0)}..${at(performance.now())} s (${r.loaded} loaded, ${r.rejected} rejected)`);
  });
  await Promise.all(done);
  // The loads' WAL checkpoints run in the background (operators/warehouse/WalCheckpointer.ts); the clock waits for the last.
  await settleWarehouses();
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const threads = threadCpuSeconds();
  clearInterval(sampler);
  if (ticker) clearInterval(ticker);
  for (const l of timeline) process.stdout.write(`  ${l}\n`);
  const sourceCpuS = source.cpuSeconds();
  // The kernel's high-water mark catches spikes between samples; read it now, before the CSV for the
  // .import comparison is generated in this process (that peak is not the pipeline's).
  const peakMb = Math.max(peak, process.memoryUsage().rss) / 2 ** 20;
  const hwmMb = vmHwmMb();
  await closeWarehouses();
  await source.stop();

  // The floor: the sqlite3 CLI importing the same rows from CSV.
  const importS = await importSeconds(dir, path.join(dir, 'import.db'), sizes, SEED);

  const lakeBytes = ENTITIES.reduce((s, e) => {
    const m = JSON.parse(readFileSync(path.join(settings.lakeDir, e, `ds=${ds}`, '_SUCCESS'), 'utf8')) as { parts: { bytes: number }[] };
    return s + m.parts.reduce((a, p) => a + p.bytes, 0);
  }, 0);
  const rate = total / elapsed;
  for (const t of times) process.stdout.write(`  ${t}\n`);
  process.stdout.write(`end to end: ${total} rows in ${elapsed.toFixed(1)} s = ${Math.round(rate)} rows/s (target >= 100000)\n`);
  process.stdout.write(`CPU of the pipeline process: ${cpuS.toFixed(1)} s = ${(cpuS * 1e6 / total).toFixed(1)} us/row (machine load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores): main thread ${threads.main.toFixed(1)} s, other threads (zlib, sqlite3, GC) ${threads.others.toFixed(1)} s\n`);
  process.stdout.write(`CPU of the source process (generating and serving; it shares the cores): ${sourceCpuS.toFixed(1)} s = ${(sourceCpuS * 1e6 / total).toFixed(1)} us/row\n`);
  process.stdout.write(`peak RSS of the pipeline process: ${Math.max(peakMb, hwmMb).toFixed(0)} MB (target < 300 MB; sampled every 50 ms: ${peakMb.toFixed(0)} MB); at the sampled peak (t = ${peakAt.toFixed(1)} s): heap ${(atPeak.heapUsed / 2 ** 20).toFixed(0)} of ${(atPeak.heapTotal / 2 ** 20).toFixed(0)} MB, external ${(atPeak.external / 2 ** 20).toFixed(0)} MB\n`);
  process.stdout.write(`lake: ${(lakeBytes / 2 ** 20).toFixed(0)} MB gzip; warehouse: ${(statSync(settings.warehouseDb).size / 2 ** 20).toFixed(0)} MB\n`);
  process.stdout.write(`sqlite3 CLI .import of the same rows as CSV: ${importS.toFixed(1)} s = ${Math.round(total / importS)} rows/s; pipeline / import time = ${(elapsed / importS).toFixed(1)}x\n`);
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
