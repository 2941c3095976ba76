/** Shared set-up of the scheduler tests: in-process executors on a temp metadata DB, and the real CLI as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Executor, type ExecutorScope } from '../../scheduler/executor.js';
import type { Clock, Dag } from '../../scheduler/interfaces.js';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { insertRuns } from '../../scheduler/runCreator.js';
import type { Settings } from '../../scheduler/settings.js';
import { intervalsBetween } from '../../scheduler/timetable.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { makeTmpDir, testEnv, testSettings } from '../helpers/tmp.js';

/** The repository root, from this file's location (CI runs elsewhere than /work). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Fixture DAG folders. */
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'scheduler');

/** A temp home with an open metadata DB and settings pointing into it. */
export interface Harness {
  readonly dir: string;
  readonly settings: Settings;
  readonly db: MetadataDb;
  /** The scheduler log drain() gives its executors (warnings and errors kept). */
  readonly log: RecordingLogger;
  /** Inserts backfill runs of `dag` for [from, to] (logical dates, YYYY-MM-DD). */
  addRuns(dag: Dag, from: string, to: string, type?: 'backfill' | 'scheduled' | 'manual'): Promise<void>;
  /** An executor of `dags` on the harness (not started), polling every 20 ms, on `clock` if given. */
  executor(dags: readonly Dag[], opts?: { readonly scope?: Partial<ExecutorScope>; readonly clock?: Clock }): Executor;
  /** Runs every queued run of `dags` to the end in this process. */
  drain(dags: readonly Dag[], scope?: Partial<ExecutorScope>): Promise<void>;
  tis(dagId: string): Promise<{ run_id: string; task_id: string; state: string | null; try_number: number; last_error: string | null; next_retry_at: number | null }[]>;
  runs(dagId: string): Promise<{ run_id: string; state: string; logical_date: string }[]>;
  close(): Promise<void>;
}

/** Opens a harness; settings overrides are DRIVETRAIN_* variables. */
export async function openHarness(overrides: Record<string, string> = {}): Promise<Harness> {
  const { dir, cleanup } = makeTmpDir('drivetrain-sched-');
  const settings = testSettings(dir, overrides);
  const db = await MetadataDb.open(settings.metadataUrl);
  const log = new RecordingLogger();
  const harness: Harness = {
    dir,
    settings,
    db,
    log,
    async addRuns(dag, from, to, type = 'backfill') {
      const runs = [...intervalsBetween(dag.schedule, dag.startDate, new Date(`${from}T00:00:00Z`), new Date(`${to}T00:00:00Z`), dag.endDate)].map(
        (interval) => ({ dagId: dag.id, type, logicalDate: interval.start, interval }),
      );
      await db.tx((sql) => insertRuns(sql, db.statements, runs));
    },
    executor(dags, opts = {}) {
      return new Executor({
        db,
        settings,
        log,
        dags: () => new Map(dags.map((d) => [d.id, d])),
        scope: { runTypes: ['backfill', 'scheduled', 'manual'], respectPause: false, batching: false, ...opts.scope },
        pollMs: 20,
        clock: opts.clock,
      });
    },
    async drain(dags, scope = {}) {
      await harness.executor(dags, { scope }).drain();
    },
    tis: (dagId) =>
      db.read((sql) =>
        sql.all(
          'SELECT run_id, task_id, state, try_number, last_error, next_retry_at FROM task_instances WHERE dag_id = ? ORDER BY run_id, id',
          [dagId],
        ),
      ),
    runs: (dagId) => db.read((sql) => sql.all('SELECT run_id, state, logical_date FROM dag_runs WHERE dag_id = ? ORDER BY logical_date', [dagId])),
    async close() {
      await db.close();
      cleanup();
    },
  };
  return harness;
}

/** Result of a finished CLI process. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `drivetrain` child process. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly done: Promise<CliResult>;
}

/** Spawns `node --import tsx bin/drivetrain.ts ...args` from the repo root with `env`. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bin', 'drivetrain.ts'), ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return { child, stdout: () => out, stderr: () => err, done };
}

/** A daemon's /metrics text; its port is the one its 'scheduler started' line names ('' before that line). */
export async function metricsOf(daemon: CliProcess): Promise<string> {
  const started = daemon
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { message?: string; httpPort?: number })
    .find((l) => l.message === 'scheduler started');
  if (!started?.httpPort) return '';
  return (await fetch(`http://127.0.0.1:${started.httpPort}/metrics`)).text();
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return spawnCli(args, env).done;
}

/** The environment of a CLI child for a test dir: fixture DAGs, a fixed clock, an out file, any port. */
export function cliEnv(dir: string, dagsDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return testEnv(dir, {
    DRIVETRAIN_DAGS_DIR: path.join(FIXTURES, dagsDir),
    DRIVETRAIN_HTTP_PORT: '0',
    DT_FIXTURE_OUT: path.join(dir, 'out.txt'),
    ...extra,
  });
}

/** Reads the metadata file of the CLI home in `dir` (cliEnv's; a daemon may be writing it). */
export async function readMetadata<T>(dir: string, sql: string): Promise<T[]> {
  const db = await MetadataDb.open(path.join(dir, 'home', 'metadata.db'));
  try {
    return await db.read((s) => s.all<T>(sql));
  } finally {
    await db.close();
  }
}

/** Lines of the fixture out file (empty when absent). */
export function outLines(dir: string): string[] {
  const file = path.join(dir, 'out.txt');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Polls `check` every 25 ms until it is true, failing after `timeoutMs` with `what`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
