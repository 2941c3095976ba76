/**
 * The `drivetrain` command. It only dispatches: each sub-command lives with the part of the system
 * it belongs to, and returns its exit code. Errors are mapped to the contract's exit codes here, once:
 * 2 for bad usage or configuration (one line), 1 for anything else; stacks only with --verbose.
 */
import { ConfigError } from '../scheduler/errors/ConfigError.js';
import { UsageError } from '../scheduler/errors/UsageError.js';

type Main = (argv: string[]) => Promise<number>;

/** Sub-command -> module exporting `main(argv)`. Loaded lazily so `source` never loads the scheduler. */
const COMMANDS: Readonly<Record<string, () => Promise<{ main: Main }>>> = {
  start: () => import('../scheduler/cli/main.js'),
  backfill: () => import('../scheduler/cli/main.js'),
  logs: () => import('../scheduler/cli/logs.js'),
  dags: () => import('../scheduler/cli/main.js'),
  tasks: () => import('../scheduler/cli/main.js'),
  runs: () => import('../scheduler/cli/main.js'),
  source: () => import('../source/cli.js'),
  demo: () => import('../demo/demo.js'),
};

const USAGE = `usage: drivetrain <command> [options]

commands:
  start                      run the scheduler daemon
  backfill --from D [--to D] [--dag ID]... [--reset]
  logs [--follow] [--dag ID] [--task ID] [--run ID]
  dags list | trigger ID [--date D] | pause ID | unpause ID
  tasks test DAG TASK DATE | clear DAG [--from D --to D]
  runs list [DAG]
  source [--db FILE | --generate ...] [--port 8000]
  demo                       generate, serve and run the pipeline once, then summarise the marts

add --verbose to any command for stack traces`;

async function run(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // No command is bad usage: the usage goes to stderr with exit 2, so stdout stays clean for pipes.
  if (command === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const load = COMMANDS[command];
  if (!load) throw new UsageError(`unknown command '${command}' (see 'drivetrain --help')`);
  const { main } = await load();
  return main(argv);
}

const argv = process.argv.slice(2);
const verbose = argv.includes('--verbose');
try {
  process.exitCode = await run(argv.filter((a) => a !== '--verbose'));
} catch (err) {
  const bad = err instanceof UsageError || err instanceof ConfigError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`drivetrain: ${verbose && err instanceof Error ? err.stack : message}\n`);
  process.exitCode = bad ? 2 : 1;
}
