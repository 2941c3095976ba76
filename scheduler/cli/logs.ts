/**
 * `drivetrain logs [--follow] [--dag ID] [--task ID] [--run ID] [--scheduler] [--lines N]`: prints or
 * follows the task attempt logs and the scheduler log of DRIVETRAIN_LOG_DIR.
 *
 * Every line is prefixed with where it came from: `[dag/task/run#try] ` for an attempt log (the run id
 * in full, so interleaved runs of a backfill stay apart) and `[scheduler] ` for scheduler.log.
 * Without filters both kinds are shown; --dag/--task/--run show only matching attempt logs;
 * --scheduler shows only the scheduler log.
 */
import { once } from 'node:events';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { attemptPrefix, listAttemptLogs, listSchedulerLogs, parseAttemptLogPath, SCHEDULER_PREFIX, type AttemptLogFilter } from '../logFiles.js';
import { LogTail, offsetOfLastLines, readRange, splitLines } from '../logTail.js';
import { loadSettings } from '../settings.js';
import type { CliIo } from './interfaces.js';

/** The parsed options of `drivetrain logs` (defined in main.ts). */
export interface LogsOptions {
  /** Keep printing new lines until a stop request. */
  readonly follow?: boolean;
  /** Only attempt logs of this DAG. */
  readonly dag?: string;
  /** Only attempt logs of this task. */
  readonly task?: string;
  /** Only attempt logs of runs whose id contains this. */
  readonly run?: string;
  /** Only the scheduler log. */
  readonly scheduler?: boolean;
  /** Only the last N lines of each file. */
  readonly lines?: number;
}

/** Writes with backpressure; after the reader went away (EPIPE, `| head`), writes are dropped. */
function writer(out: NodeJS.WritableStream, onBroken: () => void): { write: (text: string) => Promise<void>; closed: () => boolean } {
  let broken = false;
  out.on('error', () => {
    broken = true;
    onBroken();
  });
  return {
    closed: () => broken,
    async write(text: string) {
      if (broken) return;
      if (!out.write(text)) await Promise.race([once(out, 'drain'), once(out, 'error')]).catch(() => undefined);
    },
  };
}

/** Prints one file (its last `lines` lines when given), each line prefixed. */
async function printFile(file: string, prefix: string, lines: number | undefined, write: (t: string) => Promise<void>): Promise<void> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return; // removed since listed (retention)
  }
  try {
    const size = fstatSync(fd).size;
    const from = lines === undefined ? 0 : offsetOfLastLines(fd, size, lines);
    let partial: Buffer = Buffer.alloc(0);
    const pending: string[] = [];
    // Chunked and awaited per chunk: a large log streams through in flat memory.
    let pos = from;
    while (pos < size) {
      const next = Math.min(size, pos + 1024 * 1024);
      pos = readRange(fd, pos, next, (chunk) => {
        const split = splitLines(partial, chunk);
        partial = split.rest;
        if (split.lines.length > 0) pending.push(split.lines.map((l) => `${prefix} ${l}\n`).join(''));
      });
      for (const text of pending.splice(0)) await write(text);
      if (pos < next) break; // file shrank under us
    }
    if (partial.length > 0) await write(`${prefix} ${partial.toString('utf8')}\n`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `drivetrain logs ...` in-process through the CLI's own definitions and parser; `argv` starts
 * with the word `logs`. Usage errors reject with a UsageError.
 */
export async function main(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const cli = await import('./main.js');
  return cli.main(argv, io);
}

/** `drivetrain logs` with parsed, checked options: prints (or follows) the matching logs; resolves to the exit code. */
export async function logsCommand(opts: LogsOptions, io: CliIo = {}): Promise<number> {
  const filter: AttemptLogFilter = { dagId: opts.dag, taskId: opts.task, run: opts.run };
  const filtered = opts.dag !== undefined || opts.task !== undefined || opts.run !== undefined;

  const settings = loadSettings({ env: io.env ?? process.env });
  // Wait for a stop request (signal, abort, or the reader of stdout going away); repeats are harmless.
  let stopRequested!: () => void;
  const stop = new Promise<void>((resolve) => (stopRequested = resolve));
  const out = writer(io.stdout ?? process.stdout, () => stopRequested());
  const attempts = !opts.scheduler;
  const scheduler = opts.scheduler === true || !filtered;

  if (!opts.follow) {
    const files = [
      ...(scheduler ? (await listSchedulerLogs(settings.logDir)).map((f) => ({ f, prefix: SCHEDULER_PREFIX })) : []),
      ...(attempts ? await listAttemptLogs(settings.logDir, filter) : []).map((f) => ({ f, prefix: attemptPrefix(parseAttemptLogPath(settings.logDir, f)!) })),
    ];
    if (files.length === 0) (io.stderr ?? process.stderr).write(`drivetrain: no logs match in ${settings.logDir}\n`);
    for (const { f, prefix } of files) {
      if (out.closed()) break;
      await printFile(f, prefix, opts.lines, out.write);
    }
    return 0;
  }

  const tail = new LogTail({
    logDir: settings.logDir,
    filter,
    attempts,
    scheduler,
    initialLines: opts.lines ?? 10,
    write: out.write,
  });
  const onSignal = (): void => stopRequested();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  io.signal?.addEventListener('abort', onSignal, { once: true });
  if (io.signal?.aborted) onSignal();
  try {
    await tail.start();
    await stop;
  } finally {
    await tail.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.signal?.removeEventListener('abort', onSignal);
  }
  return 0;
}
