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
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  attemptPrefix,
  comparePaths,
  matchesFilter,
  parseAttemptLogPath,
  SCHEDULER_PREFIX,
  type AttemptLogFilter,
} from './logFiles.js';
import { decodePathSegment, SCHEDULER_LOG_FILE } from './logging.js';

/** An item unchanged for this long is "cold": checked only on full scans. */
export const HOT_MS = 30_000;
/** Every this many polls, every file and directory is checked, cold or not. */
export const FULL_SCAN_EVERY = 10;

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
/** Bytes read from one file per poll, so memory stays flat however fast a file grows; the rest follows at once. */
export const MAX_READ_PER_POLL = 4 * 1024 * 1024;
/** A "line" this long without a newline is printed as it is rather than held further. */
export const MAX_LINE_BYTES = 1024 * 1024;

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

/** Splits `partial + chunk` into complete lines and the unterminated rest (unless that passes {@link MAX_LINE_BYTES}). */
export function splitLines(partial: Buffer, chunk: Buffer): { lines: string[]; rest: Buffer } {
  const data = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk;
  const last = data.lastIndexOf(NEWLINE);
  const lines = last === -1 ? [] : data.subarray(0, last).toString('utf8').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const rest = Buffer.from(data.subarray(last + 1));
  if (rest.length > MAX_LINE_BYTES) return { lines: [...lines, rest.toString('utf8')], rest: Buffer.alloc(0) };
  return { lines, rest };
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
  /** Its line prefix. */
  readonly prefix: string;
  /** Bytes read so far. */
  offset: number;
  /** The inode read, to notice a rotation. */
  ino: number;
  /** Bytes after the last newline, held until the line is complete. */
  partial: Buffer;
  /** When it last grew (its mtime when first seen), for the hot/cold schedule. */
  lastChange: number;
  /** Always checked (scheduler.log). */
  readonly alwaysHot: boolean;
}

interface DirState {
  /** 0 = the log directory, 1 = dag_id=, 2 = run_id=, 3 = task_id=. */
  readonly depth: number;
  mtimeMs: number;
  /** When its entries last changed (its mtime when first seen), for the hot/cold schedule. */
  lastChange: number;
}

/** Entry name prefix expected at each depth below the log directory. */
const LEVEL_PREFIX = ['dag_id=', 'run_id=', 'task_id=', 'attempt='] as const;

/** Follows a log directory until stopped. */
export class LogTail {
  private readonly files = new Map<string, FileState>();
  private readonly dirs = new Map<string, DirState>();
  private readonly intervalMs: number;
  private readonly hotMs: number;
  private readonly fullScanEvery: number;
  private polls = 0;
  /** A file had more than {@link MAX_READ_PER_POLL} new bytes: poll again at once. */
  private behind = false;
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
    await this.cycle(true, this.opts.initialLines);
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
    const delay = this.behind ? 0 : this.intervalMs;
    this.behind = false;
    this.timer = setTimeout(() => {
      this.running = this.cycle(++this.polls % this.fullScanEvery === 0, Infinity).finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, delay);
  }

  /**
   * One poll: finds new files (checking hot directories, or all on a full scan), then reads what the
   * hot files (all on a full scan) gained, and writes it in path order. `newLines` is how much of a
   * file read for the first time to print: the start's --lines, or all of it in later polls (the
   * file was created since).
   */
  private async cycle(full: boolean, newLines: number): Promise<void> {
    const now = Date.now();
    if (this.opts.scheduler && !this.files.has(this.schedulerLog)) this.addFile(this.schedulerLog, SCHEDULER_PREFIX, now, true);
    if (this.opts.attempts) this.scanDirs(full, now);
    const out: [string, string][] = [];
    for (const [file, st] of this.files) {
      if (!full && !st.alwaysHot && st.offset !== -1 && now - st.lastChange > this.hotMs) continue;
      const text = this.readNew(file, st, newLines, now);
      if (text) out.push([file, text]);
    }
    out.sort(([a], [b]) => (a === this.schedulerLog ? -1 : b === this.schedulerLog ? 1 : comparePaths(a, b)));
    for (const [, text] of out) await this.opts.write(text);
  }

  private get schedulerLog(): string {
    return path.join(this.opts.logDir, SCHEDULER_LOG_FILE);
  }

  private addFile(file: string, prefix: string, now: number, alwaysHot: boolean): void {
    this.files.set(file, { prefix, offset: -1, ino: 0, partial: Buffer.alloc(0), lastChange: now, alwaysHot });
  }

  /**
   * Checks the known directories (hot ones, or all on a full scan) and registers the entries of those
   * that changed; new directories are checked in the same pass. Directories and files that are gone
   * (log retention) are forgotten. Synchronous on purpose: this process does nothing else meanwhile,
   * and a sync stat costs microseconds where an async one costs a thread-pool round trip.
   */
  private scanDirs(full: boolean, now: number): void {
    const { logDir, filter } = this.opts;
    if (!this.dirs.has(logDir)) this.dirs.set(logDir, { depth: 0, mtimeMs: -1, lastChange: now });
    const queue = [...this.dirs.keys()];
    for (let i = 0; i < queue.length; i++) {
      const dir = queue[i];
      const st = this.dirs.get(dir);
      if (!st) continue;
      if (!full && st.mtimeMs !== -1 && now - st.lastChange > this.hotMs) continue;
      let mtimeMs: number;
      try {
        mtimeMs = statSync(dir).mtimeMs;
      } catch {
        if (dir !== logDir) this.forget(dir);
        continue;
      }
      if (mtimeMs === st.mtimeMs) continue;
      // First sight: as hot as its last change on disk, so an old tree starts cold.
      st.lastChange = st.mtimeMs === -1 ? Math.min(now, mtimeMs) : now;
      st.mtimeMs = mtimeMs;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      const prefix = LEVEL_PREFIX[st.depth];
      for (const name of names) {
        const child = path.join(dir, name);
        // A mapped instance's attempts are one directory further down, beside the task's own.
        if (st.depth === 3 && name.startsWith('map_index=')) {
          if (!this.dirs.has(child)) {
            this.dirs.set(child, { depth: 3, mtimeMs: -1, lastChange: now });
            queue.push(child);
          }
          continue;
        }
        if (!name.startsWith(prefix)) continue;
        if (st.depth < 3) {
          if (this.dirs.has(child) || !this.wanted(st.depth, name, filter)) continue;
          this.dirs.set(child, { depth: st.depth + 1, mtimeMs: -1, lastChange: now });
          queue.push(child);
        } else if (!this.files.has(child)) {
          const ref = parseAttemptLogPath(logDir, child);
          if (!ref || !matchesFilter(ref, filter)) continue;
          this.addFile(child, attemptPrefix(ref), now, false);
        }
      }
    }
  }

  /** Whether a directory entry at `depth` can hold files the filter wants. */
  private wanted(depth: number, name: string, filter: AttemptLogFilter): boolean {
    const value = decodePathSegment(name.slice(LEVEL_PREFIX[depth].length));
    if (depth === 0) return filter.dagId === undefined || value === filter.dagId;
    if (depth === 1) return filter.run === undefined || value.includes(filter.run);
    return filter.taskId === undefined || value === filter.taskId;
  }

  /** Drops a removed directory and everything known below it. */
  private forget(dir: string): void {
    const below = dir + path.sep;
    this.dirs.delete(dir);
    for (const d of this.dirs.keys()) if (d.startsWith(below)) this.dirs.delete(d);
    for (const f of this.files.keys()) if (f.startsWith(below)) this.files.delete(f);
  }

  /**
   * What `file` gained since last read, as prefixed lines. On first read, starts `firstLines` from
   * its end. A new inode at the path (scheduler.log rotated) first drains the old file, now
   * `<file>.1`; a shrunken file (truncated) starts again from its beginning.
   */
  private readNew(file: string, st: FileState, firstLines: number, now: number): string {
    if (st.offset !== -1) {
      // The common case, an unchanged file, costs one stat.
      try {
        const s = statSync(file);
        if (s.ino === st.ino && s.size === st.offset) return '';
      } catch {
        return '';
      }
    }
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return ''; // not there (yet, or any more): a later poll sees it
    }
    const chunks: string[] = [];
    try {
      const s = fstatSync(fd);
      if (st.offset === -1) {
        st.ino = s.ino;
        st.offset = offsetOfLastLines(fd, s.size, firstLines);
        // As hot as its last write, so the files of old runs start cold.
        st.lastChange = Math.min(now, s.mtimeMs);
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
        const to = Math.min(s.size, st.offset + MAX_READ_PER_POLL);
        if (to < s.size) this.behind = true;
        st.offset = readRange(fd, st.offset, to, (chunk) => {
          const { lines, rest } = splitLines(st.partial, chunk);
          st.partial = rest;
          if (lines.length > 0) chunks.push(lines.map((l) => `${st.prefix} ${l}\n`).join(''));
        });
      }
    } finally {
      closeSync(fd);
    }
    return chunks.join('');
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
