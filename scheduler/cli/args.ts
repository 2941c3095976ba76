/** Argument parsers shared by the CLI commands; bad values are UsageErrors quoting them. */
import { UsageError } from '../errors/UsageError.js';

/** `YYYY-MM-DD`, optionally `THH:MM[:SS[.fff]]` and a zone (`Z`, `+01:00`, `+0100`). */
const DATE_ARG = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * `YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time; one without a zone is UTC whatever TZ says.
 * An impossible day (`2024-02-30`) or trailing text is refused, never rolled over as Date would.
 */
export function parseDateArg(value: string, option: string): Date {
  const bad = (): UsageError => new UsageError(`${option}: '${value}' is not a date (YYYY-MM-DD or ISO 8601)`);
  const m = DATE_ARG.exec(value);
  if (!m) throw bad();
  const [, year, month, day, hour, minute, second = '00', fraction = '', zone = 'Z'] = m;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) throw bad();
  const ms = fraction ? `.${fraction.slice(0, 3).padEnd(3, '0')}` : '';
  const offset = zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  // Always with a zone (Z when none was written): Date reads a zone-less date-time as local time.
  const d = new Date(`${year}-${month}-${day}T${hour ?? '00'}:${minute ?? '00'}:${second}${ms}${offset}`);
  // The calendar check is on the day as written, before any zone moves it.
  const written = new Date(`${year}-${month}-${day}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || Number.isNaN(written.getTime()) || written.toISOString().slice(0, 10) !== `${year}-${month}-${day}`) throw bad();
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
