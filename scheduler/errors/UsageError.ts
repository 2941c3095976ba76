/** A command was called with bad arguments; the CLI exits 2 with this one-line message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The sub-command whose usage was wrong (`dags trigger`), when the parser knows it. */
    readonly command?: string,
  ) {
    super(message);
  }

  /**
   * Recognised by its fixed name, not by identity: the CLI imports command modules lazily, and a
   * process that loads this file through both require() and import() (mocha under tsx) holds two
   * copies of the class, whose errors must still count as usage errors.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof Error && value.name === 'UsageError';
  }
}
