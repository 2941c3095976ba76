/**
 * Day benchmark: the whole first day and the next one, as an operator runs them. The sample source
 * serves 1,000,000 cars, 500,000 customers and 1,000,000 subscriptions (x --scale) from a CHILD
 * process; `drivetrain backfill --from D --to D` runs in another child on a fresh DRIVETRAIN_HOME the
 * morning after D (the ingest DAG it waits for, then marts_daily: extract, load, vault, daily marts and
 * their tests). Then the same rows
 * are imported by the sqlite3 CLI (the floor), a copy of them with a few changes (1% of customers
 * moved, 0.2% of cars deregistered, 0.5% of subscriptions repriced) is served from a SQLite file, and
 * the next day is backfilled on the same home. Last, the marts of two years are backfilled on that
 * warehouse (`--from 2022-01-01 --dag marts_daily --dag marts_monthly`), the command as a whole.
 *
 * Per day it prints wall time, rows/s, CPU, the backfill's peak RSS (`/usr/bin/time -v` and the
 * process tree's RSS sampled every 100 ms), and per phase (extract, load, vault, marts, tests) the span
 * from its first task's start to its last task's end in the metadata, the tasks' summed time and the
 * highest RSS sampled in that span.
 *
 *   node --import tsx bench/day.ts [--scale 1] [--keep]     (npm run bench -- day)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteConnection } from '../operators/warehouse/SqliteConnection.js';
import type { DatasetSizes } from '../source/generator.js';
import { spawnSourceProcess, type SourceProcess } from '../source/spawnSource.js';
import { importSeconds } from './sqliteImport.js';

const args = process.argv.slice(2);
const scaleArg = args.indexOf('--scale');
const scale = scaleArg >= 0 ? Number(args[scaleArg + 1]) : Number(process.env.BENCH_SCALE ?? '1');
if (!Number.isFinite(scale) || scale <= 0) {
  process.stderr.write(`bench day: --scale '${args[scaleArg + 1]}' is not a positive number\n`);
  process.exit(2);
}
const keep = args.includes('--keep') || Boolean(process.env.BENCH_KEEP);
const SEED = 20240101;
const sizes: DatasetSizes = {
  cars: Math.round(1_000_000 * scale),
  customers: Math.round(500_000 * scale),
  subscriptions: Math.round(1_000_000 * scale),
};
const TOTAL = sizes.cars + sizes.customers + sizes.subscriptions;
const DAY1 = '2024-01-31';
const DAY2 = '2024-02-01';
/** Where the two-year mart backfill starts: the mart DAGs' start date. */
const MARTS_FROM = '2022-01-01';
const nextDay = (day: string): string => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'drivetrain.ts');
const TIME = '/usr/bin/time';
const SAMPLE_MS = 100;
/** The production heap limit (.npmrc, the Docker image): V8 sizes its heap growth by it. */
const HEAP_LIMIT = '--max-old-space-size=512';

const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-day-'));
const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' ');

/** Resident kB of `pid` and every process below it (0 for one that just ended). */
function treeRssKb(pid: number): number {
  let kb = 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    kb += m ? Number(m[1]) : 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)) kb += treeRssKb(Number(child));
    }
  } catch {
    // The process ended between the listing and the read.
  }
  return kb;
}

interface Sample {
  readonly atMs: number;
  readonly rssKb: number;
}

interface BackfillRun {
  readonly wallS: number;
  readonly cpuS: number | undefined;
  /** `/usr/bin/time -v`'s maximum resident set size: the largest process of the tree, its high-water mark. */
  readonly maxRssKb: number | undefined;
  readonly samples: readonly Sample[];
  readonly startedMs: number;
  /** Task instances the backfill ran, from its summary line. */
  readonly taskInstances: number | undefined;
}

/**
 * Runs one backfill up to `day` in a child process with `env`, sampling the process tree's RSS: of
 * `day` alone, or from `opts.from` for `opts.dags`.
 */
async function backfill(day: string, base: NodeJS.ProcessEnv, opts: { readonly from?: string; readonly dags?: readonly string[] } = {}): Promise<BackfillRun> {
  // The morning after the day: its interval is the last completed one, whatever the date the bench runs on.
  const env = { ...base, DRIVETRAIN_NOW: `${nextDay(day)}T01:00:00Z` };
  // As an operator backfills yesterday: the DAGs with catchup (marts_daily; marts_monthly has no
  // completed month in range), and the snapshot ingest they wait for, once, for the same interval.
  const dags = (opts.dags ?? []).flatMap((d) => ['--dag', d]);
  const command = [process.execPath, '--import', 'tsx', BIN, 'backfill', '--from', opts.from ?? day, '--to', day, ...dags];
  const timed = existsSync(TIME);
  const child = timed
    ? spawn(TIME, ['-v', ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const samples: Sample[] = [];
  const startedMs = Date.now();
  // Under /usr/bin/time the backfill is time's child: time's own ~2 MB is not the pipeline's.
  const sample = () => samples.push({ atMs: Date.now(), rssKb: timed ? treeRssKb(child.pid!) - ownRssKb(child.pid!) : treeRssKb(child.pid!) });
  const sampler = setInterval(sample, SAMPLE_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearInterval(sampler);
  const wallS = (Date.now() - startedMs) / 1000;
  if (code !== 0) {
    process.stdout.write(out.slice(-4000));
    process.stderr.write(err.slice(-4000));
    throw new Error(`bench day: the backfill to ${day} exited with ${code}`);
  }
  const field = (name: string): number | undefined => {
    const m = new RegExp(`${name}: ([0-9.]+)`).exec(err);
    return m ? Number(m[1]) : undefined;
  };
  const user = field('User time \\(seconds\\)');
  const system = field('System time \\(seconds\\)');
  const instances = /\((\d+) task instances run\)/.exec(out);
  return {
    wallS,
    cpuS: user === undefined || system === undefined ? undefined : user + system,
    maxRssKb: field('Maximum resident set size \\(kbytes\\)'),
    samples,
    startedMs,
    taskInstances: instances ? Number(instances[1]) : undefined,
  };
}

function ownRssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

type Phase = 'extract' | 'load' | 'vault' | 'marts' | 'tests';
const PHASES: readonly Phase[] = ['extract', 'load', 'vault', 'marts', 'tests'];

function phaseOf(dagId: string, taskId: string): Phase {
  if (taskId.startsWith('extract_')) return 'extract';
  if (taskId.startsWith('load_')) return 'load';
  if (taskId.startsWith('test')) return 'tests';
  return dagId === 'ingest' ? 'vault' : 'marts';
}

interface TaskSpan {
  readonly dag_id: string;
  readonly task_id: string;
  readonly start_date: string;
  readonly end_date: string;
}

/** The day's task instances from the metadata, grouped into phases. */
async function phases(home: string, day: string, run: BackfillRun): Promise<string[]> {
  const db = await SqliteConnection.open(path.join(home, 'metadata.db'), { readOnly: true });
  const tasks = await db.all<TaskSpan>(
    `SELECT ti.dag_id, ti.task_id, ti.start_date, ti.end_date FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
     WHERE substr(r.logical_date, 1, 10) = ? AND ti.start_date IS NOT NULL AND ti.end_date IS NOT NULL`,
    [day],
  );
  await db.close();
  const lines: string[] = [];
  for (const phase of PHASES) {
    const mine = tasks.filter((t) => phaseOf(t.dag_id, t.task_id) === phase);
    if (mine.length === 0) continue;
    const from = Math.min(...mine.map((t) => Date.parse(t.start_date)));
    const to = Math.max(...mine.map((t) => Date.parse(t.end_date)));
    const busy = mine.reduce((s, t) => s + Date.parse(t.end_date) - Date.parse(t.start_date), 0);
    const peak = Math.max(0, ...run.samples.filter((s) => s.atMs >= from && s.atMs <= to + SAMPLE_MS).map((s) => s.rssKb));
    lines.push(
      `  ${phase.padEnd(8)} t = ${((from - run.startedMs) / 1000).toFixed(1).padStart(6)}..${((to - run.startedMs) / 1000).toFixed(1).padStart(6)} s` +
        ` (${((to - from) / 1000).toFixed(1).padStart(5)} s; ${mine.length} tasks, ${(busy / 1000).toFixed(1)} s summed)  peak RSS ${mb(peak)}`,
    );
  }
  return lines;
}

/** Prints one day's figures; returns its wall seconds and peak RSS in kB. */
async function report(title: string, home: string, day: string, run: BackfillRun): Promise<{ wallS: number; peakKb: number }> {
  const sampled = Math.max(0, ...run.samples.map((s) => s.rssKb));
  const peakKb = Math.max(sampled, run.maxRssKb ?? 0);
  process.stdout.write(`${title}: ${TOTAL} rows in ${run.wallS.toFixed(1)} s = ${Math.round(TOTAL / run.wallS)} rows/s (load average ${load()} on ${os.cpus().length} cores)\n`);
  process.stdout.write(
    `  CPU of the backfill ${run.cpuS === undefined ? 'not measured (no /usr/bin/time)' : `${run.cpuS.toFixed(1)} s = ${((run.cpuS * 1e6) / TOTAL).toFixed(1)} us/row`}; ` +
      `peak RSS ${mb(peakKb)} (/usr/bin/time -v: ${run.maxRssKb === undefined ? 'n/a' : mb(run.maxRssKb)}; process tree sampled every ${SAMPLE_MS} ms: ${mb(sampled)})\n`,
  );
  for (const l of await phases(home, day, run)) process.stdout.write(`${l}\n`);
  return { wallS: run.wallS, peakKb };
}

/** sqlite3 CLI script: the imported rows as a source database with a few changes (the next day's snapshot). */
function nextSnapshotSql(imported: string): string {
  const nul = (c: string) => `nullif(${c}, '')`;
  return `
CREATE TABLE cars (id VARCHAR(36) NOT NULL, vin VARCHAR, brand VARCHAR, model VARCHAR, engine_type VARCHAR(8), license_plate VARCHAR, registration_date DATETIME, deregistration_date DATETIME);
CREATE TABLE customers (id VARCHAR(36) NOT NULL, first_name VARCHAR, second_name VARCHAR, type VARCHAR(3), company_name VARCHAR, address_city VARCHAR, address_zip VARCHAR, address_street VARCHAR, address_street_house VARCHAR);
CREATE TABLE subscriptions (id VARCHAR(36) NOT NULL, customer_id VARCHAR(36), car_id VARCHAR(36), created_at DATETIME, start_date DATETIME, term_month VARCHAR(6), monthly_rate FLOAT);
ATTACH '${imported}' AS imported;
BEGIN;
INSERT INTO cars SELECT id, vin, brand, model, engine_type, license_plate, registration_date, ${nul('deregistration_date')} FROM imported.cars ORDER BY rowid;
INSERT INTO customers SELECT id, ${nul('first_name')}, ${nul('second_name')}, type, ${nul('company_name')}, address_city, address_zip, address_street, address_street_house FROM imported.customers ORDER BY rowid;
INSERT INTO subscriptions SELECT id, customer_id, car_id, created_at, start_date, term_month, CAST(monthly_rate AS REAL) FROM imported.subscriptions ORDER BY rowid;
UPDATE customers SET address_city = CASE address_city WHEN 'Berlin' THEN 'Hamburg' ELSE 'Berlin' END WHERE rowid % 100 = 3;
UPDATE cars SET deregistration_date = '2024-06-30T12:00:00.000000' WHERE rowid % 500 = 7 AND deregistration_date IS NULL;
UPDATE subscriptions SET monthly_rate = monthly_rate + 10 WHERE rowid % 200 = 11;
COMMIT;
`;
}

/** Versions per load date in the satellites: the next day must add a few, not a snapshot's worth. */
async function satelliteVersions(warehouseDb: string): Promise<string> {
  const db = await SqliteConnection.open(warehouseDb, { readOnly: true });
  const parts: string[] = [];
  for (const sat of ['sat_car', 'sat_customer', 'sat_customer_pii', 'sat_subscription']) {
    const rows = await db.all<{ load_date: string; n: number }>(`SELECT load_date, count(*) AS n FROM ${sat} GROUP BY load_date ORDER BY load_date`);
    parts.push(`${sat} ${rows.map((r) => `${r.load_date.slice(0, 10)}: ${r.n}`).join(', ')}`);
  }
  await db.close();
  return parts.join('; ');
}

async function stop(source: SourceProcess): Promise<void> {
  source.child.kill('SIGTERM');
  await once(source.child, 'exit');
}

async function main(): Promise<void> {
  const home = path.join(dir, 'home');
  process.stdout.write(`day bench: ${sizes.cars} cars, ${sizes.customers} customers, ${sizes.subscriptions} subscriptions (${TOTAL} rows) a day; 'drivetrain backfill --from D --to D' of ${DAY1}, then of ${DAY2}\n`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIVETRAIN_')) env[k] = v;
  const nodeOptions = process.env.NODE_OPTIONS ?? '';
  Object.assign(env, {
    DRIVETRAIN_HOME: home,
    DRIVETRAIN_LOG_DIR: path.join(dir, 'logs'),
    NODE_OPTIONS: nodeOptions.includes('--max-old-space-size') ? nodeOptions : `${nodeOptions} ${HEAP_LIMIT}`.trim(),
  });
  // The warehouse's memory settings pass through (to measure other values); its URL does not: the bench's warehouse is the home's file.
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('DRIVETRAIN_WAREHOUSE_') && k !== 'DRIVETRAIN_WAREHOUSE_URL') env[k] = v;
  const tuning = Object.entries(env).filter(([k]) => k.startsWith('DRIVETRAIN_WAREHOUSE_'));
  process.stdout.write(`backfill process: NODE_OPTIONS '${env.NODE_OPTIONS}'${tuning.length ? `, ${tuning.map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}; machine load average ${load()}\n\n`);

  let source = await spawnSourceProcess(['--generate', '--cars', String(sizes.cars), '--customers', String(sizes.customers), '--subscriptions', String(sizes.subscriptions), '--seed', String(SEED), '--port', '0']);
  const first = await backfill(DAY1, { ...env, DRIVETRAIN_SOURCE_URL: source.url });
  await stop(source);
  const day1 = await report(`FIRST DAY (${DAY1}, empty warehouse)`, home, DAY1, first);

  // The floor, measured in the same run: the sqlite3 CLI importing the same rows as CSV.
  const csvDir = path.join(dir, 'csv');
  mkdirSync(csvDir);
  const imported = path.join(csvDir, 'import.db');
  const importS = await importSeconds(csvDir, imported, sizes, SEED);
  process.stdout.write(`sqlite3 CLI .import of the same rows as CSV: ${importS.toFixed(1)} s = ${Math.round(TOTAL / importS)} rows/s; first day / import time = ${(day1.wallS / importS).toFixed(1)}x (load average ${load()})\n\n`);

  const snapshot = path.join(dir, 'next-day.db');
  const built = spawnSync('sqlite3', [snapshot], { input: nextSnapshotSql(imported), stdio: ['pipe', 'inherit', 'inherit'] });
  if (built.status !== 0) throw new Error(`bench day: building the next day's source file '${snapshot}' failed with ${built.status ?? built.signal}`);
  rmSync(csvDir, { recursive: true, force: true });
  source = await spawnSourceProcess(['--db', snapshot, '--port', '0']);
  const second = await backfill(DAY2, { ...env, DRIVETRAIN_SOURCE_URL: source.url });
  await stop(source);
  const day2 = await report(`NEXT DAY (${DAY2}, the snapshot with 1% of customers moved, 0.2% of cars deregistered, 0.5% of subscriptions repriced)`, home, DAY2, second);
  const warehouseDb = path.join(home, 'warehouse.db');
  process.stdout.write(`  satellite versions by load date: ${await satelliteVersions(warehouseDb)}\n`);
  process.stdout.write(`  warehouse file ${(statSync(warehouseDb).size / 2 ** 20).toFixed(0)} MB\n\n`);

  // Then the marts of two years on this vault, as an operator backfills them: the command, not its SQL alone
  // (bench/warehouse.ts times the models' statements): runs, sensors, batches, attempt logs.
  const marts = await backfill(DAY2, env, { from: MARTS_FROM, dags: ['marts_daily', 'marts_monthly'] });
  const martsPeakKb = Math.max(0, ...marts.samples.map((x) => x.rssKb), marts.maxRssKb ?? 0);
  process.stdout.write(
    `TWO-YEAR MART BACKFILL ('drivetrain backfill --from ${MARTS_FROM} --to ${DAY2} --dag marts_daily --dag marts_monthly' on this warehouse): ` +
      `${marts.wallS.toFixed(1)} s, ${marts.taskInstances ?? '?'} task instances; CPU ${marts.cpuS === undefined ? 'n/a' : `${marts.cpuS.toFixed(1)} s`}; peak RSS ${mb(martsPeakKb)}\n\n`,
  );

  const peak = Math.max(day1.peakKb, day2.peakKb, martsPeakKb);
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  process.stdout.write(
    `GOALS (at scale ${scale}): first day ${day1.wallS.toFixed(1)} s <= 60 s (aim 30 s) ${met(day1.wallS <= 60)}; next day ${day2.wallS.toFixed(1)} s <= 30 s ${met(day2.wallS <= 30)}; ` +
      `two-year mart backfill ${marts.wallS.toFixed(1)} s <= 15 s ${met(marts.wallS <= 15)}; peak RSS ${mb(peak)} <= 512 MB ${met(peak <= 512 * 1024)}\n`,
  );
}

try {
  await main();
} finally {
  if (keep) process.stdout.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
