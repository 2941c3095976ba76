/**
 * `drivetrain logs [--follow] [--dag ID] [--task ID] [--run ID] [--scheduler] [--lines N]`: prints or
 * follows the task attempt logs and the scheduler log of DRIVETRAIN_LOG_DIR.
 *
 * Every line is prefixed with where it came from: `[dag/task/run#try] ` for an attempt log (the run id
 * in full, so interleaved runs of a backfill stay apart) and `[scheduler] ` for scheduler.log.
 * Without filters both kinds are shown; --dag/--task/--run show only matching attempt logs;
 * --scheduler shows only the scheduler log.
 */
import { Command, CommanderError } from 'commander';
import { once } from 'node:events';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { UsageError } from '../errors/UsageError.js';
import { attemptPrefix, listAttemptLogs, listSchedulerLogs, parseAttemptLogPath, SCHEDULER_PREFIX, type AttemptLogFilter } from '../logFiles.js';
import { LogTail, offsetOfLastLines, readRange, splitLines } from '../logTail.js';
import { loadSettings } from '../settings.js';

/** What {@link main} reads and writes; the defaults are the process's. For tests. */
export interface LogsIo {
  /** Where lines go. Default process.stdout. */
  readonly stdout?: NodeJS.WritableStream;
  /** Where notes go. Default process.stderr. */
  readonly stderr?: NodeJS.WritableStream;
  /** Environment for loadSettings. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Stops --follow like SIGTERM does. */
  readonly signal?: AbortSignal;
}

interface LogsOptions {
  follow?: boolean;
  dag?: string;
  task?: string;
  run?: string;
  scheduler?: boolean;
  lines?: number;
}

function parseLines(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--lines: '${value}' is not a whole number >= 0`);
  return Number(value);
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

/** Entry point; `argv` starts with the word `logs`. Resolves to the exit code. */
export async function main(argv: string[], io: LogsIo = {}): Promise<number> {
  const program = new Command('logs')
    .description('print task attempt logs and the scheduler log; --follow keeps printing new lines')
    .option('-f, --follow', 'keep printing lines appended to the logs and to attempt logs created later, until Ctrl-C')
    .option('--dag <id>', 'only attempt logs of this DAG')
    .option('--task <id>', 'only attempt logs of this task')
    .option('--run <id>', 'only attempt logs of runs whose id contains this (e.g. a date)')
    .option('--scheduler', 'only the scheduler log')
    .option('-n, --lines <n>', 'print only the last N lines of each file (with --follow: of each existing file; default 10)', parseLines)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => void (io.stdout ?? process.stdout).write(s) });

  let opts: LogsOptions;
  try {
    program.parse(argv.slice(1), { from: 'user' });
    opts = program.opts<LogsOptions>();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      // One line, as the CLI promises: commander puts its "(Did you mean ...?)" on a second line.
      throw new UsageError(`logs: ${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}`);
    }
    throw err;
  }
  const filter: AttemptLogFilter = { dagId: opts.dag, taskId: opts.task, run: opts.run };
  const filtered = opts.dag !== undefined || opts.task !== undefined || opts.run !== undefined;
  if (opts.scheduler && filtered) throw new UsageError('logs: --scheduler shows only the scheduler log; drop --dag/--task/--run');

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
