/**
 * `drivetrain demo` (`npm run demo`): the whole system in one command on a fresh clone. It serves a
 * seeded generated dataset with the sample source in this process, runs the real `backfill` command
 * as a child process against it (its progress streams to the terminal), then prints a summary of each
 * mart and where the data and logs are. The clock is fixed (DRIVETRAIN_NOW), so the same options give
 * the same tables every time.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../scheduler/errors/UsageError.js';
import { GeneratedRowSource } from '../source/rowSource.js';
import { startSourceServer } from '../source/server.js';
import { MARTS, summariseMarts, summariseRaw } from './summary.js';

/** The repository root: the demo runs the repo's own bin and DAGs whatever the working directory. */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Written into a home the demo created, so a re-run may wipe it and nothing else. */
const MARKER = '.drivetrain-demo';

/** Options of the demo (parsed by demo/cli.ts). */
export interface DemoOptions {
  /** Where data/ and logs/ go. Wiped first if an earlier demo made it. */
  readonly home: string;
  /** First logical date of the backfill, YYYY-MM-DD. */
  readonly from: string;
  /** Last logical date; "now" is fixed to the morning after it. */
  readonly to: string;
  /** Generated cars. */
  readonly cars: number;
  /** Generated customers. */
  readonly customers: number;
  /** Generated subscriptions. */
  readonly subscriptions: number;
  /** Generator seed: the same options give the same tables. */
  readonly seed: number;
}

/** Makes `home` empty: only if it does not exist, is empty, or an earlier demo made it. */
function prepareHome(home: string): void {
  if (existsSync(home) && readdirSync(home).length > 0) {
    if (!existsSync(path.join(home, MARKER))) {
      throw new UsageError(`--home '${home}' is not empty and was not made by the demo; give an empty or new directory`);
    }
    rmSync(home, { recursive: true, force: true });
  }
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, MARKER), 'made by `drivetrain demo`; the next demo run wipes this directory\n');
}

/** The day after `ds` at 06:00 UTC: every interval up to `ds` has ended, none after it. */
function morningAfter(ds: string): string {
  const d = new Date(`${ds}T06:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

/**
 * Runs the real CLI as a child process with the demo's environment; stdio is shared so its progress
 * bar and log lines reach the terminal as they happen. Resolves with its exit code.
 */
function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bin', 'drivetrain.ts'), ...args], {
      // tsx is resolved from the working directory, so run inside the repo.
      cwd: REPO,
      env,
      stdio: 'inherit',
    });
    // Ctrl-C reaches the child too (same process group); wait for it to stop rather than die first.
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * The demo's own settings for the CLI: the caller's environment without any DRIVETRAIN_* variable
 * (one from the caller's shell would change the result), then the demo's.
 */
function demoEnv(sourceUrl: string, dataDir: string, logDir: string, now: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIVETRAIN_')) env[k] = v;
  return Object.assign(env, {
    DRIVETRAIN_ENV: 'development',
    DRIVETRAIN_HOME: dataDir,
    DRIVETRAIN_LOG_DIR: logDir,
    DRIVETRAIN_DAGS_DIR: path.join(REPO, 'dags'),
    DRIVETRAIN_SOURCE_URL: sourceUrl,
    DRIVETRAIN_SOURCE_PAGE_SIZE: '500',
    DRIVETRAIN_NOW: now,
    // A demo should fail fast and say why, not wait out production's retry delays.
    DRIVETRAIN_TASK_RETRIES: '1',
    DRIVETRAIN_TASK_RETRY_DELAY_S: '1',
  });
}

/** Steps 1 and 2: serves the generated dataset and backfills from it with the CLI; the backfill's exit code. */
async function serveAndBackfill(opts: DemoOptions, dataDir: string, logDir: string): Promise<number> {
  say(`[1/3] serving a generated dataset (seed ${opts.seed}: ${opts.cars} cars, ${opts.customers} customers, ${opts.subscriptions} subscriptions)`);
  const source = await startSourceServer({
    source: new GeneratedRowSource({ cars: opts.cars, customers: opts.customers, subscriptions: opts.subscriptions }, opts.seed),
    host: '127.0.0.1',
    port: 0,
  });
  try {
    say(`      sample source at ${source.url}`);
    const now = morningAfter(opts.to);
    const env = demoEnv(source.url, dataDir, logDir, now);
    say(`[2/3] backfilling ${opts.from} .. ${opts.to} (clock fixed at ${now})`);
    say(`      drivetrain backfill --from ${opts.from} --to ${opts.to}`);
    return await runCli(['backfill', '--from', opts.from, '--to', opts.to], env);
  } finally {
    await source.close();
  }
}

/** Step 3: the raw layer's line and the marts' summary; whether every mart exists, undefined without a warehouse. */
async function showMarts(warehouseDb: string, to: string): Promise<boolean | undefined> {
  say(`[3/3] the marts (${MARTS.length}) in ${warehouseDb}`);
  if (!existsSync(warehouseDb)) {
    say(`  the warehouse database was not created: the DAGs in ${path.join(REPO, 'dags')} wrote nothing`);
    return undefined;
  }
  const raw = await summariseRaw(warehouseDb);
  if (raw) say(`  raw layer: ${raw} rows`);
  say();
  const { text, complete } = await summariseMarts(warehouseDb, { month: `${to.slice(0, 7)}-01` });
  say(text);
  return complete;
}

/** Runs the demo; returns the exit code (the backfill's when it fails). */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const t0 = Date.now();
  const dataDir = path.join(opts.home, 'data');
  const logDir = path.join(opts.home, 'logs');
  prepareHome(opts.home);

  say(`Drivetrain demo: home ${opts.home}`);
  const code = await serveAndBackfill(opts, dataDir, logDir);

  const warehouseDb = path.join(dataDir, 'warehouse.db');
  const where = [
    `  data      ${dataDir}  (metadata.db, warehouse.db, lake/)`,
    `  logs      ${logDir}  (scheduler.log, dag_id=*/run_id=*/task_id=*/attempt=*.log)`,
    `  query     sqlite3 ${warehouseDb} 'SELECT * FROM type_share LIMIT 10'`,
    `  task logs DRIVETRAIN_HOME=${dataDir} DRIVETRAIN_LOG_DIR=${logDir} npm run logs`,
  ].join('\n');

  if (code !== 0) {
    say();
    say(`The backfill failed (exit ${code}); the failed tasks' attempt logs say why.`);
    say(where);
    return code;
  }

  say();
  const complete = await showMarts(warehouseDb, opts.to);
  if (complete === undefined) return 1;
  say();
  say(`Done in ${((Date.now() - t0) / 1000).toFixed(1)} s. Where things are:`);
  say(where);
  return complete ? 0 : 1;
}
