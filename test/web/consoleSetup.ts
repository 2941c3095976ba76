/**
 * Shared set-up of the console tests: a home filled by a real `drivetrain backfill` of the fixture DAGs
 * (test/fixtures/web), and the console app served on loopback by the daemon's own listener.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { startHttpServer, type HttpServerHandle } from '../../scheduler/httpServer.js';
import { metricsText } from '../../scheduler/metrics.js';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import type { Settings } from '../../scheduler/settings.js';
import { createConsoleApp, type ConsoleDeps } from '../../scheduler/web/app.js';
import { testEnv, testSettings } from '../helpers/tmp.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_FIXTURES = path.join(REPO, 'test', 'fixtures', 'web');
export const TOKEN = 'console-test-token-4711';
/** "Now" of every console test: the fixture's five days have ended. */
export const NOW = '2024-01-06T06:00:00Z';

const run = promisify(execFile);

/** The environment of a CLI or daemon child on the fixture DAGs in `dir`. */
export function fixtureEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return testEnv(dir, { DRIVETRAIN_DAGS_DIR: WEB_FIXTURES, DRIVETRAIN_NOW: NOW, DRIVETRAIN_TASK_RETRIES: '0', ...extra });
}

/** Runs `drivetrain backfill` of console_demo over 2024-01-01..05 (2024-01-03 fails, so it exits 1). */
export async function backfillFixture(dir: string): Promise<void> {
  await run(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'backfill', '--from', '2024-01-01', '--to', '2024-01-05', '--dag', 'console_demo'], {
    cwd: REPO,
    env: fixtureEnv(dir),
  }).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
    if (err.code !== 1) throw new Error(`backfill failed unexpectedly (${err.code}): ${err.stdout}\n${err.stderr}`);
  });
}

/** A console app over the home in `dir`, served on a free loopback port by the daemon's listener. */
export interface ServedConsole {
  readonly url: string;
  readonly db: MetadataDb;
  readonly settings: Settings;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function serveConsole(dir: string, deps: Partial<ConsoleDeps> = {}, env: Record<string, string> = {}): Promise<ServedConsole> {
  const settings = testSettings(dir, { DRIVETRAIN_DAGS_DIR: WEB_FIXTURES, DRIVETRAIN_NOW: NOW, ...env });
  const db = await MetadataDb.open(settings.metadataDb);
  const app = await createConsoleApp({
    db,
    logDir: settings.logDir,
    warehouseFile: settings.warehouseDb,
    token: TOKEN,
    dashboards: undefined,
    clock: { now: () => new Date(NOW) },
    ...deps,
  });
  await app.ready();
  let http: HttpServerHandle;
  try {
    http = await startHttpServer({ host: '127.0.0.1', port: 0, health: async () => ({ healthy: true }), metrics: metricsText, console: app });
  } catch (err) {
    await app.close();
    await db.close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${http.port}`,
    db,
    settings,
    app,
    async close() {
      await http.close();
      await app.close();
      await db.close();
    },
  };
}
