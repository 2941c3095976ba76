/** A day as `YYYY-MM-DD`, any other instant in full ISO 8601. */
const shown = (d: Date): string => (d.getTime() % 86_400_000 === 0 ? d.toISOString().slice(0, 10) : d.toISOString());

/** A date range whose end comes before its start: it would select nothing, silently. */
export class DateRangeError extends Error {
  override readonly name = 'DateRangeError';
  constructor(
    /** The start as given (`--from`). */
    readonly fromName: string,
    readonly from: Date,
    /** The end as given (`--to`). */
    readonly toName: string,
    readonly to: Date,
  ) {
    super(`${toName} '${shown(to)}' is before ${fromName} '${shown(from)}'`);
  }
}
