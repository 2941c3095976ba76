/** The public types of the settings. Each setting's doc is its declaration in declarations.ts. */
import type { z } from 'zod';
import type { Declaration, DeclarationTree, SETTINGS } from './declarations.js';

/** The values of a declaration tree: each declaration becomes its schema's output type. */
export type SettingsValues<T extends DeclarationTree> = {
  readonly [K in keyof T]: T[K] extends Declaration<infer S> ? z.output<S> : T[K] extends DeclarationTree ? SettingsValues<T[K]> : never;
};

/** The resolved settings of one process. Paths are absolute. */
export interface Settings extends Omit<SettingsValues<typeof SETTINGS>, 'metadataUrl'> {
  /** DRIVETRAIN_METADATA_URL, or `sqlite:` + {@link metadataDb} when unset. */
  readonly metadataUrl: string;
  /** DRIVETRAIN_ENV: the settings.toml section in force. */
  readonly env: string;
  /** `$home/metadata.db`: the scheduler's state when DRIVETRAIN_METADATA_URL is unset. */
  readonly metadataDb: string;
  /** `$home/warehouse.db`: raw, core and mart tables. */
  readonly warehouseDb: string;
  /** `$home/lake`: raw pages as received, by entity and ds. */
  readonly lakeDir: string;
}

/** Options of `loadSettings`. */
export interface LoadSettingsOptions {
  /** Environment to read. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory relative paths resolve against. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Called once per unknown DRIVETRAIN_* variable. Default: a line on stderr. */
  readonly warn?: (message: string) => void;
}

/** A region of a file that is generated, between two marker lines. */
export interface GeneratedRegion {
  /** The line before the region. */
  readonly start: string;
  /** The line after it. */
  readonly end: string;
}
