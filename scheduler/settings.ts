/**
 * The single typed config factory: settings.toml's [default] section, overlaid by the section of
 * DRIVETRAIN_ENV, overlaid by DRIVETRAIN_* environment variables, validated once at start.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { ConfigError } from './errors/ConfigError.js';

const ENTITIES = ['cars', 'customers', 'subscriptions'] as const;

const routeSchema = z.object({ paged: z.string().startsWith('/'), unpaged: z.string().startsWith('/') }).strict();
const int = (min: number) => z.number().int().min(min);

const fileSchema = z
  .object({
    home: z.string().min(1),
    log_dir: z.string().min(1),
    dags_dir: z.string().min(1),
    source: z
      .object({
        url: z.string().url(),
        page_size: int(0),
        timeout_ms: int(1),
        retries: int(0),
        retry_min_timeout_ms: int(0),
        retry_max_timeout_ms: int(0),
        breaker: z
          .object({
            error_threshold_percentage: z.number().min(0).max(100),
            volume_threshold: int(0),
            rolling_count_timeout_ms: int(1),
            reset_timeout_ms: int(1),
          })
          .strict(),
        routes: z.object({ cars: routeSchema, customers: routeSchema, subscriptions: routeSchema }).strict(),
      })
      .strict(),
    load: z.object({ max_reject_share: z.number().min(0).max(1), batch_rows: int(1), prepare_workers: int(0).max(16).default(1) }).strict(),
    task: z.object({ retries: int(0), retry_delay_s: z.number().min(0) }).strict(),
    scheduler: z
      .object({
        parallelism: int(1),
        tick: z.string().min(1),
        lease_s: z.number().positive(),
        heartbeat_s: z.number().positive(),
        shutdown_grace_ms: int(0),
        log_retention_days: z.number().min(0),
        scheduler_log_max_bytes: int(1024),
        scheduler_log_max_files: int(1),
      })
      .strict(),
    http: z.object({ host: z.string().min(1), port: int(0).max(65535) }).strict(),
  })
  .strict();

type FileSettings = z.infer<typeof fileSchema>;

/** How one environment variable is parsed and where its value goes. */
interface EnvBinding {
  readonly path: readonly string[];
  readonly parse: (raw: string) => string | number;
}

const asString = (raw: string): string => {
  if (raw.trim() === '') throw new Error('is empty');
  return raw;
};
const asNumber = (raw: string): number => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`'${raw}' is not a number`);
  return n;
};
const asInteger = (raw: string): number => {
  const n = asNumber(raw);
  if (!Number.isInteger(n)) throw new Error(`'${raw}' is not an integer`);
  return n;
};

/** Every DRIVETRAIN_* variable that maps onto a settings key. */
const ENV_BINDINGS: Readonly<Record<string, EnvBinding>> = {
  DRIVETRAIN_HOME: { path: ['home'], parse: asString },
  DRIVETRAIN_LOG_DIR: { path: ['log_dir'], parse: asString },
  DRIVETRAIN_DAGS_DIR: { path: ['dags_dir'], parse: asString },
  DRIVETRAIN_SOURCE_URL: { path: ['source', 'url'], parse: asString },
  DRIVETRAIN_SOURCE_PAGE_SIZE: { path: ['source', 'page_size'], parse: asInteger },
  DRIVETRAIN_SOURCE_TIMEOUT_MS: { path: ['source', 'timeout_ms'], parse: asInteger },
  DRIVETRAIN_SOURCE_RETRIES: { path: ['source', 'retries'], parse: asInteger },
  DRIVETRAIN_SOURCE_RETRY_MIN_TIMEOUT_MS: { path: ['source', 'retry_min_timeout_ms'], parse: asInteger },
  DRIVETRAIN_SOURCE_RETRY_MAX_TIMEOUT_MS: { path: ['source', 'retry_max_timeout_ms'], parse: asInteger },
  DRIVETRAIN_BREAKER_ERROR_THRESHOLD_PCT: { path: ['source', 'breaker', 'error_threshold_percentage'], parse: asNumber },
  DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: { path: ['source', 'breaker', 'volume_threshold'], parse: asInteger },
  DRIVETRAIN_BREAKER_WINDOW_MS: { path: ['source', 'breaker', 'rolling_count_timeout_ms'], parse: asInteger },
  DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS: { path: ['source', 'breaker', 'reset_timeout_ms'], parse: asInteger },
  DRIVETRAIN_LOAD_MAX_REJECT_SHARE: { path: ['load', 'max_reject_share'], parse: asNumber },
  DRIVETRAIN_LOAD_BATCH_ROWS: { path: ['load', 'batch_rows'], parse: asInteger },
  DRIVETRAIN_LOAD_PREPARE_WORKERS: { path: ['load', 'prepare_workers'], parse: asInteger },
  DRIVETRAIN_TASK_RETRIES: { path: ['task', 'retries'], parse: asInteger },
  DRIVETRAIN_TASK_RETRY_DELAY_S: { path: ['task', 'retry_delay_s'], parse: asNumber },
  DRIVETRAIN_PARALLELISM: { path: ['scheduler', 'parallelism'], parse: asInteger },
  DRIVETRAIN_SCHEDULER_TICK: { path: ['scheduler', 'tick'], parse: asString },
  DRIVETRAIN_LEASE_S: { path: ['scheduler', 'lease_s'], parse: asNumber },
  DRIVETRAIN_HEARTBEAT_S: { path: ['scheduler', 'heartbeat_s'], parse: asNumber },
  DRIVETRAIN_SHUTDOWN_GRACE_MS: { path: ['scheduler', 'shutdown_grace_ms'], parse: asInteger },
  DRIVETRAIN_LOG_RETENTION_DAYS: { path: ['scheduler', 'log_retention_days'], parse: asNumber },
  DRIVETRAIN_SCHEDULER_LOG_MAX_BYTES: { path: ['scheduler', 'scheduler_log_max_bytes'], parse: asInteger },
  DRIVETRAIN_SCHEDULER_LOG_MAX_FILES: { path: ['scheduler', 'scheduler_log_max_files'], parse: asInteger },
  DRIVETRAIN_HTTP_HOST: { path: ['http', 'host'], parse: asString },
  DRIVETRAIN_HTTP_PORT: { path: ['http', 'port'], parse: asInteger },
};

/** Variables read elsewhere than the settings file; known, so not warned about. */
const OTHER_KNOWN_VARS = new Set(['DRIVETRAIN_ENV', 'DRIVETRAIN_SETTINGS_FILE', 'DRIVETRAIN_NOW', 'DRIVETRAIN_LOG_LEVEL']);

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/** Source routes of one entity. */
export interface SourceRoutes {
  /** Cursor-paged route, e.g. `/v1/cars`. */
  readonly paged: string;
  /** The original unpaged route, e.g. `/cars/`. */
  readonly unpaged: string;
}

export type Entity = (typeof ENTITIES)[number];

/** The resolved settings of one process. Paths are absolute. */
export interface Settings {
  /** DRIVETRAIN_ENV: the settings.toml section in force. */
  readonly env: string;
  /** DRIVETRAIN_HOME: holds the metadata and warehouse databases and the lake. */
  readonly home: string;
  /** `$home/metadata.db`: the scheduler's state. */
  readonly metadataDb: string;
  /** `$home/warehouse.db`: raw, core and mart tables. */
  readonly warehouseDb: string;
  /** `$home/lake`: raw pages as received, by entity and ds. */
  readonly lakeDir: string;
  /** DRIVETRAIN_LOG_DIR: scheduler.log and the task attempt logs. */
  readonly logDir: string;
  /** DRIVETRAIN_DAGS_DIR: where DAG files are loaded from. */
  readonly dagsDir: string;
  /** DRIVETRAIN_LOG_LEVEL: error, warn, info (default) or debug. */
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** DRIVETRAIN_NOW: a fixed "now" (ISO 8601, UTC) replacing the wall clock, for tests and demos. */
  readonly fixedNow: Date | undefined;
  readonly source: {
    /** DRIVETRAIN_SOURCE_URL: base URL of the source API. */
    readonly url: string;
    /** DRIVETRAIN_SOURCE_PAGE_SIZE: rows per page; 0 = the unpaged API. */
    readonly pageSize: number;
    /** DRIVETRAIN_SOURCE_TIMEOUT_MS: one request's timeout. */
    readonly timeoutMs: number;
    /** DRIVETRAIN_SOURCE_RETRIES: retries of one request. */
    readonly retries: number;
    /** First retry backoff in ms. */
    readonly retryMinTimeoutMs: number;
    /** Backoff cap in ms. */
    readonly retryMaxTimeoutMs: number;
    readonly breaker: {
      /** Failure rate (percent) in the window past which the breaker opens. */
      readonly errorThresholdPercentage: number;
      /** Requests in the window before the breaker may open. */
      readonly volumeThreshold: number;
      /** Length of the failure-rate window in ms. */
      readonly rollingCountTimeoutMs: number;
      /** Time open before a half-open trial, in ms. */
      readonly resetTimeoutMs: number;
    };
    /** Routes per entity. */
    readonly routes: Readonly<Record<Entity, SourceRoutes>>;
  };
  readonly load: {
    /** A load fails when rejected rows exceed this share of fetched rows. */
    readonly maxRejectShare: number;
    /** Rows per multi-row INSERT. */
    readonly batchRows: number;
    /** Worker threads a load shares its parsing, validation and hashing with (default 1); 0 = the load's own thread only. */
    readonly prepareWorkers: number;
  };
  readonly task: {
    /** Default retries of a task. */
    readonly retries: number;
    /** Default delay before the first retry, seconds; doubles each retry. */
    readonly retryDelayS: number;
  };
  readonly scheduler: {
    /** Task instances running at once in this process. */
    readonly parallelism: number;
    /** node-cron pattern of the run-creation tick. */
    readonly tick: string;
    /** Seconds without heartbeat after which a claimed task instance counts as lost. */
    readonly leaseS: number;
    /** Seconds between lease heartbeats. */
    readonly heartbeatS: number;
    /** Grace given to running tasks on SIGTERM, ms. */
    readonly shutdownGraceMs: number;
    /** Days after which old runs' task logs are removed. */
    readonly logRetentionDays: number;
    /** scheduler.log rotates past this size. */
    readonly schedulerLogMaxBytes: number;
    /** Rotated scheduler.log files kept. */
    readonly schedulerLogMaxFiles: number;
  };
  readonly http: {
    /** DRIVETRAIN_HTTP_HOST: health and metrics listener address. */
    readonly host: string;
    /** DRIVETRAIN_HTTP_PORT: its port; 0 = any free port. */
    readonly port: number;
  };
}

/** Options of {@link loadSettings}. */
export interface LoadSettingsOptions {
  /** Environment to read. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory relative paths resolve against. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Called once per unknown DRIVETRAIN_* variable. Default: a line on stderr. */
  readonly warn?: (message: string) => void;
}

/** The repository's settings.toml, found relative to this module so any cwd works. */
export const DEFAULT_SETTINGS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'settings.toml');

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  return out;
}

function setPath(tree: Tree, keys: readonly string[], value: unknown): void {
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    if (!isTree(node[k])) node[k] = {};
    node = node[k] as Tree;
  }
  node[keys[keys.length - 1]] = value;
}

function describeIssue(issue: z.core.$ZodIssue, envVarFor: (p: readonly PropertyKey[]) => string | undefined): string {
  const key = issue.path.join('.');
  const variable = envVarFor(issue.path);
  return `setting '${key}'${variable ? ` (${variable})` : ''}: ${issue.message}`;
}

/**
 * Reads, layers and validates the settings. Throws {@link ConfigError} naming the file section or
 * variable at fault; the CLI turns that into exit 2.
 */
export function loadSettings(options: LoadSettingsOptions = {}): Settings {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const warn = options.warn ?? ((m: string) => process.stderr.write(`drivetrain: warning: ${m}\n`));
  const envName = env.DRIVETRAIN_ENV?.trim() || 'development';
  const file = env.DRIVETRAIN_SETTINGS_FILE ? path.resolve(cwd, env.DRIVETRAIN_SETTINGS_FILE) : DEFAULT_SETTINGS_FILE;

  let doc: Tree;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Tree;
  } catch (err) {
    throw new ConfigError(`cannot read settings file '${file}': ${(err as Error).message.split('\n')[0]}`, 'DRIVETRAIN_SETTINGS_FILE');
  }
  if (!isTree(doc.default)) throw new ConfigError(`settings file '${file}' has no [default] section`, 'DRIVETRAIN_SETTINGS_FILE');
  if (env.DRIVETRAIN_ENV && !isTree(doc[envName])) {
    throw new ConfigError(`DRIVETRAIN_ENV '${envName}' has no [${envName}] section in '${file}'`, 'DRIVETRAIN_ENV');
  }
  let tree = deepMerge(doc.default, isTree(doc[envName]) ? (doc[envName] as Tree) : {});

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('DRIVETRAIN_') || raw === undefined) continue;
    const binding = ENV_BINDINGS[name];
    if (!binding) {
      if (!OTHER_KNOWN_VARS.has(name)) warn(`unknown setting ${name} is ignored (a typo?)`);
      continue;
    }
    let value: string | number;
    try {
      value = binding.parse(raw);
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`, name);
    }
    setPath(tree, binding.path, value);
  }

  const envVarFor = (p: readonly PropertyKey[]): string | undefined =>
    Object.entries(ENV_BINDINGS).find(([, b]) => b.path.join('.') === p.join('.'))?.[0];
  const parsed = fileSchema.safeParse(tree);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(describeIssue(issue, envVarFor), envVarFor(issue.path) ?? issue.path.join('.'));
  }
  const s: FileSettings = parsed.data;
  if (s.scheduler.heartbeat_s >= s.scheduler.lease_s) {
    // A lease that can expire between two heartbeats lets another process take over a healthy task.
    throw new ConfigError(
      `setting 'scheduler.heartbeat_s' (DRIVETRAIN_HEARTBEAT_S) ${s.scheduler.heartbeat_s} must be below scheduler.lease_s (DRIVETRAIN_LEASE_S) ${s.scheduler.lease_s}`,
      'DRIVETRAIN_HEARTBEAT_S',
    );
  }

  const logLevel = (env.DRIVETRAIN_LOG_LEVEL?.trim() || 'info') as Settings['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`DRIVETRAIN_LOG_LEVEL: '${env.DRIVETRAIN_LOG_LEVEL}' is not one of ${LOG_LEVELS.join(', ')}`, 'DRIVETRAIN_LOG_LEVEL');
  }
  let fixedNow: Date | undefined;
  if (env.DRIVETRAIN_NOW) {
    fixedNow = new Date(env.DRIVETRAIN_NOW);
    if (Number.isNaN(fixedNow.getTime())) {
      throw new ConfigError(`DRIVETRAIN_NOW: '${env.DRIVETRAIN_NOW}' is not an ISO 8601 date-time`, 'DRIVETRAIN_NOW');
    }
  }

  const home = path.resolve(cwd, s.home);
  return {
    env: envName,
    home,
    metadataDb: path.join(home, 'metadata.db'),
    warehouseDb: path.join(home, 'warehouse.db'),
    lakeDir: path.join(home, 'lake'),
    logDir: path.resolve(cwd, s.log_dir),
    dagsDir: path.resolve(cwd, s.dags_dir),
    logLevel,
    fixedNow,
    source: {
      url: s.source.url.replace(/\/+$/, ''),
      pageSize: s.source.page_size,
      timeoutMs: s.source.timeout_ms,
      retries: s.source.retries,
      retryMinTimeoutMs: s.source.retry_min_timeout_ms,
      retryMaxTimeoutMs: s.source.retry_max_timeout_ms,
      breaker: {
        errorThresholdPercentage: s.source.breaker.error_threshold_percentage,
        volumeThreshold: s.source.breaker.volume_threshold,
        rollingCountTimeoutMs: s.source.breaker.rolling_count_timeout_ms,
        resetTimeoutMs: s.source.breaker.reset_timeout_ms,
      },
      routes: s.source.routes,
    },
    load: { maxRejectShare: s.load.max_reject_share, batchRows: s.load.batch_rows, prepareWorkers: s.load.prepare_workers },
    task: { retries: s.task.retries, retryDelayS: s.task.retry_delay_s },
    scheduler: {
      parallelism: s.scheduler.parallelism,
      tick: s.scheduler.tick,
      leaseS: s.scheduler.lease_s,
      heartbeatS: s.scheduler.heartbeat_s,
      shutdownGraceMs: s.scheduler.shutdown_grace_ms,
      logRetentionDays: s.scheduler.log_retention_days,
      schedulerLogMaxBytes: s.scheduler.scheduler_log_max_bytes,
      schedulerLogMaxFiles: s.scheduler.scheduler_log_max_files,
    },
    http: { host: s.http.host, port: s.http.port },
  };
}

/** The names of the DRIVETRAIN_* variables that map onto settings, for the README and `--help`. */
export const SETTINGS_VARIABLES: readonly string[] = Object.keys(ENV_BINDINGS);
