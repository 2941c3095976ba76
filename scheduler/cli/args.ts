/** Argument parsers shared by the CLI commands; bad values are UsageErrors quoting them. */
import { checkDateRange, parseUtcDate } from '../dates.js';
import { DateRangeError } from '../errors/DateRangeError.js';
import { InvalidDateError } from '../errors/InvalidDateError.js';
import { UsageError } from '../errors/UsageError.js';

/**
 * A date option or argument (`--from`, `DATE`), parsed by the one strict UTC parser (../dates.ts);
 * a malformed or impossible date is a UsageError (exit 2) quoting it.
 */
export function parseDateArg(value: string, option: string): Date {
  try {
    return parseUtcDate(value, option);
  } catch (err) {
    throw err instanceof InvalidDateError ? new UsageError(err.message) : err;
  }
}

/** `--to` before `--from` would select nothing and exit 0: a UsageError naming both instead. */
export function checkDateRangeArgs(from: Date | undefined, to: Date | undefined): void {
  try {
    checkDateRange(from, to, '--from', '--to');
  } catch (err) {
    throw err instanceof DateRangeError ? new UsageError(err.message) : err;
  }
}

/** A JSON object, for `--conf`. */
export function parseConfArg(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(`--conf: '${value}' is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`--conf: '${value}' is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
