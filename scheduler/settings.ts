/**
 * The settings, declared once in settings/declarations.ts: this module is their public face, so
 * callers need not know how the loading is split up.
 */
export { loadSettings, DEFAULT_SETTINGS_FILE } from './settings/loadSettings.js';
export type { LoadSettingsOptions, Settings } from './settings/interfaces.js';
import { COMPILED } from './settings/compiled.js';

/** The names of the DRIVETRAIN_* variables that map onto settings, for the README and `--help`. */
export const SETTINGS_VARIABLES: readonly string[] = COMPILED.map((c) => c.declaration.env);
