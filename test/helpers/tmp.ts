/** Shared test set-up: a fresh temporary directory per test, and settings pointing into it. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeWarehouses } from '../../operators/warehouse.js';
import { loadSettings, type Settings } from '../../scheduler/settings.js';

/** A new empty directory under the OS temp dir; removed by the returned cleanup. */
export function makeTmpDir(prefix = 'drivetrain-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The environment of a test process whose home and logs live in `dir`, plus overrides.
 * Inherits PATH and friends, but no DRIVETRAIN_* variable of the developer's shell.
 */
export function testEnv(dir: string, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIVETRAIN_')) env[k] = v;
  return {
    ...env,
    DRIVETRAIN_HOME: path.join(dir, 'home'),
    DRIVETRAIN_LOG_DIR: path.join(dir, 'logs'),
    ...overrides,
  };
}

/** Settings for an in-process test whose home and logs live in `dir`. */
export function testSettings(dir: string, overrides: Record<string, string> = {}): Settings {
  return loadSettings({ env: testEnv(dir, overrides), cwd: dir, warn: () => {} });
}

/**
 * Mocha hooks for the calling `describe`: each test gets a fresh temp dir with settings pointing
 * into it; warehouse connections are closed and the dir removed after it. Read `.dir` and `.settings`
 * inside tests (they change per test).
 */
export function useTmpWarehouse(overrides: Record<string, string> = {}): { readonly dir: string; readonly settings: Settings } {
  let tmp: { dir: string; cleanup: () => void } | undefined;
  let settings: Settings | undefined;
  beforeEach(() => {
    tmp = makeTmpDir();
    settings = testSettings(tmp.dir, overrides);
  });
  afterEach(async () => {
    await closeWarehouses();
    tmp?.cleanup();
  });
  return {
    get dir() {
      return tmp!.dir;
    },
    get settings() {
      return settings!;
    },
  };
}
