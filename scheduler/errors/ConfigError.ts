/** A setting or configuration file is malformed; the CLI exits 2 with this one-line message. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** The variable or settings key at fault. */
    readonly setting: string,
  ) {
    super(message);
  }
}
