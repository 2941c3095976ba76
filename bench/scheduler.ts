/**
 * Scheduler benchmark: a DAG of 20 no-op tasks (chains, fan-out and fan-in, 8 levels deep) backfilled
 * over two years of daily runs (730 runs, 14,600 task instances) on a SQLite metadata file in a temp
 * dir, through the same code path as `drivetrain backfill` (attempt log files included).
 *
 * Prints task instances per second and the median scheduling overhead per task instance: for every
 * task with upstream tasks, the time from its last upstream finishing to it starting (what the
 * scheduler adds between two tasks). Runs once with maxActiveRuns 1 (the default: strictly one run
 * at a time) and once with 16.
 *   node --import tsx bench/scheduler.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBackfill } from '../scheduler/backfill.js';
import { fixedClock } from '../scheduler/clock.js';
import { defineDag } from '../scheduler/dag.js';
import type { Dag, Logger, TaskContext } from '../scheduler/interfaces.js';
import { MetadataDb } from '../scheduler/metadata/db.js';
import { loadSettings } from '../scheduler/settings.js';

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m, meta) => console.error(m, meta) };

const UPSTREAM: Record<string, string[]> = {
  src1: [], src2: [], src3: [], src4: [],
  clean1: ['src1'], clean2: ['src2'], clean3: ['src3'], clean4: ['src4'],
  join12: ['clean1', 'clean2'], join34: ['clean3', 'clean4'],
  enrich12: ['join12'], enrich34: ['join34'],
  core: ['enrich12', 'enrich34'],
  mart1: ['core'], mart2: ['core'], mart3: ['core'], mart4: ['core'],
  publish: ['mart1', 'mart2', 'mart3', 'mart4'],
  notify: ['publish'], audit: ['publish'],
};

/** Start and end (performance.now) of each task instance, keyed `runId/taskId`. */
const startedAt = new Map<string, number>();
const endedAt = new Map<string, number>();

function benchDag(maxActiveRuns: number): Dag {
  const noop = (ctx: TaskContext): void => {
    const key = `${ctx.runId}/${ctx.taskId}`;
    startedAt.set(key, performance.now());
    endedAt.set(key, performance.now());
  };
  const tasks = Object.fromEntries(Object.entries(UPSTREAM).map(([id, upstream]) => [id, { run: noop, upstream }]));
  return defineDag({ id: 'bench', schedule: '@daily', startDate: '2022-01-01', maxActiveRuns, maxActiveTasks: 16, retries: 0, tasks });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

async function once(maxActiveRuns: number): Promise<void> {
  startedAt.clear();
  endedAt.clear();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-'));
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      DRIVETRAIN_HOME: path.join(dir, 'home'),
      // BENCH_LOG_DIR: put the attempt logs elsewhere (e.g. tmpfs) to separate their cost from the metadata's.
      DRIVETRAIN_LOG_DIR: process.env.BENCH_LOG_DIR ? mkdtempSync(path.join(process.env.BENCH_LOG_DIR, 'drivetrain-bench-logs-')) : path.join(dir, 'logs'),
    };
    const settings = loadSettings({ env, cwd: dir, warn: () => undefined });
    const db = await MetadataDb.open(settings.metadataUrl);
    const dag = benchDag(maxActiveRuns);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = await runBackfill({
      db,
      settings,
      clock: fixedClock(new Date('2024-01-01T06:00:00Z')),
      log: silent,
      dags: new Map([[dag.id, dag]]),
      from: new Date('2022-01-01T00:00:00Z'),
      to: new Date('2023-12-31T00:00:00Z'),
      reset: false,
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    await db.close();
    if (!result.ok) throw new Error(`bench backfill failed: ${JSON.stringify(result.rows)}`);
    const gaps: number[] = [];
    for (const [key, start] of startedAt) {
      const [runId, taskId] = key.split('/');
      const ups = UPSTREAM[taskId];
      if (ups.length === 0) continue;
      const ready = Math.max(...ups.map((u) => endedAt.get(`${runId}/${u}`) ?? NaN));
      gaps.push(start - ready);
    }
    const tis = result.taskInstances;
    console.log(
      `maxActiveRuns=${String(maxActiveRuns).padEnd(2)}  runs=${result.rows[0].runs}  task instances=${tis}  ` +
        `wall=${seconds.toFixed(1)} s  throughput=${Math.round(tis / seconds)} TI/s  ` +
        `cpu=${cpuSeconds.toFixed(1)} s (${Math.round(tis / cpuSeconds)} TI per CPU-second)  ` +
        `median overhead=${median(gaps).toFixed(2)} ms/TI  p95=${[...gaps].sort((a, b) => a - b)[Math.floor(gaps.length * 0.95)].toFixed(2)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `scheduler bench: 20-task DAG, 730 daily runs, SQLite metadata, ${os.cpus().length} CPUs, node ${process.version}, ` +
    `load average ${os.loadavg()[0].toFixed(1)} (other processes share the CPUs: compare TI per CPU-second)`,
);
for (const m of (process.env.BENCH_MAX_ACTIVE_RUNS ?? "1,16").split(",").map(Number)) await once(m);
