/**
 * Start-up checks of what the settings point at, before anything opens a file there. Without them a
 * home that cannot be created or written surfaced as SQLite's raw `SQLITE_CANTOPEN` with exit 1, far
 * from the setting an operator has to change; here it is a ConfigError naming the variable (exit 2).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { ConfigError } from './errors/ConfigError.js';
import { PRIVATE_DIR_MODE } from './privateFiles.js';
import type { Settings } from './settings.js';

/** A folder Drivetrain writes into: its variable and its resolved path. */
interface WritableDir {
  readonly setting: `DRIVETRAIN_${string}`;
  readonly dir: string;
}

/**
 * Makes sure `dir` exists (created owner-only, with its parents, when missing) and can be written;
 * else a ConfigError naming `setting`, the path and the system's code.
 */
export function ensureWritableDir({ setting, dir }: WritableDir): void {
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`${setting}: '${dir}' does not exist and cannot be created (${code})`, setting);
  }
  try {
    // W_OK for files created in it, X_OK to reach them.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`${setting}: '${dir}' is not writable (${code})`, setting);
  }
}

/**
 * The checks a command that writes runs first: DRIVETRAIN_HOME (metadata, warehouse, lake) and
 * DRIVETRAIN_LOG_DIR (scheduler and attempt logs) exist or can be created, and are writable.
 */
export function preflight(settings: Settings): void {
  ensureWritableDir({ setting: 'DRIVETRAIN_HOME', dir: settings.home });
  ensureWritableDir({ setting: 'DRIVETRAIN_LOG_DIR', dir: settings.logDir });
}
