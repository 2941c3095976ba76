/**
 * Every setting, declared once. Where a declaration sits in {@link SETTINGS} is its place in the
 * typed settings (`settings.source.pageSize`) and, in snake_case, its key in settings.toml
 * (`[default.source] page_size`); the declaration adds its variable, schema, default and doc. The
 * loader, the typed `Settings`, settings.toml's `[default]` section and the README's settings table
 * all derive from here (`npm run docs:settings` rewrites the last two), so adding a setting is
 * adding one declaration.
 */
import { z } from 'zod';
import { parseUtcDate } from '../dates.js';
import { parseMetadataUrl } from '../metadata/metadataUrl.js';
import { parsePools, type Pools } from '../pools.js';
import { parseWarehouseUrl } from './warehouseUrl.js';

/** One setting. */
export interface Declaration<S extends z.ZodType = z.ZodType> {
  /** The `DRIVETRAIN_*` variable that overrides the settings file. */
  readonly env: `DRIVETRAIN_${string}`;
  /** Validates the layered value; a variable is first read as a number when this is a number schema. */
  readonly schema: S;
  /** @defaultValue when neither the file nor the variable sets it; `undefined` = unset. */
  readonly default: z.input<S> | undefined;
  /** One line of Markdown for the README's table and settings.toml. */
  readonly doc: string;
  /** A relative value resolves against the working directory. */
  readonly isPath?: boolean;
  /** Only the variable sets it, never the settings file. */
  readonly envOnly?: boolean;
  /** What the Docker image sets instead of the default, for the README. */
  readonly imageDefault?: string;
  /**
   * The value holds a secret, redacted as `***` wherever text leaves the process (scheduler/redact.ts):
   * `'value'` the whole value (a token), `'url-password'` the password (or lone user) of a URL.
   */
  readonly secret?: 'value' | 'url-password';
}

/** Settings grouped as in the typed settings and the settings file's tables. */
export interface DeclarationTree {
  readonly [name: string]: Declaration | DeclarationTree;
}

/** A variable read before the settings file, to find it; not a settings key. */
export interface BootstrapVariable {
  readonly env: `DRIVETRAIN_${string}`;
  /** Markdown for the README's default column. */
  readonly defaultText: string;
  /** One line of Markdown for the README. */
  readonly doc: string;
}

/** Keeps each declaration's schema type, so the typed settings can be derived from it. */
function setting<S extends z.ZodType>(declaration: Declaration<S>): Declaration<S> {
  return declaration;
}

/** A date read by the one strict UTC parser (../dates.ts); a bad one is an issue, which the loader names by variable. */
function utcDate(value: string, ctx: z.core.$RefinementCtx<string>): Date {
  try {
    return parseUtcDate(value, 'date');
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a date (YYYY-MM-DD or ISO 8601, UTC)', input: value });
    return z.NEVER;
  }
}

/** A metadata URL read by its one parser (../metadata/metadataUrl.ts); the loader names the variable. */
function metadataUrl(value: string, ctx: z.core.$RefinementCtx<string>): void {
  try {
    parseMetadataUrl(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as { reason?: string }).reason ?? 'not a metadata URL', input: value });
  }
}

/** A warehouse URL read by its one parser (./warehouseUrl.ts); what is wrong becomes the issue. */
function warehouseUrl(value: string, ctx: z.core.$RefinementCtx<string>): void {
  try {
    parseWarehouseUrl(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message, input: value });
  }
}

/** `name=slots,...` read by the pools' one parser (../pools.ts); what is wrong becomes the issue. */
function pools(value: string, ctx: z.core.$RefinementCtx<string>): Pools {
  try {
    return parsePools(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message, input: value });
    return z.NEVER;
  }
}

const int = (min: number) => z.number().int().min(min);
const text = z.string().min(1);

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/** DRIVETRAIN_ENV and DRIVETRAIN_SETTINGS_FILE choose what is read, so they come before the file. */
export const BOOTSTRAP = {
  environment: {
    env: 'DRIVETRAIN_ENV',
    defaultText: '`development`',
    doc: 'the `settings.toml` section laid over `[default]` (`development`, `test`, `production`)',
  },
  file: { env: 'DRIVETRAIN_SETTINGS_FILE', defaultText: "the repo's `settings.toml`", doc: 'another settings file' },
} as const satisfies Readonly<Record<string, BootstrapVariable>>;

export const SETTINGS = {
  home: setting({
    env: 'DRIVETRAIN_HOME',
    schema: text,
    default: './data',
    isPath: true,
    imageDefault: '/var/lib/drivetrain',
    doc: 'holds `metadata.db`, `warehouse.db` and `lake/`',
  }),
  // Unset = derived from home (see loadSettings), so a moved home moves the file with it.
  metadataUrl: setting({
    env: 'DRIVETRAIN_METADATA_URL',
    schema: z.string().superRefine(metadataUrl).optional(),
    default: undefined,
    secret: 'url-password',
    doc: 'metadata: `sqlite:FILE` (unset: `$DRIVETRAIN_HOME/metadata.db`) or `postgres://user[:password]@host:port/db`',
  }),
  warehouseUrl: setting({
    env: 'DRIVETRAIN_WAREHOUSE_URL',
    schema: z.string().superRefine(warehouseUrl).optional(),
    default: undefined,
    secret: 'url-password',
    doc: 'warehouse: `sqlite:FILE` (unset: `$DRIVETRAIN_HOME/warehouse.db`) or `postgres://...[?schema=NAME]` ([why](docs/design/postgres-warehouse.md))',
  }),
  logDir: setting({
    env: 'DRIVETRAIN_LOG_DIR',
    schema: text,
    default: './logs',
    isPath: true,
    imageDefault: '/var/log/drivetrain',
    doc: '`scheduler.log` and the task attempt logs',
  }),
  dagsDir: setting({ env: 'DRIVETRAIN_DAGS_DIR', schema: text, default: './dags', isPath: true, doc: 'where DAG files are loaded from (and watched for changes)' }),
  logLevel: setting({ env: 'DRIVETRAIN_LOG_LEVEL', schema: z.enum(LOG_LEVELS), default: 'info', doc: '`error`, `warn`, `info` or `debug`' }),
  // Memory for CPU: the old generation may hold up to this much garbage over its live size before a
  // full GC. A day at scale peaked ~30-60 MB higher at 200 than at 0, with ~5 s less CPU (heap-limit.md).
  heapGrowthPercent: setting({
    env: 'DRIVETRAIN_HEAP_GROWTH_PERCENT',
    schema: int(0).max(1000),
    default: 200,
    doc: "V8's old-generation growth over the live heap before a full GC, %; `0` = V8's own",
  }),
  fixedNow: setting({
    env: 'DRIVETRAIN_NOW',
    schema: z.string().transform(utcDate).optional(),
    default: undefined,
    // A clock pinned by a file section could reach production unnoticed; a variable is seen where it is set.
    envOnly: true,
    doc: 'a fixed "now" (ISO 8601, UTC) for tests and demos; never in production',
  }),
  // Top level, not in a group of its own: a group whose settings are all unset would be missing from the layered tree.
  // A webhook URL is its own credential (Slack's carries the token in the path), so all of it is secret.
  alertWebhookUrl: setting({
    env: 'DRIVETRAIN_ALERT_WEBHOOK_URL',
    schema: z.url().optional(),
    default: undefined,
    secret: 'value',
    doc: 'where alerts are POSTed (see Alerts)',
  }),
  source: {
    url: setting({
      env: 'DRIVETRAIN_SOURCE_URL',
      schema: z.url().transform((u) => u.replace(/\/+$/, '')),
      default: 'http://127.0.0.1:8000',
      secret: 'url-password',
      doc: 'base URL of the source API',
    }),
    pageSize: setting({ env: 'DRIVETRAIN_SOURCE_PAGE_SIZE', schema: int(0), default: 5000, doc: 'rows per page; `0` = the original unpaged API' }),
    timeoutMs: setting({ env: 'DRIVETRAIN_SOURCE_TIMEOUT_MS', schema: int(1), default: 30000, doc: "one source request's timeout" }),
    retries: setting({ env: 'DRIVETRAIN_SOURCE_RETRIES', schema: int(0), default: 5, doc: 'retries of one source request (exponential backoff with jitter)' }),
    retryMinTimeoutMs: setting({ env: 'DRIVETRAIN_SOURCE_RETRY_MIN_TIMEOUT_MS', schema: int(0), default: 500, doc: 'first backoff of a source request' }),
    retryMaxTimeoutMs: setting({ env: 'DRIVETRAIN_SOURCE_RETRY_MAX_TIMEOUT_MS', schema: int(0), default: 30000, doc: 'backoff cap of a source request' }),
    breaker: {
      errorThresholdPercentage: setting({
        env: 'DRIVETRAIN_BREAKER_ERROR_THRESHOLD_PCT',
        schema: z.number().min(0).max(100),
        default: 50,
        doc: 'the circuit breaker opens past this failure rate (percent)',
      }),
      volumeThreshold: setting({ env: 'DRIVETRAIN_BREAKER_VOLUME_THRESHOLD', schema: int(0), default: 5, doc: 'requests in the window before the breaker may open' }),
      rollingCountTimeoutMs: setting({ env: 'DRIVETRAIN_BREAKER_WINDOW_MS', schema: int(1), default: 10000, doc: 'the failure-rate window' }),
      resetTimeoutMs: setting({ env: 'DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS', schema: int(1), default: 30000, doc: 'open, then half-open after this' }),
    },
  },
  load: {
    maxRejectShare: setting({
      env: 'DRIVETRAIN_LOAD_MAX_REJECT_SHARE',
      schema: z.number().min(0).max(1),
      default: 0.01,
      doc: 'a load fails when more than this share of rows is rejected',
    }),
    batchRows: setting({ env: 'DRIVETRAIN_LOAD_BATCH_ROWS', schema: int(1), default: 500, doc: 'rows per multi-row INSERT' }),
    prepareWorkers: setting({
      env: 'DRIVETRAIN_LOAD_PREPARE_WORKERS',
      schema: int(0).max(16),
      default: 1,
      doc: "worker threads sharing a load's parsing, validation and hashing; `0` = none (speed against memory: ingest benchmark)",
    }),
  },
  // What the SQLite warehouse's connections may hold in memory (docs/design/warehouse-memory.md): each
  // buys speed on large vault loads, and each counts in the process's resident memory. The defaults
  // keep the first day at scale within a 1 GB container; docs/benchmarks.md has figures for others.
  warehouse: {
    // Also the size of SQLite's in-memory sort runs (a sort spills a run when it holds the cache's
    // size of rows): runs of 32 MB cost ~45% more CPU to sort than runs of 8 MB (cache misses in the
    // sorter's linked-list merge), and every probe of a large table goes in key order, so a small
    // cache reads each page once anyway.
    cacheMb: setting({
      env: 'DRIVETRAIN_WAREHOUSE_CACHE_MB',
      schema: int(1),
      default: 8,
      doc: 'page cache and sort run size per warehouse connection, MB',
    }),
    mmapMb: setting({
      env: 'DRIVETRAIN_WAREHOUSE_MMAP_MB',
      schema: int(0),
      default: 0,
      doc: 'memory map per warehouse connection, MB',
    }),
    tempStore: setting({
      env: 'DRIVETRAIN_WAREHOUSE_TEMP_STORE',
      schema: z.enum(['file', 'memory']),
      default: 'file',
      doc: 'where large sorts spill: `file` or `memory`',
    }),
    // One bound on the caches and sorts of every connection at once, however many tasks have one open:
    // SQLite recycles cache pages and spills sorts sooner near it, instead of growing.
    heapMb: setting({
      env: 'DRIVETRAIN_WAREHOUSE_HEAP_MB',
      schema: int(0),
      default: 128,
      doc: "SQLite's soft heap limit, all connections, MB; `0` = none",
    }),
  },
  task: {
    retries: setting({ env: 'DRIVETRAIN_TASK_RETRIES', schema: int(0), default: 3, doc: 'default retries of a task' }),
    retryDelayS: setting({
      env: 'DRIVETRAIN_TASK_RETRY_DELAY_S',
      schema: z.number().min(0),
      default: 30,
      doc: "default delay before a task's first retry (doubles each retry)",
    }),
    // Airflow's execution_timeout defaults to none, which lets a task that never returns hold its
    // slot and renew its lease for ever. A day is past any attempt of a daily or monthly pipeline
    // that is still making progress, yet ends a hung one before it blocks the next day's run.
    timeoutS: setting({
      env: 'DRIVETRAIN_TASK_TIMEOUT_S',
      schema: z.number().min(0),
      default: 86400,
      doc: "a task attempt's timeout when neither task nor DAG sets `timeoutS`; `0` = none (Airflow's `execution_timeout`)",
    }),
    // An hour outlasts a restart or a short maintenance of a source, yet a backfill run by hand
    // against a source that is gone still ends the same hour, saying so.
    rescheduleLimitS: setting({
      env: 'DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S',
      schema: z.number().min(0),
      default: 3600,
      doc: 'seconds an outage (open circuit breaker) may defer a task before it fails',
    }),
  },
  scheduler: {
    parallelism: setting({ env: 'DRIVETRAIN_PARALLELISM', schema: int(1), default: 8, doc: 'task instances running at once in one process' }),
    tick: setting({ env: 'DRIVETRAIN_SCHEDULER_TICK', schema: text, default: '*/5 * * * * *', doc: 'node-cron pattern of the run-creation tick' }),
    leaseS: setting({
      env: 'DRIVETRAIN_LEASE_S',
      schema: z.number().positive(),
      default: 30,
      doc: "a claimed task instance is lost after this long without a heartbeat; also `/healthz`'s limit for a loop that has not ticked",
    }),
    heartbeatS: setting({
      env: 'DRIVETRAIN_HEARTBEAT_S',
      schema: z.number().positive(),
      default: 5,
      doc: 'how often running task instances renew their lease; below `DRIVETRAIN_LEASE_S`',
    }),
    shutdownGraceMs: setting({
      env: 'DRIVETRAIN_SHUTDOWN_GRACE_MS',
      schema: int(0),
      default: 8000,
      doc: "grace for running tasks on SIGTERM/SIGINT (under Docker's 10 s)",
    }),
    logRetentionDays: setting({ env: 'DRIVETRAIN_LOG_RETENTION_DAYS', schema: z.number().min(0), default: 30, doc: 'task logs of older runs are removed' }),
    schedulerLogMaxBytes: setting({ env: 'DRIVETRAIN_SCHEDULER_LOG_MAX_BYTES', schema: int(1024), default: 10485760, doc: '`scheduler.log` rotates past this size' }),
    schedulerLogMaxFiles: setting({ env: 'DRIVETRAIN_SCHEDULER_LOG_MAX_FILES', schema: int(1), default: 5, doc: 'rotated `scheduler.log` files kept' }),
    // Airflow's default_pool has 128 slots: far above parallelism, so a pool-less DAG is limited by
    // parallelism and max active tasks as before, yet every process on the database shares one count.
    pools: setting({
      env: 'DRIVETRAIN_POOLS',
      schema: z.string().transform(pools),
      default: 'default_pool=128',
      doc: 'task pools `name=slots,...`, shared by all processes; `default_pool` (128 unless listed) holds tasks without `pool`',
    }),
  },
  http: {
    host: setting({
      env: 'DRIVETRAIN_HTTP_HOST',
      schema: text,
      default: '127.0.0.1',
      imageDefault: '0.0.0.0',
      doc: 'address of the health and metrics listener',
    }),
    port: setting({ env: 'DRIVETRAIN_HTTP_PORT', schema: int(0).max(65535), default: 8974, doc: 'its port; `0` = any free port' }),
    apiToken: setting({
      env: 'DRIVETRAIN_API_TOKEN',
      schema: text.optional(),
      default: undefined,
      envOnly: true,
      secret: 'value',
      doc: 'bearer token of the API and console; unset = read-only',
    }),
    apiTokenFile: setting({
      env: 'DRIVETRAIN_API_TOKEN_FILE',
      schema: text.optional(),
      default: undefined,
      envOnly: true,
      isPath: true,
      doc: 'a file holding that token',
    }),
  },
} as const satisfies DeclarationTree;
