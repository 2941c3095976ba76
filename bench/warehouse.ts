/**
 * Warehouse benchmark: raw tables with 1,000,000 cars, 500,000 customers and 1,000,000 subscriptions
 * (seeded, generated straight into SQLite, hashed as the load hashes), then
 *   0. the initial vault load (empty vault), reported apart: it happens once;
 *   1. one daily run on yesterday's vault (1% of customers moved, 0.2% of cars deregistered): the
 *      ingest DAG's vault models and core tests, and the daily marts; the monthly marts (one run a
 *      month) are reported apart, and with the daily run as the first-of-month total;
 *   2. a two-year backfill of the mart DAGs, driven as the scheduler's batching does (730 daily
 *      intervals in batches of BATCH_CAP, 25 monthly intervals in one batch).
 * Targets: daily run < 30 s; backfill < 60 s.  Run: node --import tsx bench/warehouse.ts
 * Sizes can be scaled with BENCH_SCALE (e.g. 0.1) for a quick look.
 */
import { rmSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashDiff, hashKey, personalHashDiff } from '../operators/load/hashing.js';
import { selectionOf, type PipelineDag } from '../dags/_pipeline.js';
import { modelTaskSpecs } from '../operators/sql/dagTasks.js';
import { closeWarehouses, PAGE_SIZE_BYTES } from '../operators/warehouse/registry.js';
import { SqliteConnection } from '../operators/warehouse/SqliteConnection.js';
import type { DataInterval, Logger, TaskContext } from '../scheduler/interfaces.js';
import { loadSettings, type Settings } from '../scheduler/settings.js';
import { Prng } from '../source/prng.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const N_CARS = Math.round(1_000_000 * SCALE);
const N_CUSTOMERS = Math.round(500_000 * SCALE);
const N_SUBS = Math.round(1_000_000 * SCALE);
/** The executor's default batch cap (scheduler/executor.ts). */
const BATCH_CAP = Number(process.env.BENCH_BATCH_CAP ?? '400');
const DS = '2024-01-31';
const DS2 = '2024-02-01';

/** Seeded (mulberry32, the sample source's PRNG), so every run generates the same data. */
function prng(seed: number): () => number {
  const stream = new Prng(seed);
  return () => stream.next();
}

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2021, 6, 1);
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** Inserts `count` rows; the driver's queue is drained every few thousand rows so memory stays flat. */
async function insertAll(db: SqliteConnection, table: string, cols: string[], count: number, row: (i: number) => unknown[]): Promise<void> {
  await db.exec('BEGIN');
  const stmt = await db.prepare(`INSERT INTO ${table} (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`);
  let queued: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    queued.push(stmt.run(row(i)));
    if (queued.length === 5000) {
      await Promise.all(queued);
      queued = [];
    }
  }
  await Promise.all(queued);
  await stmt.finalize();
  await db.exec('COMMIT');
}

async function generate(file: string): Promise<void> {
  const db = await SqliteConnection.open(file);
  // The page size a warehouse file gets from the pipeline (operators/warehouse/SqliteWarehouse.ts).
  await db.exec(`PRAGMA page_size=${PAGE_SIZE_BYTES}; PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;`);
  await db.exec(
    `CREATE TABLE cars (id TEXT NOT NULL, vin TEXT, brand TEXT, model TEXT, engine_type TEXT, license_plate TEXT, registration_date TEXT, deregistration_date TEXT, processing_date TEXT NOT NULL, hk_car TEXT, hashdiff TEXT);
     CREATE TABLE customers (id TEXT NOT NULL, first_name TEXT, second_name TEXT, type TEXT, company_name TEXT, address_city TEXT, address_zip TEXT, address_street TEXT, address_street_house TEXT, processing_date TEXT NOT NULL, hk_customer TEXT, hashdiff TEXT, hashdiff_pii TEXT);
     CREATE TABLE subscriptions (id TEXT NOT NULL, customer_id TEXT, car_id TEXT, created_at TEXT, start_date TEXT, term_month TEXT, monthly_rate REAL, processing_date TEXT NOT NULL, hk_subscription TEXT, hk_customer TEXT, hk_car TEXT, hk_subscription_link TEXT, hashdiff TEXT);`,
  );
  const rnd = prng(42);
  const brands = ['Tesla', 'BMW', 'Audi', 'VW', 'Mercedes', 'Skoda', 'Seat', 'Kia', 'Hyundai', 'Fiat'];
  const engines = ['electric', 'hybrid', 'gasoline', 'diesel'];
  const cities = Array.from({ length: 80 }, (_, i) => `City${i}`);
  const carCols = ['id', 'vin', 'brand', 'model', 'engine_type', 'license_plate', 'registration_date', 'deregistration_date', 'processing_date', 'hk_car', 'hashdiff'];
  await insertAll(db, 'cars', carCols, N_CARS, (i) => {
    const reg = T0 + Math.floor(rnd() * 940) * DAY_MS + Math.floor(rnd() * DAY_MS);
    const dereg = rnd() < 0.3 ? ts(reg + Math.floor(60 + rnd() * 900) * DAY_MS) : null;
    const r = { id: `car-${i}`, vin: `VIN${i}`, brand: brands[i % brands.length], model: 'M', engine_type: engines[i % 4], license_plate: `P${i}`, registration_date: ts(reg), deregistration_date: dereg };
    return [r.id, r.vin, r.brand, r.model, r.engine_type, r.license_plate, r.registration_date, r.deregistration_date, DS, hashKey(r.id), hashDiff('cars', r)];
  });
  const custCols = ['id', 'first_name', 'second_name', 'type', 'company_name', 'address_city', 'address_zip', 'address_street', 'address_street_house', 'processing_date', 'hk_customer', 'hashdiff', 'hashdiff_pii'];
  await insertAll(db, 'customers', custCols, N_CUSTOMERS, (i) => {
    const b2b = rnd() < 0.4;
    const r = { id: `cust-${i}`, first_name: b2b ? null : 'F', second_name: b2b ? null : 'S', type: b2b ? 'b2b' : 'b2c', company_name: b2b ? `Co${i}` : null, address_city: cities[Math.floor(rnd() * cities.length)], address_zip: '10115', address_street: 'Street', address_street_house: String(i % 200) };
    return [r.id, r.first_name, r.second_name, r.type, r.company_name, r.address_city, r.address_zip, r.address_street, r.address_street_house, DS, hashKey(r.id), hashDiff('customers', r), personalHashDiff('customers', r)];
  });
  const subCols = ['id', 'customer_id', 'car_id', 'created_at', 'start_date', 'term_month', 'monthly_rate', 'processing_date', 'hk_subscription', 'hk_customer', 'hk_car', 'hk_subscription_link', 'hashdiff'];
  await insertAll(db, 'subscriptions', subCols, N_SUBS, (i) => {
    const start = Date.UTC(2022, 0, 1) + Math.floor(rnd() * 780) * DAY_MS + Math.floor(rnd() * DAY_MS);
    const r = { id: `sub-${i}`, customer_id: `cust-${Math.floor(rnd() * N_CUSTOMERS)}`, car_id: `car-${Math.floor(rnd() * N_CARS)}`, created_at: ts(start - 14 * DAY_MS), start_date: ts(start), term_month: rnd() < 0.5 ? 'six' : 'twelve', monthly_rate: 400 + (i % 10) * 50 };
    return [r.id, r.customer_id, r.car_id, r.created_at, r.start_date, r.term_month, r.monthly_rate, DS, hashKey(r.id), hashKey(r.customer_id), hashKey(r.car_id), hashKey(r.id, r.customer_id, r.car_id), hashDiff('subscriptions', r)];
  });
  await db.exec('CREATE INDEX cars_pd ON cars (processing_date); CREATE INDEX customers_pd ON customers (processing_date); CREATE INDEX subscriptions_pd ON subscriptions (processing_date);');
  await db.close();
}

/**
 * The next day's snapshot, as the load would write it: every row again under processing_date = ds2,
 * with 1% of customers moved to another city and 0.2% of cars given a deregistration date (their
 * hashdiffs recomputed), so the vault's satellites get new versions for those keys only.
 */
async function nextSnapshot(file: string, ds2: string): Promise<void> {
  const db = await SqliteConnection.open(file);
  await db.exec('PRAGMA synchronous=OFF; BEGIN');
  await db.exec(`INSERT INTO cars SELECT id, vin, brand, model, engine_type, license_plate, registration_date, deregistration_date, '${ds2}', hk_car, hashdiff FROM cars WHERE processing_date = '${DS}' AND abs(cast(substr(id, 5) AS INTEGER)) % 500 <> 7`);
  const cars = await db.all<Record<string, string | null>>(`SELECT * FROM cars WHERE processing_date = '${DS}' AND abs(cast(substr(id, 5) AS INTEGER)) % 500 = 7`);
  const carStmt = await db.prepare('INSERT INTO cars VALUES (?,?,?,?,?,?,?,?,?,?,?)');
  const pending: Promise<unknown>[] = [];
  for (const c of cars) {
    const r: Record<string, string | null> = { ...c, deregistration_date: '2024-06-30 12:00:00' };
    pending.push(carStmt.run([r.id, r.vin, r.brand, r.model, r.engine_type, r.license_plate, r.registration_date, r.deregistration_date, ds2, r.hk_car, hashDiff('cars', r)]));
  }
  await Promise.all(pending.splice(0));
  await carStmt.finalize();
  await db.exec(`INSERT INTO customers SELECT id, first_name, second_name, type, company_name, address_city, address_zip, address_street, address_street_house, '${ds2}', hk_customer, hashdiff, hashdiff_pii FROM customers WHERE processing_date = '${DS}' AND cast(substr(id, 6) AS INTEGER) % 100 <> 3`);
  const customers = await db.all<Record<string, string | null>>(`SELECT * FROM customers WHERE processing_date = '${DS}' AND cast(substr(id, 6) AS INTEGER) % 100 = 3`);
  const custStmt = await db.prepare('INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)');
  for (const c of customers) {
    const r: Record<string, string | null> = { ...c, address_city: 'Moved City' };
    pending.push(custStmt.run([r.id, r.first_name, r.second_name, r.type, r.company_name, r.address_city, r.address_zip, r.address_street, r.address_street_house, ds2, r.hk_customer, hashDiff('customers', r), r.hashdiff_pii]));
  }
  await Promise.all(pending.splice(0));
  await custStmt.finalize();
  await db.exec(`INSERT INTO subscriptions SELECT id, customer_id, car_id, created_at, start_date, term_month, monthly_rate, '${ds2}', hk_subscription, hk_customer, hk_car, hk_subscription_link, hashdiff FROM subscriptions WHERE processing_date = '${DS}'`);
  await db.exec('COMMIT');
  await db.close();
}

/** BENCH_VERBOSE=1 prints what the tasks log (per-statement counts, per-test times). */
const print = (level: string) => (message: string) => process.stdout.write(`      [${level}] ${message.slice(0, 200)}\n`);
const quiet: Logger = process.env.BENCH_VERBOSE
  ? { debug() {}, info: print('info'), warn: print('warn'), error: print('error') }
  : { debug() {}, info() {}, warn() {}, error() {} };

function ctxFor(settings: Settings, dagId: string, taskId: string, intervals: readonly DataInterval[]): TaskContext {
  const first = intervals[0];
  const ds = first.start.toISOString().slice(0, 10);
  return {
    dagId, taskId, runId: `backfill__${ds}`, tryNumber: 1, logicalDate: first.start, ds,
    dataIntervalStart: first.start, dataIntervalEnd: intervals[intervals.length - 1].end, month: `${ds.slice(0, 7)}-01`,
    intervals, signal: new AbortController().signal, log: quiet, settings, params: {}, upstream: () => undefined, mapIndex: -1, mapValue: undefined, mapLabel: undefined,
  };
}

/** Wall and CPU ms per task of one phase. */
interface Times {
  readonly wall: Map<string, number>;
  /** CPU time (this process, SQLite's worker threads included): wall time is inflated when the machine is busy. */
  readonly cpu: Map<string, number>;
}
const newTimes = (): Times => ({ wall: new Map(), cpu: new Map() });

/** Runs each task of a model DAG for `intervals`, adding each task's wall and CPU ms to `times`. */
async function runDag(settings: Settings, dag: PipelineDag, intervals: readonly DataInterval[], times: Times): Promise<void> {
  for (const [id, spec] of Object.entries(modelTaskSpecs(selectionOf(dag)))) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    await spec.run(ctxFor(settings, dag, id, intervals));
    times.wall.set(id, (times.wall.get(id) ?? 0) + performance.now() - t);
    const used = process.cpuUsage(cpu);
    times.cpu.set(id, (times.cpu.get(id) ?? 0) + (used.user + used.system) / 1000);
  }
}

function days(from: string, count: number): DataInterval[] {
  const start = Date.parse(`${from}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => ({ start: new Date(start + i * DAY_MS), end: new Date(start + (i + 1) * DAY_MS) }));
}
function months(from: string, count: number): DataInterval[] {
  const d = new Date(`${from}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => ({ start: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1)), end: new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i + 1, 1)) }));
}
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
/** Prints a phase's tasks; returns its wall ms. */
function report(title: string, times: Times): number {
  const total = sum(times.wall);
  process.stdout.write(`${title}: ${sec(total)} wall, ${sec(sum(times.cpu))} CPU\n`);
  for (const [id, ms] of times.wall) process.stdout.write(`    ${id.padEnd(28)} ${sec(ms).padStart(9)} wall ${sec(times.cpu.get(id) ?? 0).padStart(9)} CPU\n`);
  return total;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-wh-'));
try {
  const settings = loadSettings({ env: { DRIVETRAIN_HOME: dir, DRIVETRAIN_LOG_DIR: path.join(dir, 'logs') }, cwd: dir, warn: () => {} });
  let t = performance.now();
  await generate(settings.warehouseDb);
  process.stdout.write(`generated ${N_CARS} cars, ${N_CUSTOMERS} customers, ${N_SUBS} subscriptions in ${sec(performance.now() - t)}\n`);

  process.stdout.write(`load average before the runs: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs\n`);
  const initialTimes = newTimes();
  await runDag(settings, 'ingest', days(DS, 1), initialTimes);
  const initial = report(`initial vault load (empty vault, ingest DAG models + core tests for ${DS})`, initialTimes);
  process.stdout.write(`INITIAL LOAD TOTAL: ${sec(initial)}; CPU ${sec(sum(initialTimes.cpu))}\n\n`);

  t = performance.now();
  await closeWarehouses(); // the next snapshot is written by a separate connection, as the load would
  await nextSnapshot(settings.warehouseDb, DS2);
  process.stdout.write(`wrote the next day's raw partitions (${DS2}: 1% of customers moved, 0.2% of cars deregistered) in ${sec(performance.now() - t)}\n`);
  const ingestTimes = newTimes();
  await runDag(settings, 'ingest', days(DS2, 1), ingestTimes);
  const dailyTimes = newTimes();
  await runDag(settings, 'marts_daily', days(DS, 1), dailyTimes);
  const monthlyTimes = newTimes();
  await runDag(settings, 'marts_monthly', months('2023-12-01', 1), monthlyTimes);
  // A day's run is the ingest DAG and the daily marts; the monthly marts run once a month (on its
  // first day, for the month before), so they are reported apart, and with the daily run as that day's total.
  const daily = report(`daily run: ingest DAG models + core tests for ${DS2} on yesterday's vault`, ingestTimes) + report(`daily run: marts_daily for ${DS}`, dailyTimes);
  process.stdout.write(`DAILY RUN TOTAL (vault + daily marts + tests): ${sec(daily)}  (target < 30 s); CPU ${sec(sum(ingestTimes.cpu) + sum(dailyTimes.cpu))}\n`);
  const monthly = report('monthly run (once a month): marts_monthly for 2023-12', monthlyTimes);
  process.stdout.write(`FIRST-OF-MONTH TOTAL (daily run + monthly run): ${sec(daily + monthly)}\n\n`);

  t = performance.now();
  const backfillDaily = newTimes();
  const all = days('2022-01-01', 730);
  for (let i = 0; i < all.length; i += BATCH_CAP) await runDag(settings, 'marts_daily', all.slice(i, i + BATCH_CAP), backfillDaily);
  const backfillMonthly = newTimes();
  await runDag(settings, 'marts_monthly', months('2022-01-01', 25), backfillMonthly);
  const bf = report(`backfill marts_daily: 730 days in batches of ${BATCH_CAP}`, backfillDaily) + report('backfill marts_monthly: 25 months in one batch', backfillMonthly);
  process.stdout.write(`BACKFILL TOTAL (two years of both mart DAGs, with tests): ${sec(bf)}  (target < 60 s); CPU ${sec(sum(backfillDaily.cpu) + sum(backfillMonthly.cpu))}\n`);
} finally {
  await closeWarehouses();
  if (process.env.BENCH_KEEP) process.stdout.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
