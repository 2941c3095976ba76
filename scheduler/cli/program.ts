/**
 * The one way into the command line: a commander program, the parsing of a command line with it, and
 * the mapping of what went wrong to the contract's exit codes (2 bad usage or configuration, in one
 * line; 1 anything else; a stack only with --verbose). Every command, wherever it is defined, is parsed
 * and reported here, so help, usage errors and exit codes look the same for all of them.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../errors/ConfigError.js';
import { UsageError } from '../errors/UsageError.js';
import type { CliIo } from './interfaces.js';

/** The exit code each program's action resolved to; read once the parse is done. */
const exitCodes = new WeakMap<Command, number>();

/** Commander's codes for "help was printed"; its exitCode says whether on purpose (0) or for a bad call (1). */
const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** A new root program with the global `--verbose` option. Add the commands, then parse with {@link runCommandLine}. */
export function createProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('--verbose', 'print the stack trace of an error, not just its message')
    .configureHelp({ showGlobalOptions: true });
}

/** Makes `handler` the action of `cmd`; the number it resolves to becomes the command line's exit code. */
export function handle<A extends unknown[]>(cmd: Command, handler: (...args: A) => Promise<number>): Command {
  return cmd.action(async (...args: unknown[]) => {
    exitCodes.set(rootOf(cmd), await handler(...(args as A)));
  });
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/** `dags trigger` for that sub-command; '' for the root. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Commander's error as one line, prefixed with the sub-command it is about. */
function usageError(err: CommanderError, cmd: Command): UsageError {
  const where = commandPath(cmd);
  // Commander puts its "(Did you mean ...?)" on a second line; the contract promises one.
  let text = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
  // The prefix names the command already, so commander's own "for 'logs'" would say it twice.
  if (where) text = `${where}: ${text.replace(` for '${cmd.name()}'`, '')}`;
  if (err.code === 'commander.unknownCommand') text += ` (see '${[rootOf(cmd).name(), where].filter(Boolean).join(' ')} --help')`;
  return new UsageError(text, where || undefined);
}

/**
 * Applies the shared behaviour to `program` and every sub-command under it (commands added with
 * addCommand() do not inherit settings, so this walks the finished tree): help to io's streams, no
 * process.exit, commander's usage errors turned into UsageErrors naming the command.
 */
function configureTree(cmd: Command, io: CliIo): void {
  cmd
    .exitOverride((err) => {
      throw HELP_CODES.has(err.code) ? err : usageError(err, cmd);
    })
    .configureOutput({
      writeOut: (s) => void (io.stdout ?? process.stdout).write(s),
      writeErr: (s) => void (io.stderr ?? process.stderr).write(s),
      // Usage errors are reported once, by runCommandLine, in one line.
      outputError: () => undefined,
    })
    .showHelpAfterError(false)
    .allowExcessArguments(false);
  for (const sub of cmd.commands) configureTree(sub, io);
}

/**
 * Parses `argv` (the words after the program name) and runs the chosen command. Resolves to its exit
 * code, 0 after `--help`, 2 after help printed for a call that chose no command; usage errors reject
 * with a one-line UsageError. For in-process callers; the bin uses {@link runCommandLine}.
 */
export async function parseCommandLine(program: Command, argv: readonly string[], io: CliIo = {}): Promise<number> {
  configureTree(program, io);
  exitCodes.delete(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    // Help went to stdout on request (exit 0) or to stderr because no command was chosen (exit 2).
    if (err instanceof CommanderError && HELP_CODES.has(err.code)) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return exitCodes.get(program) ?? 0;
}

/** The exit code of a failure: 2 for bad usage or configuration, 1 for anything else. */
export function exitCodeOf(err: unknown): 1 | 2 {
  // By the errors' fixed names as well: a lazily imported module may hold its own copy of the class
  // when a process mixes require() and import() of the same file (see UsageError).
  const bad =
    err instanceof UsageError ||
    err instanceof ConfigError ||
    (err instanceof Error && (err.name === 'ConfigError' || err.name === 'InvalidParamsError'));
  return bad ? 2 : 1;
}

/**
 * {@link parseCommandLine}, with every failure reported on stderr as `<program>: <message>` (the stack
 * instead with --verbose) and mapped to its exit code. Never rejects.
 */
export async function runCommandLine(program: Command, argv: readonly string[], io: CliIo = {}): Promise<number> {
  try {
    return await parseCommandLine(program, argv, io);
  } catch (err) {
    // Read from argv too: a usage error can stop the parse before commander has set the option.
    const verbose = program.opts<{ verbose?: boolean }>().verbose === true || argv.slice(0, endOfOptions(argv)).includes('--verbose');
    const message = err instanceof Error ? (verbose ? (err.stack ?? err.message) : err.message) : String(err);
    (io.stderr ?? process.stderr).write(`${program.name()}: ${message}\n`);
    return exitCodeOf(err);
  }
}

function endOfOptions(argv: readonly string[]): number {
  const i = argv.indexOf('--');
  return i === -1 ? argv.length : i;
}
