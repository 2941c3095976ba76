/**
 * The scheduler's two kinds of log.
 *
 * - The scheduler log: JSON lines (`{"timestamp","level","message",...meta}`) through winston to
 *   stdout and to `$logDir/scheduler.log`, size-capped and rotated.
 * - One log file per task attempt, `$logDir/dag_id=<dag>/run_id=<run>/task_id=<task>/attempt=<n>.log`,
 *   human-readable lines `2024-01-01T00:00:00.123Z INFO message {"k":"v"}`.
 */
import { closeSync, open as openCallback, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { inspect } from 'node:util';
import winston from 'winston';
import type { Logger } from './interfaces.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './privateFiles.js';
import { redact } from './redact.js';
import { RotatingFileTransport } from './rotatingFileTransport.js';
import type { Settings } from './settings.js';

/** The scheduler's logger; close() flushes scheduler.log. */
export interface SchedulerLogger extends Logger {
  /** Flushes and closes every transport; resolves once scheduler.log is written. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createSchedulerLogger}. */
export interface SchedulerLoggerOptions {
  /** Also write the JSON lines to stdout. Default true (the daemon); CLI commands that print tables turn it off. */
  readonly stdout?: boolean;
  /** Where the stdout copy goes instead of process.stdout (tests). */
  readonly stream?: NodeJS.WritableStream;
}

/** The name of the scheduler log inside the log directory; rotated copies are scheduler.log.1 (newest), .2, ... */
export const SCHEDULER_LOG_FILE = 'scheduler.log';

/** Errors in meta become {name, message, ...fields, cause, stack} instead of JSON.stringify's `{}`. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const cause = value.cause === undefined ? {} : { cause: value.cause };
    return { ...value, name: value.name, message: value.message, ...cause, stack: value.stack };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * JSON.stringify that never throws: a log call must not fail the task or the scheduler because its
 * meta holds a cycle or a getter that throws; such meta is written as util.inspect's text instead.
 */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, jsonReplacer) ?? 'null';
  } catch {
    return JSON.stringify({ unserializable: inspect(value, { depth: 3, breakLength: Infinity }) });
  }
}

/** Our line shape: timestamp, level and message first, then the meta, so lines read well and sort by time. */
const jsonLine = winston.format.printf((info) => {
  const { timestamp, level, message, ...meta } = info;
  // Redacted here, the one place every line passes on its way to stdout and scheduler.log.
  try {
    return redact(JSON.stringify({ timestamp, level, message, ...meta }, jsonReplacer));
  } catch {
    return redact(JSON.stringify({ timestamp, level, message, meta: inspect(meta, { depth: 3, breakLength: Infinity }) }));
  }
});

/**
 * Creates the scheduler's logger: JSON lines at `settings.logLevel` to stdout (unless turned off) and
 * to `$logDir/scheduler.log`, which is rotated (to scheduler.log.1, .2, ...) before it would pass
 * `scheduler.schedulerLogMaxBytes`, keeping `scheduler.schedulerLogMaxFiles` files in all. The live
 * file keeps its name, so `tail -F` and `drivetrain logs --follow` always read the newest lines.
 * See rotatingFileTransport.ts for why winston's own File transport is not used.
 */
export function createSchedulerLogger(settings: Settings, opts: SchedulerLoggerOptions = {}): SchedulerLogger {
  const file = new RotatingFileTransport({
    filename: path.join(settings.logDir, SCHEDULER_LOG_FILE),
    maxBytes: settings.scheduler.schedulerLogMaxBytes,
    maxFiles: settings.scheduler.schedulerLogMaxFiles,
  });
  const transports: winston.transport[] = [file];
  if (opts.stdout ?? true) {
    const stream = opts.stream ?? process.stdout;
    const toStdout = new winston.transports.Stream({ stream, eol: '\n' });
    // stdout closed under us (`drivetrain start | head`, a dead log shipper): stop writing there
    // instead of dying of an unhandled EPIPE; scheduler.log keeps every line.
    stream.on('error', () => {
      toStdout.silent = true;
    });
    transports.push(toStdout);
  }
  const logger = winston.createLogger({
    level: settings.logLevel,
    format: winston.format.combine(winston.format.timestamp(), jsonLine),
    transports,
    exitOnError: false,
  });
  // A transport failing (disk full, stdout closed) must not crash the scheduler: say it once on stderr.
  let reported = false;
  logger.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    process.stderr.write(`drivetrain: scheduler log write failed: ${err.message}\n`);
  });
  let closing: Promise<void> | undefined;
  return {
    debug: (message, meta) => void logger.debug(message, meta),
    info: (message, meta) => void logger.info(message, meta),
    warn: (message, meta) => void logger.warn(message, meta),
    error: (message, meta) => void logger.error(message, meta),
    close() {
      // Ending the logger ends its transports; the file transport's 'finish' comes after it has
      // written every line and closed the file (the logger's own 'finish' can come earlier).
      closing ??= new Promise<void>((resolve) => {
        if (file.writableFinished) return resolve();
        file.once('finish', () => resolve());
        logger.end();
      });
      return closing;
    },
  };
}

/** One task attempt, which owns one log file. */
export interface AttemptRef {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  /** The try number, from 1. */
  readonly attempt: number;
  /** A mapped instance's map index (from 0): its logs get a `map_index=N` directory, as Airflow's. */
  readonly mapIndex?: number;
}

/**
 * Makes an id safe as one path segment: `/`, `\`, NUL and `%` are percent-encoded, as are the names
 * `.` and `..`, so no id can escape its directory. Ordinary ids (and Airflow-style run ids with `:`
 * and `+`) are unchanged. {@link decodePathSegment} reverses it.
 */
export function encodePathSegment(id: string): string {
  if (id === '.' || id === '..') return id.replace(/\./g, '%2E');
  return id.replace(/[%/\\\0]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** Reverses {@link encodePathSegment}. */
export function decodePathSegment(segment: string): string {
  return segment.replace(/%([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** `$logDir/dag_id=<dag>/run_id=<run>/task_id=<task>/attempt=<n>.log` (Airflow's layout). */
export function attemptLogPath(logDir: string, ref: AttemptRef): string {
  return path.join(
    logDir,
    `dag_id=${encodePathSegment(ref.dagId)}`,
    `run_id=${encodePathSegment(ref.runId)}`,
    `task_id=${encodePathSegment(ref.taskId)}`,
    ...(ref.mapIndex === undefined || ref.mapIndex < 0 ? [] : [`map_index=${ref.mapIndex}`]),
    `attempt=${ref.attempt}.log`,
  );
}

/** Task directories this process created or found, so a retry or a batch skips mkdir's walk. Bounded. */
const knownDirs = new Set<string>();

/**
 * Opens `file` for appending, creating its directories unless this process already made them. An
 * ENOENT then means log retention removed the directory meanwhile: it is created again.
 */
async function openCreatingDirs(file: string): Promise<number> {
  const dir = path.dirname(file);
  if (!knownDirs.has(dir)) {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    if (knownDirs.size >= 10_000) knownDirs.clear();
    knownDirs.add(dir);
  }
  try {
    return await openFd(file, 'a');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    knownDirs.delete(dir);
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return openFd(file, 'a');
  }
}

/** fs.open as a promise of the raw fd (fs/promises would wrap it in a FileHandle we do not need). */
function openFd(file: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => openCallback(file, flags, PRIVATE_FILE_MODE, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/** The log of one task attempt (or of a batch of task instances run by one call). */
export interface AttemptLogger extends Logger {
  /** Writes an error: its message, its cause chain (`caused by:` lines) and its stack. */
  logError(err: unknown): void;
  /** Closes the files; later calls are dropped. Resolves once every line is on disk. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link openAttemptLog}. */
export interface AttemptLogOptions {
  /** Also write every line here (e.g. process.stdout for `tasks test`). */
  readonly echo?: NodeJS.WritableStream;
  /** Lowest level written. Default 'debug': attempt logs keep everything the task says. */
  readonly level?: 'error' | 'warn' | 'info' | 'debug';
  /**
   * Called once per logger when a file cannot be opened or written (a full disk, a read-only log
   * directory); the task goes on, without that file. Default: one line on stderr.
   */
  readonly onError?: (err: Error, file: string) => void;
}

const LEVEL_RANK = { error: 0, warn: 1, info: 2, debug: 3 } as const;
type Level = keyof typeof LEVEL_RANK;

/** Depth cap of the cause chain, so a cyclic or absurd chain cannot loop or flood the file. */
const MAX_CAUSES = 20;

/** One-line description of any thrown value: `Name: message`, or an inspected non-Error. */
function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return `thrown ${inspect(value, { depth: 2, breakLength: Infinity })}`;
}

/** Context fields an error carries (house rule: readonly fields), without the standard ones. */
function contextFields(err: Error): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (k === 'cause' || k === 'errors' || k === 'stack' || k === 'message' || k === 'name') continue;
    out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The stack without its first `Name: message` line(s), which the header already says. */
function stackFrames(err: Error): string[] {
  const lines = (err.stack ?? '').split('\n');
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  return first === -1 ? [] : lines.slice(first);
}

/**
 * Opens the attempt log of each ref (directories created) and returns a logger that writes every line
 * to all of them: a batched call covering several task instances logs into each instance's file.
 *
 * Called once per task attempt, thousands of times in a long backfill, so it must be cheap for the
 * scheduler's event loop. Creating the directories and the file is the expensive part, so that runs in
 * libuv's thread pool while the task already runs; lines logged meanwhile are held in memory and
 * written once the file is open: done synchronously, a busy disk would stall the scheduling of every
 * other task behind each open. After that each line is one synchronous write into the page
 * cache: in order, in the file the moment it is logged (`logs --follow` sees it live), nothing buffered
 * to lose if the process dies. Not winston, nor an fs.WriteStream per attempt: both cost the event loop
 * more per attempt. Figures: docs/design/attempt-logs.md.
 */
export function openAttemptLog(logDir: string, refs: readonly AttemptRef[], opts: AttemptLogOptions = {}): AttemptLogger {
  const files = new AttemptLogFiles(
    refs.map((ref) => attemptLogPath(logDir, ref)),
    opts.onError,
  );
  const echo = opts.echo;
  const maxRank = LEVEL_RANK[opts.level ?? 'debug'];
  let accepting = true;

  const writeLines = (raw: string): void => {
    if (!accepting) return;
    // Redacted here, the one place every line passes on its way to the files and the echo.
    const text = redact(raw);
    files.write(text);
    echo?.write(text);
  };
  const log = (level: Level) => (message: string, meta?: Record<string, unknown>) => {
    if (LEVEL_RANK[level] <= maxRank) writeLines(attemptLine(level, message, meta));
  };

  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    logError(err: unknown) {
      if (!accepting) return;
      writeLines(errorText(err, new Date().toISOString()));
    },
    close() {
      accepting = false;
      return files.close();
    },
  };
}

/** One line of an attempt log: `<timestamp> LEVEL message {meta}`. */
function attemptLine(level: Level, message: string, meta?: Record<string, unknown>): string {
  const m = meta && Object.keys(meta).length > 0 ? ` ${safeJson(meta)}` : '';
  return `${new Date().toISOString()} ${level.toUpperCase()} ${message}${m}\n`;
}

/**
 * The files of one attempt log. The opens run in the thread pool; lines written before they have all
 * settled are held and then written in order. A file that cannot be opened or written is reported
 * once (per logger) and left out.
 */
class AttemptLogFiles {
  /** Open files by path; undefined until every open has settled. */
  private fds: [string, number][] | undefined;
  /** Lines logged before the files were open. */
  private held: string[] = [];
  private reported = false;
  private closing: Promise<void> | undefined;
  private readonly ready: Promise<void>;

  constructor(
    files: readonly string[],
    private readonly onError: AttemptLogOptions['onError'],
  ) {
    if (files.length === 0) {
      this.fds = [];
      this.ready = Promise.resolve();
    } else {
      this.ready = Promise.allSettled(files.map(openCreatingDirs)).then((results) => this.opened(files, results));
    }
  }

  write(text: string): void {
    if (this.fds) this.writeAll(text);
    else this.held.push(text);
  }

  /** Resolves once every line is on disk and the files are closed. Idempotent. */
  close(): Promise<void> {
    // Once the opens have settled the held lines are written (writeSync buffers nothing in this
    // process), so closing the fds is the flush.
    this.closing ??= this.ready.then(() => {
      for (const [, fd] of this.fds!) closeSync(fd);
      this.fds = [];
    });
    return this.closing;
  }

  private opened(files: readonly string[], results: PromiseSettledResult<number>[]): void {
    const fds: [string, number][] = [];
    this.fds = fds;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') fds.push([files[i], r.value]);
      else this.fail(r.reason, files[i]);
    });
    if (this.held.length > 0) this.writeAll(this.held.join(''));
    this.held = [];
  }

  private writeAll(text: string): void {
    for (const [file, fd] of this.fds!) {
      try {
        writeSync(fd, text);
      } catch (err) {
        // A full disk must not fail the task (or the executor's bookkeeping) through its log line.
        this.fail(err, file);
      }
    }
  }

  private fail(err: unknown, file: string): void {
    if (this.reported) return;
    this.reported = true;
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.onError) this.onError(e, file);
    else process.stderr.write(`drivetrain: attempt log ${file}: ${e.message}\n`);
  }
}

/**
 * An error's lines: its header, its causes' headers (`caused by:`), then each one's stack under its
 * one-line name, so the summary at the top stays readable.
 */
function errorText(err: unknown, ts: string): string {
  const header = (prefix: string, e: unknown): string => {
    const ctx = e instanceof Error ? contextFields(e) : undefined;
    return `${ts} ERROR ${prefix}${describe(e)}${ctx ? ` ${safeJson(ctx)}` : ''}\n`;
  };
  // Walk the chain breadth-first: err.cause, then an AggregateError's errors; `seen` stops cycles.
  const seen = new Set<unknown>([err]);
  const chain: unknown[] = [err];
  let text = header('', err);
  for (let i = 0; i < chain.length && chain.length <= MAX_CAUSES; i++) {
    const e = chain[i];
    if (!(e instanceof Error)) continue;
    for (const [prefix, c] of causesOf(e)) {
      if (seen.has(c) || chain.length >= MAX_CAUSES) continue;
      seen.add(c);
      chain.push(c);
      text += header(prefix, c);
    }
  }
  for (const e of chain) {
    if (!(e instanceof Error)) continue;
    const frames = stackFrames(e);
    if (frames.length === 0) continue;
    text += `${ts} ERROR stack of ${describe(e).split('\n')[0]}\n${frames.join('\n')}\n`;
  }
  return text;
}

/** An error's direct causes with their `caused by` prefixes: its cause, then an AggregateError's errors. */
function causesOf(e: Error): [string, unknown][] {
  const next: [string, unknown][] = [];
  if (e.cause !== undefined) next.push(['caused by: ', e.cause]);
  if (e instanceof AggregateError && Array.isArray(e.errors)) {
    e.errors.forEach((sub: unknown, j: number) => next.push([`caused by [${j + 1}/${e.errors.length}]: `, sub]));
  }
  return next;
}
