/**
 * The single typed config factory, layered like Dynaconf: the declared defaults, settings.toml's
 * `[default]` section, the section of DRIVETRAIN_ENV, then DRIVETRAIN_* variables; validated once,
 * at start, by the schema compiled from the declarations.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from '../errors/ConfigError.js';
import { normalizeMetadataUrl } from '../metadata/metadataUrl.js';
import { parseWarehouseUrl } from './warehouseUrl.js';
import { REDACTED, redact, registerSecret, registerUrlSecret } from '../redact.js';
import { BY_ENV, BY_KEY, COMPILED, KNOWN_VARIABLES, TREE_SCHEMA, type CompiledSetting } from './compiled.js';
import { BOOTSTRAP } from './declarations.js';
import type { LoadSettingsOptions, Settings } from './interfaces.js';

/** The repository's settings.toml, found relative to this module so any cwd works. */
export const DEFAULT_SETTINGS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'settings.toml');

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  return out;
}

function getPath(tree: unknown, keys: readonly PropertyKey[]): unknown {
  return keys.reduce<unknown>((node, k) => (isTree(node) ? node[k as string] : undefined), tree);
}

function setPath(tree: Tree, keys: readonly string[], value: unknown): void {
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    if (!isTree(node[k])) node[k] = {};
    node = node[k] as Tree;
  }
  node[keys[keys.length - 1]] = value;
}

const show = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value)));

/** The `[default]` section with the section of `envName` laid over it. */
function readFileLayers(file: string, envName: string, envNameGiven: boolean): Tree {
  let doc: Tree;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Tree;
  } catch (err) {
    throw new ConfigError(`cannot read settings file '${file}': ${(err as Error).message.split('\n')[0]}`, BOOTSTRAP.file.env);
  }
  if (!isTree(doc.default)) throw new ConfigError(`settings file '${file}' has no [default] section`, BOOTSTRAP.file.env);
  if (envNameGiven && !isTree(doc[envName])) {
    throw new ConfigError(`${BOOTSTRAP.environment.env} '${envName}' has no [${envName}] section in '${file}'`, BOOTSTRAP.environment.env);
  }
  const layered = deepMerge(doc.default, isTree(doc[envName]) ? doc[envName] : {});
  for (const c of COMPILED) {
    if (c.declaration.envOnly && getPath(layered, c.tomlPath) !== undefined) {
      throw new ConfigError(`settings file '${file}': '${c.key}' can only be set by ${c.declaration.env}`, c.declaration.env);
    }
  }
  return layered;
}

/** A variable's text as its setting's type, before the schema checks its range. */
function parseVariable(name: string, raw: string, setting: CompiledSetting): string | number {
  if (raw.trim() === '') throw new ConfigError(`${name}: is empty`, name);
  if (setting.envKind === 'string') return raw;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(`${name}: '${raw}' is not a number`, name);
  if (setting.envKind === 'integer' && !Number.isInteger(n)) throw new ConfigError(`${name}: '${raw}' is not an integer`, name);
  return n;
}

function applyVariables(tree: Tree, env: NodeJS.ProcessEnv, warn: (message: string) => void): void {
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('DRIVETRAIN_') || raw === undefined) continue;
    const setting = BY_ENV.get(name);
    if (setting) setPath(tree, setting.tomlPath, parseVariable(name, raw, setting));
    else if (!KNOWN_VARIABLES.has(name)) warn(`unknown setting ${name} is ignored (a typo?)`);
  }
}

/** One line naming the setting, its variable and the bad value. */
function configErrorOf(issue: z.core.$ZodIssue, tree: Tree, file: string): ConfigError {
  if (issue.code === 'unrecognized_keys') {
    const key = [...issue.path, issue.keys[0]].join('.');
    return new ConfigError(`settings file '${file}': unknown key '${key}'`, key);
  }
  const key = issue.path.join('.');
  const setting = BY_KEY.get(key);
  // The bad value is quoted, but never a secret in it: a malformed URL may still carry a password.
  const value = setting?.declaration.secret === 'value' ? REDACTED : redact(show(getPath(tree, issue.path)));
  if (!setting) return new ConfigError(`setting '${key}' = ${value}: ${issue.message}`, key);
  const { env, envOnly } = setting.declaration;
  return new ConfigError(`${envOnly ? env : `setting '${key}' (${env})`} = ${value}: ${issue.message}`, env);
}

/** Builds the typed settings from the validated tree: field names, absolute paths, derived files. */
function toSettings(parsed: Tree, envName: string, cwd: string): Settings {
  const out: Tree = {};
  for (const c of COMPILED) {
    const value = getPath(parsed, c.tomlPath);
    setPath(out, c.field, c.declaration.isPath && typeof value === 'string' ? path.resolve(cwd, value) : value);
  }
  const home = out.home as string;
  const metadataDb = path.join(home, 'metadata.db');
  const metadataUrl = out.metadataUrl as string | undefined;
  return {
    ...(out as Omit<Settings, 'env' | 'metadataUrl' | 'metadataDb' | 'warehouseDb' | 'lakeDir'>),
    env: envName,
    // A relative sqlite: path resolves against the working directory, as every other path setting.
    metadataUrl: metadataUrl === undefined ? `sqlite:${metadataDb}` : normalizeMetadataUrl(metadataUrl, cwd),
    metadataDb,
    // A sqlite: warehouse URL moves the file; every reader of the SQLite file follows warehouseDb.
    warehouseDb: sqliteWarehouseFile(out.warehouseUrl as string | undefined, cwd) ?? path.join(home, 'warehouse.db'),
    lakeDir: path.join(home, 'lake'),
  };
}

/** The file of a `sqlite:` warehouse URL, resolved against `cwd`; undefined for another URL or none. */
function sqliteWarehouseFile(url: string | undefined, cwd: string): string | undefined {
  if (url === undefined) return undefined;
  const target = parseWarehouseUrl(url);
  return target.engine === 'sqlite' ? path.resolve(cwd, target.file) : undefined;
}

/**
 * Makes the secrets among the settings known to the redaction (scheduler/redact.ts) the moment they
 * enter the process, before anything can log or store them.
 */
function registerSecrets(parsed: Tree): void {
  for (const c of COMPILED) {
    const value = getPath(parsed, c.tomlPath);
    if (typeof value !== 'string') continue;
    if (c.declaration.secret === 'value') registerSecret(value);
    else if (c.declaration.secret === 'url-password') registerUrlSecret(value);
  }
}

/** Checks between settings, which no single schema sees. */
function checkAcross(s: Settings): void {
  if (s.scheduler.heartbeatS >= s.scheduler.leaseS) {
    // A lease that can expire between two heartbeats lets another process take over a healthy task.
    throw new ConfigError(
      `setting 'scheduler.heartbeat_s' (DRIVETRAIN_HEARTBEAT_S) ${s.scheduler.heartbeatS} must be below scheduler.lease_s (DRIVETRAIN_LEASE_S) ${s.scheduler.leaseS}`,
      'DRIVETRAIN_HEARTBEAT_S',
    );
  }
}

/**
 * Reads, layers and validates the settings. Throws {@link ConfigError} naming the variable or key at
 * fault and quoting its value; the CLI turns that into exit 2.
 */
export function loadSettings(options: LoadSettingsOptions = {}): Settings {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const warn = options.warn ?? ((m: string) => process.stderr.write(`drivetrain: warning: ${m}\n`));
  const givenEnvName = env[BOOTSTRAP.environment.env]?.trim();
  const envName = givenEnvName || 'development';
  const fileVariable = env[BOOTSTRAP.file.env];
  const file = fileVariable ? path.resolve(cwd, fileVariable) : DEFAULT_SETTINGS_FILE;

  const tree: Tree = {};
  for (const c of COMPILED) if (c.declaration.default !== undefined) setPath(tree, c.tomlPath, c.declaration.default);
  const layered = deepMerge(tree, readFileLayers(file, envName, Boolean(givenEnvName)));
  applyVariables(layered, env, warn);

  const parsed = TREE_SCHEMA.safeParse(layered);
  if (!parsed.success) throw configErrorOf(parsed.error.issues[0], layered, file);
  registerSecrets(parsed.data as Tree);
  const settings = toSettings(parsed.data as Tree, envName, cwd);
  checkAcross(settings);
  return settings;
}
