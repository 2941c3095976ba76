/**
 * Shared test set-up: the one temporary-directory hook (a fresh directory per test or per suite), the
 * environment and settings of a test pointing into it, and the warehouse variant of the hook.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeWarehouses, warehouseOf } from '../../operators/warehouse/registry.js';
import { loadSettings, type Settings } from '../../scheduler/settings.js';
import type { TmpDir, TmpDirOptions } from './interfaces.js';
import { declaringPostgres, nextSchema, type WarehouseEngine } from './engines.js';
import { KitUsageError } from './KitUsageError.js';

export type { TmpDir, TmpDirOptions, TmpDirScope } from './interfaces.js';

/**
 * A new empty directory under the OS temp dir; removed by the returned cleanup. Prefer useTmpDir;
 * this is for a directory whose life is not one test or one suite (a child process's fixture).
 */
export function makeTmpDir(prefix = 'drivetrain-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Mocha hooks for the calling `describe`: a fresh directory before each test (or once before the
 * suite, with scope 'suite'), removed after it. Mocha runs a suite's after hooks in the order they
 * were registered, so teardown that must come first (closing files, stopping children writing into
 * the directory) goes in `beforeRemove`, not in a hook of its own.
 */
export function useTmpDir(prefix = 'drivetrain-test-', opts: TmpDirOptions = {}): TmpDir {
  let current: string | undefined;
  const [setUp, tearDown] = opts.scope === 'suite' ? [before, after] : [beforeEach, afterEach];
  setUp(() => {
    current = mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  tearDown(async () => {
    const dir = current;
    try {
      await opts.beforeRemove?.();
    } finally {
      current = undefined;
      // Nothing to remove when the set-up failed; mocha reports that failure itself.
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  });
  const dir = (): string => {
    if (current === undefined) throw new KitUsageError('useTmpDir', prefix, `the '${prefix}' directory exists only inside its suite's tests and hooks`);
    return current;
  };
  return {
    get dir() {
      return dir();
    },
    path: (...parts) => path.join(dir(), ...parts),
  };
}

/**
 * This process's environment without any DRIVETRAIN_* variable: PATH and friends for a child, but
 * nothing of the developer's shell that would change the settings under test.
 */
export function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIVETRAIN_')) env[k] = v;
  return env;
}

/** The environment of a test process whose home and logs live in `dir`, plus overrides (over inheritedEnv). */
export function testEnv(dir: string, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...inheritedEnv(),
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
 * into it; warehouse connections are closed and the dir removed after it. Read `.dir`, `.settings`
 * and `.warehouse` (what openWarehouse opens) inside tests (they change per test). With engine
 * 'postgres' (inside describeEachEngine), the warehouse is a fresh schema of the suite's database.
 */
export function useTmpWarehouse(
  overrides: Record<string, string> = {},
  opts: { readonly engine?: WarehouseEngine } = {},
): TmpDir & { readonly settings: Settings; readonly warehouse: string } {
  const postgres = opts.engine === 'postgres' ? declaringPostgres() : undefined;
  if (opts.engine === 'postgres' && !postgres) throw new KitUsageError('useTmpWarehouse', opts, "engine 'postgres' is declared inside describeEachEngine");
  let settings: Settings | undefined;
  const tmp = useTmpDir('drivetrain-test-', {
    beforeRemove: async () => {
      settings = undefined;
      await closeWarehouses();
    },
  });
  beforeEach(() => {
    const url: Record<string, string> = postgres ? { DRIVETRAIN_WAREHOUSE_URL: `${postgres.url}?schema=${nextSchema()}` } : {};
    settings = testSettings(tmp.dir, { ...url, ...overrides });
  });
  return {
    get dir() {
      return tmp.dir;
    },
    path: (...parts) => tmp.path(...parts),
    get settings() {
      if (settings === undefined) throw new KitUsageError('useTmpWarehouse', overrides, "settings exist only inside the suite's tests and hooks");
      return settings;
    },
    get warehouse() {
      return warehouseOf(this.settings);
    },
  };
}
