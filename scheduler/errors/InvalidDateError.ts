/** A date given on the command line, in a setting or to the API is malformed or impossible. */
export class InvalidDateError extends Error {
  override readonly name = 'InvalidDateError';
  constructor(
    /** The text as given. */
    readonly value: string,
    /** What it was given as: an option (`--from`), an argument (`DATE`) or a variable (`DRIVETRAIN_NOW`). */
    readonly what: string,
  ) {
    super(`${what}: '${value}' is not a date (YYYY-MM-DD or ISO 8601)`);
  }
}
