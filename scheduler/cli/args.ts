/** Argument parsers shared by the CLI commands; bad values are UsageErrors quoting them. */
import { UsageError } from '../errors/UsageError.js';

/** `YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time. */
export function parseDateArg(value: string, option: string): Date {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new UsageError(`${option}: '${value}' is not a date (YYYY-MM-DD or ISO 8601)`);
  }
  return d;
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
