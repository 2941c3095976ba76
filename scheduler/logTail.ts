/**
 * A multi-file `tail -F` over Drivetrain's log directory: prints the end of the existing logs, then
 * every line appended to them and to attempt logs created later (new runs, tasks and retries), each
 * line prefixed with its source. Used by `drivetrain logs --follow`.
 *
 * Polling, not fs.watch: a poll every interval (500 ms) works the same on every file system (bind
 * mounts, network volumes) and needs no inotify watch per directory, of which a two-year backfill
 * makes tens of thousands. To keep a poll cheap on such trees, a file or directory that has not
 * changed for {@link HOT_MS} is only re-checked on every {@link FULL_SCAN_EVERY}th poll (~5 s).
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  attemptPrefix,
  comparePaths,
  matchesFilter,
  parseAttemptLogPath,
  SCHEDULER_PREFIX,
  type AttemptLogFilter,
} from './logFiles.js';
import { encodePathSegment, SCHEDULER_LOG_FILE } from './logging.js';

/** An item unchanged for this long is "cold": checked only on full scans. */
export const HOT_MS = 30_000;
/** Every this many polls, every file and directory is checked, cold or not. */
export const FULL_SCAN_EVERY = 10;

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * The byte offset from which `fd` holds its last `n` lines (a final line without a newline counts).
 * Reads backwards in chunks, so a huge file costs only the bytes it returns.
 */
export function offsetOfLastLines(fd: number, size: number, n: number): number {
  if (n <= 0) return size;
  if (!Number.isFinite(n) || size === 0) return 0;
  const buf = Buffer.alloc(CHUNK);
  let end = size;
  // The newline ending the last line is not a line boundary to count.
  readSync(fd, buf, 0, 1, size - 1);
  if (buf[0] === NEWLINE) end = size - 1;
  let need = n;
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const len = end - start;
    readSync(fd, buf, 0, len, start);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] === NEWLINE && --need === 0) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/** Reads [from, to) of `fd` in chunks, calling `onChunk` with each; returns the new offset. */
export function readRange(fd: number, from: number, to: number, onChunk: (chunk: Buffer) => void): number {
  let pos = from;
  const buf = Buffer.alloc(CHUNK);
  while (pos < to) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK, to - pos), pos);
    if (n === 0) break;
    onChunk(buf.subarray(0, n));
    pos += n;
  }
  return pos;
}

/** Splits `partial + chunk` into complete lines and the unterminated rest. */
export function splitLines(partial: Buffer, chunk: Buffer): { lines: string[]; rest: Buffer } {
  const data = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk;
  const last = data.lastIndexOf(NEWLINE);
  if (last === -1) return { lines: [], rest: Buffer.from(data) };
  const text = data.subarray(0, last).toString('utf8');
  return { lines: text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)), rest: Buffer.from(data.subarray(last + 1)) };
}

/** What is followed. */
export interface LogTailOptions {
  /** The log directory (DRIVETRAIN_LOG_DIR). */
  readonly logDir: string;
  /** Which attempt logs; ignored when `attempts` is false. */
  readonly filter: AttemptLogFilter;
  /** Follow attempt logs. */
  readonly attempts: boolean;
  /** Follow scheduler.log (across its rotations). */
  readonly scheduler: boolean;
  /** Lines of each file existing at start to print first; Infinity for all. Files created later print whole. */
  readonly initialLines: number;
  /** Time between polls. Default 500 ms. */
  readonly intervalMs?: number;
  /** An item unchanged this long is checked only on full scans. Default {@link HOT_MS}. */
  readonly hotMs?: number;
  /** Every this many polls is a full scan. Default {@link FULL_SCAN_EVERY}. */
  readonly fullScanEvery?: number;
  /** Receives prefixed lines, each ending in a newline; a returned promise is awaited (backpressure). */
  readonly write: (text: string) => void | Promise<void>;
}

interface FileState {
  prefix: string;
  offset: number;
  ino: number;
  partial: Buffer;
  /** When its size last changed (or it appeared), for the hot/cold schedule. */
  lastChange: number;
}

interface DirState {
  mtimeMs: number;
  children: string[];
  lastChange: number;
}

/** Follows a log directory until stopped. */
export class LogTail {
  private readonly files = new Map<string, FileState>();
  private readonly dirs = new Map<string, DirState>();
  private readonly intervalMs: number;
  private readonly hotMs: number;
  private readonly fullScanEvery: number;
  private polls = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: LogTailOptions) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.hotMs = opts.hotMs ?? HOT_MS;
    this.fullScanEvery = opts.fullScanEvery ?? FULL_SCAN_EVERY;
  }

  /** Prints the end of every existing matching file, then polls for new lines until {@link stop}. */
  async start(): Promise<void> {
    const now = Date.now();
    const found = await this.scan(true, now);
    for (const file of found) await this.readNew(file, this.opts.initialLines, now);
    this.schedule();
  }

  /** Stops polling, waits for a poll in progress, and prints every file's unterminated last line. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    let text = '';
    for (const [, st] of [...this.files].sort(([a], [b]) => comparePaths(a, b))) {
      if (st.partial.length > 0) text += `${st.prefix} ${st.partial.toString('utf8')}\n`;
      st.partial = Buffer.alloc(0);
    }
    if (text) await this.opts.write(text);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.intervalMs);
  }

  private async poll(): Promise<void> {
    const now = Date.now();
    const full = ++this.polls % this.fullScanEvery === 0;
    const found = await this.scan(full, now);
    for (const file of found) {
      if (this.stopped) return;
      const st = this.files.get(file);
      if (!full && st && now - st.lastChange > this.hotMs) continue;
      // A file first seen now was created after the start: print all of it.
      await this.readNew(file, Infinity, now);
    }
  }

  /** The followed files that exist now, scheduler log first, then attempt logs in path order. */
  private async scan(full: boolean, now: number): Promise<string[]> {
    const out: string[] = [];
    const { logDir, filter } = this.opts;
    if (this.opts.scheduler) out.push(path.join(logDir, SCHEDULER_LOG_FILE));
    if (!this.opts.attempts) return out;
    const level = async (dir: string, prefix: string, exact: string | undefined): Promise<string[]> => {
      if (exact !== undefined) return [path.join(dir, `${prefix}${encodePathSegment(exact)}`)];
      return (await this.children(dir, full, now)).filter((n) => n.startsWith(prefix)).map((n) => path.join(dir, n));
    };
    const attempts: string[] = [];
    for (const dagDir of await level(logDir, 'dag_id=', filter.dagId)) {
      for (const runDir of await level(dagDir, 'run_id=', undefined)) {
        for (const taskDir of await level(runDir, 'task_id=', filter.taskId)) {
          for (const file of await level(taskDir, 'attempt=', undefined)) {
            const ref = parseAttemptLogPath(logDir, file);
            if (ref && matchesFilter(ref, filter)) attempts.push(file);
          }
        }
      }
    }
    return [...out, ...attempts.sort(comparePaths)];
  }

  /** A directory's entries; re-read only when its mtime moved, and checked at all only when hot or on a full scan. */
  private async children(dir: string, full: boolean, now: number): Promise<string[]> {
    const known = this.dirs.get(dir);
    if (known && !full && now - known.lastChange > this.hotMs) return known.children;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(dir)).mtimeMs;
    } catch {
      this.dirs.delete(dir);
      return [];
    }
    if (known && known.mtimeMs === mtimeMs) return known.children;
    let children: string[];
    try {
      children = await readdir(dir);
    } catch {
      return [];
    }
    this.dirs.set(dir, { mtimeMs, children, lastChange: now });
    return children;
  }

  /**
   * Prints what `file` gained since last read. On first sight, starts `initialLines` from its end.
   * A new inode at the path (scheduler.log rotated) first drains the old file, now `scheduler.log.1`;
   * a shrunken file (truncated) starts again from its beginning.
   */
  private async readNew(file: string, initialLines: number, now: number): Promise<void> {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return; // not there (yet, or any more): a later poll sees it
    }
    const chunks: string[] = [];
    try {
      const s = fstatSync(fd);
      let st = this.files.get(file);
      if (!st) {
        const ref = parseAttemptLogPath(this.opts.logDir, file);
        st = { prefix: ref ? attemptPrefix(ref) : SCHEDULER_PREFIX, offset: 0, ino: s.ino, partial: Buffer.alloc(0), lastChange: now };
        st.offset = offsetOfLastLines(fd, s.size, initialLines);
        this.files.set(file, st);
      } else if (st.ino !== s.ino) {
        this.drainRotated(file, st, chunks);
        st.ino = s.ino;
        st.offset = 0;
      } else if (s.size < st.offset) {
        st.offset = 0;
        st.partial = Buffer.alloc(0);
      }
      if (s.size > st.offset) {
        st.lastChange = now;
        const state = st;
        st.offset = readRange(fd, st.offset, s.size, (chunk) => {
          const { lines, rest } = splitLines(state.partial, chunk);
          state.partial = rest;
          if (lines.length > 0) chunks.push(lines.map((l) => `${state.prefix} ${l}\n`).join(''));
        });
      }
    } finally {
      closeSync(fd);
    }
    for (const text of chunks) await this.opts.write(text);
  }

  /** After a rotation, reads the rest of the file we were following, if it is now `<file>.1`. */
  private drainRotated(file: string, st: FileState, chunks: string[]): void {
    const rotated = `${file}.1`;
    let fd: number | undefined;
    try {
      if (statSync(rotated).ino !== st.ino) return;
      fd = openSync(rotated, 'r');
      const size = fstatSync(fd).size;
      readRange(fd, st.offset, size, (chunk) => {
        const { lines, rest } = splitLines(st.partial, chunk);
        st.partial = rest;
        if (lines.length > 0) chunks.push(lines.map((l) => `${st.prefix} ${l}\n`).join(''));
      });
    } catch {
      // Rotated away further or removed: those lines are gone, as with tail -F.
    } finally {
      if (fd !== undefined) closeSync(fd);
      if (st.partial.length > 0) chunks.push(`${st.prefix} ${st.partial.toString('utf8')}\n`);
      st.partial = Buffer.alloc(0);
    }
  }
}
