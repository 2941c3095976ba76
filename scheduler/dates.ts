/**
 * The one parser of dates that come from outside: the command line, DRIVETRAIN_NOW and the API. All
 * are UTC. `new Date(text)` is not used on its own because it rolls an impossible day over
 * (`2024-02-30` is March 1), reads a zone-less date-time in the process's local zone, and accepts
 * almost anything (`0` is the year 2000, `2024-01-01junk` some day in June).
 */
import { DateRangeError } from './errors/DateRangeError.js';
import { InvalidDateError } from './errors/InvalidDateError.js';

/** `YYYY-MM-DD`, optionally `THH:MM[:SS[.fff]]` and a zone (`Z`, `+01:00`, `+0100`). Nothing else. */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * `YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time; one without a zone is UTC whatever TZ says.
 * Throws {@link InvalidDateError} naming `what` (the option or variable) and quoting the value for an
 * impossible day or time, trailing text, or anything that is not such a date.
 */
export function parseUtcDate(value: string, what: string): Date {
  const m = ISO_DATE.exec(value);
  if (!m) throw new InvalidDateError(value, what);
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = m;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) throw new InvalidDateError(value, what);
  // The calendar check is on the day as written, before any zone moves it.
  const written = new Date(`${year}-${month}-${day}T00:00:00Z`);
  if (Number.isNaN(written.getTime()) || written.toISOString().slice(0, 10) !== `${year}-${month}-${day}`) {
    throw new InvalidDateError(value, what);
  }
  const ms = fraction ? `.${fraction.slice(0, 3).padEnd(3, '0')}` : '';
  const offset = zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  if (offset !== 'Z' && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4)) > 59)) throw new InvalidDateError(value, what);
  // Always with a zone (Z when none was written): Date reads a zone-less date-time as local time.
  const d = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}${ms}${offset}`);
  if (Number.isNaN(d.getTime())) throw new InvalidDateError(value, what);
  return d;
}

/**
 * Refuses a range that ends before it starts, which would select nothing and report success. Throws
 * {@link DateRangeError} naming both bounds. Either bound may be absent (open).
 */
export function checkDateRange(from: Date | undefined, to: Date | undefined, fromName = '--from', toName = '--to'): void {
  if (from && to && to.getTime() < from.getTime()) throw new DateRangeError(fromName, from, toName, to);
}
