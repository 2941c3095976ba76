/**
 * A winston transport that appends lines to a file and rotates it at a size cap, logrotate-style:
 * `scheduler.log` is always the newest, then `scheduler.log.1`, `scheduler.log.2`, ... oldest last.
 *
 * Why not winston's own File transport (maxsize/maxFiles/tailable): tried with winston 3.19, a
 * burst of lines logged in one tick before the file has opened is lost entirely (both files empty),
 * a burst after open overshoots the cap several times over, and waiting for its 'finish' after a
 * rotation never resolves, which would hang the daemon's shutdown. Synchronous appends are exact and
 * simple: a line is a few hundred bytes into the page cache, and nothing is buffered in this process,
 * so nothing is lost on a crash. (docs/design/attempt-logs.md)
 *
 * Several processes may append to the same file (the daemon and a CLI backfill): writes use O_APPEND,
 * the cap is checked against the file's size (one cheap fstat) rather than our own count, and before
 * rotating the transport checks that the file at the path is still the one it has open; when another
 * process has rotated it already, it just reopens.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import type TransportStream from 'winston-transport';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './privateFiles.js';

/** Options of {@link RotatingFileTransport}. */
export interface RotatingFileTransportOptions {
  /** The live file, e.g. `$logDir/scheduler.log`; its directory is created. */
  readonly filename: string;
  /** The live file is rotated before a line would take it past this many bytes. */
  readonly maxBytes: number;
  /** Files kept in all, the live one included (at least 1: then the live file is just truncated). */
  readonly maxFiles: number;
  /** Lowest level written; default: the logger's. */
  readonly level?: string;
}

/**
 * winston's transport base class. winston exports it at run time as `Transport`, but its typings
 * only declare it as the namespace `transport`, so it is read through a typed cast. (winston-transport
 * is winston's own dependency; only its types are imported, so package.json needs no new entry.)
 */
const TransportBase = (winston as unknown as { Transport: typeof TransportStream }).Transport;

/** The formatted line winston's format put on the info object (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/** Appends each formatted log line to a file, rotating it at a size cap. */
export class RotatingFileTransport extends TransportBase {
  private readonly filename: string;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private fd: number | undefined;
  private ino = 0;
  private size = 0;

  constructor(opts: RotatingFileTransportOptions) {
    super({ level: opts.level });
    this.filename = opts.filename;
    this.maxBytes = opts.maxBytes;
    this.maxFiles = Math.max(1, Math.trunc(opts.maxFiles));
    mkdirSync(path.dirname(this.filename), { recursive: true, mode: PRIVATE_DIR_MODE });
    this.open();
  }

  private open(): void {
    this.fd = openSync(this.filename, 'a', PRIVATE_FILE_MODE);
    const s = fstatSync(this.fd);
    this.ino = s.ino;
    this.size = s.size;
  }

  /** Shifts `.1` -> `.2` ... (dropping the oldest) and the live file to `.1`, then opens a new live file. */
  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    let current: number | undefined;
    try {
      current = statSync(this.filename).ino;
    } catch {
      current = undefined;
    }
    // Another process rotated since we opened: the file at the path is not ours, so leave it be.
    if (current === this.ino) {
      const name = (n: number): string => (n === 0 ? this.filename : `${this.filename}.${n}`);
      rmSync(name(this.maxFiles - 1), { force: true });
      for (let n = this.maxFiles - 2; n >= 0; n--) {
        try {
          renameSync(name(n), name(n + 1));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    this.open();
  }

  /** Called by winston for each line at or above the level. */
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = `${String(info[MESSAGE] ?? info.message)}\n`;
    const bytes = Buffer.byteLength(line);
    try {
      if (this.fd === undefined) this.open();
      // The file's real size, not a count of our own writes: another process may append to it too.
      this.size = fstatSync(this.fd!).size;
      if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
      writeSync(this.fd!, line);
      this.size += bytes;
    } catch (err) {
      // A full disk or a removed directory must not crash the scheduler; winston reports it.
      this.emit('error', err);
    }
    this.emit('logged', info);
    next();
  }

  /** Closes the file once winston has ended the transport (every line is already written). */
  override _final(callback: (error?: Error | null) => void): void {
    this.close();
    callback();
  }

  /** Closes the file; a later line reopens it. */
  override close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
