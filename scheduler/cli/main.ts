/**
 * The scheduler's commands: `start`, `backfill`, `logs`, `dags ...`, `tasks ...`, `runs ...`, `pools list`, `alerts test`. Only
 * their definitions live here, light enough for every command line to load; each action imports
 * what it runs when it runs, so `drivetrain logs` never opens the metadata and `drivetrain source`
 * loads none of this but the definitions.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors/UsageError.js';
import { checkDateRangeArgs, parseConfArg, parseDateArg } from './args.js';
import type { CommandContext } from './context.js';
import type { CliIo } from './interfaces.js';
import type { LogsOptions } from './logs.js';
import { createProgram, handle, parseCommandLine } from './program.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const date = (option: string) => (value: string): Date => parseDateArg(value, option);

/** Runs `fn` with an opened command context (settings, log, metadata, DAG bag), loaded on first use. */
async function inContext(fn: (ctx: CommandContext) => Promise<number>): Promise<number> {
  const { withContext } = await import('./context.js');
  return withContext(fn);
}

function addStartAndBackfill(program: Command): void {
  handle(program.command('start').description('run the scheduler daemon until SIGTERM/SIGINT'), async () => {
    const { startCommand } = await import('./startCommand.js');
    return startCommand();
  });
  const backfill = program
    .command('backfill')
    .description('create and run the DAG runs whose logical date is in [from, to], in date order; exit 0 only if every run succeeded')
    .requiredOption('--from <date>', 'first logical date (YYYY-MM-DD or ISO 8601, UTC)', date('--from'))
    .option('--to <date>', 'last logical date (default: the last completed interval)', date('--to'))
    .option('--dag <id>', 'a DAG to backfill (repeatable; default: every DAG with catchup on)', collect, [])
    .option('--reset', 're-run runs that already succeeded', false);
  handle(backfill, async (o: { from: Date; to?: Date; dag: string[]; reset: boolean }) => {
    const { backfillCommand } = await import('./backfillCommand.js');
    return backfillCommand({ from: o.from, to: o.to, dagIds: o.dag, reset: o.reset });
  });
}

function parseLines(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--lines: '${value}' is not a whole number >= 0`);
  return Number(value);
}

function addLogs(program: Command, io: CliIo): void {
  const logs = program
    .command('logs')
    .description('print task attempt logs and the scheduler log; --follow keeps printing new lines')
    .option('-f, --follow', 'keep printing lines appended to the logs and to attempt logs created later, until Ctrl-C')
    .option('--dag <id>', 'only attempt logs of this DAG')
    .option('--task <id>', 'only attempt logs of this task')
    .option('--run <id>', 'only attempt logs of runs whose id contains this (e.g. a date)')
    .option('--scheduler', 'only the scheduler log')
    .option('-n, --lines <n>', 'print only the last N lines of each file (with --follow: of each existing file; default 10)', parseLines);
  handle(logs, async (o: LogsOptions) => {
    if (o.scheduler && (o.dag !== undefined || o.task !== undefined || o.run !== undefined)) {
      throw new UsageError('logs: --scheduler shows only the scheduler log; drop --dag/--task/--run');
    }
    const { logsCommand } = await import('./logs.js');
    return logsCommand(o, io);
  });
}

function addDags(program: Command): void {
  const dags = program.command('dags').description('list, trigger, pause and unpause DAGs');
  handle(dags.command('list').description('DAGs with schedule, paused, catchup, next run; then the files that failed to import'), async () => {
    const { dagsListCommand } = await import('./dagsCommands.js');
    return inContext(dagsListCommand);
  });
  const trigger = dags
    .command('trigger')
    .description('create a manual run')
    .argument('<id>', 'the DAG')
    .option('--date <date>', 'logical date (default: now)', date('--date'))
    .option('--conf <json>', 'run configuration (a JSON object), given to tasks as ctx.params', parseConfArg);
  handle(trigger, async (id: string, o: { date?: Date; conf?: Record<string, unknown> }) => {
    const { triggerCommand } = await import('./dagsCommands.js');
    return inContext((ctx) => triggerCommand(ctx, id, o.date, o.conf));
  });
  for (const [name, paused, description] of [
    ['pause', true, 'stop creating and running its runs'],
    ['unpause', false, 'resume it (catchup off: only the latest interval is created)'],
  ] as const) {
    handle(dags.command(name).description(description).argument('<id>', 'the DAG'), async (id: string) => {
      const { pauseCommand } = await import('./dagsCommands.js');
      return inContext((ctx) => pauseCommand(ctx, id, paused));
    });
  }
}

function addTasksAndRuns(program: Command): void {
  const tasks = program.command('tasks').description('test or clear task instances');
  const test = tasks
    .command('test')
    .description('run one task for one logical date; no state recorded, log to the terminal')
    .argument('<dag>', 'the DAG')
    .argument('<task>', 'the task')
    .argument('<date>', 'logical date (YYYY-MM-DD or ISO 8601, UTC)', date('DATE'));
  handle(test, async (dagId: string, taskId: string, d: Date) => {
    const { tasksTestCommand } = await import('./tasksCommands.js');
    return inContext((ctx) => tasksTestCommand(ctx, dagId, taskId, d));
  });
  const clear = tasks
    .command('clear')
    .description('re-queue task instances and their downstream; their runs go back to queued')
    .argument('<dag>', 'the DAG')
    .option('--from <date>', 'first logical date', date('--from'))
    .option('--to <date>', 'last logical date', date('--to'))
    .option('--task <id>', 'only this task (and its downstream)')
    .option('--group <name>', 'only the tasks of this task group (and their downstream)');
  handle(clear, async (dagId: string, o: { from?: Date; to?: Date; task?: string; group?: string }) => {
    checkDateRangeArgs(o.from, o.to);
    const { tasksClearCommand } = await import('./tasksCommands.js');
    return inContext((ctx) => tasksClearCommand(ctx, dagId, { from: o.from, to: o.to, taskId: o.task, group: o.group }));
  });

  const runs = program.command('runs').description('DAG runs');
  handle(runs.command('list').description('runs, oldest first, with type and state').argument('[dag]', 'only runs of this DAG'), async (dagId: string | undefined) => {
    const { runsListCommand } = await import('./runsCommands.js');
    return inContext((ctx) => runsListCommand(ctx, dagId));
  });

  const pools = program.command('pools').description('task pools (DRIVETRAIN_POOLS)');
  handle(pools.command('list').description('pools with slots, slots in use, running and queued instances, open slots'), async () => {
    const { poolsListCommand } = await import('./poolsCommands.js');
    return inContext((ctx) => poolsListCommand(ctx));
  });
}

function addAlerts(program: Command, io: CliIo): void {
  const alerts = program.command('alerts').description('webhook alerts');
  handle(alerts.command('test').description('POST one sample alert to DRIVETRAIN_ALERT_WEBHOOK_URL'), async () => {
    const { alertsTestCommand } = await import('../alerts/alertsCommand.js');
    return alertsTestCommand(io);
  });
}

/** Adds the scheduler's commands to `program`; `io` reaches the commands that take it (`logs`, `alerts`). */
export function addSchedulerCommands(program: Command, io: CliIo = {}): Command {
  addStartAndBackfill(program);
  addLogs(program, io);
  addDags(program);
  addTasksAndRuns(program);
  addAlerts(program, io);
  return program;
}

/**
 * Runs a scheduler command line in-process (`['logs', '--dag', 'x']`), through the same definitions
 * and parser as the bin; usage errors reject with a UsageError. For tests and embedding.
 */
export function main(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const program = addSchedulerCommands(createProgram('drivetrain', 'the Drivetrain scheduler'), io);
  return parseCommandLine(program, argv, io);
}
