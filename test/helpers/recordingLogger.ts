/** The one logger of the tests: keeps every line it is given, so a test can read what was logged. */
import type { Logger } from '../../scheduler/interfaces.js';
import type { LineMatch, LogLevel, LogLine } from './interfaces.js';

export type { LineMatch, LogLevel, LogLine } from './interfaces.js';

/** True when `line` matches `match` (a substring of its message, a pattern, or a predicate). */
function matches(line: LogLine, match: LineMatch): boolean {
  if (typeof match === 'string') return line.message.includes(match);
  if (match instanceof RegExp) return match.test(line.message);
  return match(line);
}

/** One line as text: `level message {meta}`, the shape a failed assertion prints readably. */
function render(line: LogLine): string {
  return `${line.level} ${line.message} ${JSON.stringify(line.meta ?? {})}`;
}

/**
 * A Logger that records level, message and meta of every call. Readers filter by level; `waitFor`
 * lets a test wait for a line instead of sleeping for a guessed time.
 */
export class RecordingLogger implements Logger {
  /** Every line, in the order logged. */
  readonly lines: LogLine[] = [];
  private waiters: { match: LineMatch; level?: LogLevel; resolve: (line: LogLine) => void }[] = [];

  debug(message: string, meta?: Record<string, unknown>): void {
    this.record('debug', message, meta);
  }

  info(message: string, meta?: Record<string, unknown>): void {
    this.record('info', message, meta);
  }

  warn(message: string, meta?: Record<string, unknown>): void {
    this.record('warn', message, meta);
  }

  error(message: string, meta?: Record<string, unknown>): void {
    this.record('error', message, meta);
  }

  /** The lines at `level`, or every line. */
  at(level?: LogLevel): LogLine[] {
    return level === undefined ? [...this.lines] : this.lines.filter((l) => l.level === level);
  }

  /** The messages at `level`, or every message. */
  messages(level?: LogLevel): string[] {
    return this.at(level).map((l) => l.message);
  }

  /** The lines at `level` (or all) matching `match`. */
  find(match: LineMatch, level?: LogLevel): LogLine[] {
    return this.at(level).filter((l) => matches(l, match));
  }

  /** True when a line at `level` (or any) matches `match`. */
  has(match: LineMatch, level?: LogLevel): boolean {
    return this.find(match, level).length > 0;
  }

  /** The lines at `level` (or all) as `level message {meta}`, one per line: an assertion's message. */
  text(level?: LogLevel): string {
    return this.at(level).map(render).join('\n');
  }

  /** Resolves with the first line at `level` (or any) matching `match`, already logged or still to come. */
  waitFor(match: LineMatch, level?: LogLevel): Promise<LogLine> {
    const seen = this.find(match, level)[0];
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, level, resolve }));
  }

  /** Forgets every line (waiters stay). */
  clear(): void {
    this.lines.length = 0;
  }

  private record(level: LogLevel, message: string, meta?: Record<string, unknown>): void {
    const line: LogLine = meta === undefined ? { level, message } : { level, message, meta };
    this.lines.push(line);
    // Waiters are settled after the push, so a waiter that reads `lines` sees the line it waited for.
    const due = this.waiters.filter((w) => (w.level === undefined || w.level === level) && matches(line, w.match));
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((w) => !due.includes(w));
    for (const w of due) w.resolve(line);
  }
}
