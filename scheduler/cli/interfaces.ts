/** Public types of the command line. */

/** Where a command reads and writes; every field defaults to the process's own. Tests pass their own. */
export interface CliIo {
  /** Where results and `--help` go. Default process.stdout. */
  readonly stdout?: NodeJS.WritableStream;
  /** Where notes, usage errors and the help of a bad call go. Default process.stderr. */
  readonly stderr?: NodeJS.WritableStream;
  /** Environment for loading the settings. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Stops a long-running command (`logs --follow`) like SIGTERM does. */
  readonly signal?: AbortSignal;
}
