/**
 * `drivetrain start | backfill | dags ... | tasks ... | runs ...`: the scheduler's commands (commander).
 * Returns the exit code: 0 ok, 1 a run or task failed; UsageError/ConfigError propagate (exit 2).
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors/UsageError.js';
import { parseConfArg, parseDateArg } from './args.js';
import { withContext } from './context.js';
import { backfillCommand } from './backfillCommand.js';
import { startCommand } from './startCommand.js';
import { dagsListCommand, pauseCommand, triggerCommand } from './dagsCommands.js';
import { tasksClearCommand, tasksTestCommand } from './tasksCommands.js';
import { runsListCommand } from './runsCommands.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Entry point; `argv` starts with the command word. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('drivetrain')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined })
    .showHelpAfterError(false)
    .allowExcessArguments(false);

  program
    .command('start')
    .description('run the scheduler daemon')
    .action(async () => {
      code = await startCommand();
    });

  program
    .command('backfill')
    .description('create and run the DAG runs whose logical date is in [from, to], in date order')
    .requiredOption('--from <date>', 'first logical date (YYYY-MM-DD)')
    .option('--to <date>', 'last logical date (default: the last completed interval)')
    .option('--dag <id>', 'a DAG to backfill (repeatable; default: every DAG with catchup on)', collect, [])
    .option('--reset', 're-run runs that already succeeded', false)
    .action(async (o: { from: string; to?: string; dag: string[]; reset: boolean }) => {
      code = await backfillCommand({
        from: parseDateArg(o.from, '--from'),
        to: o.to === undefined ? undefined : parseDateArg(o.to, '--to'),
        dagIds: o.dag,
        reset: o.reset,
      });
    });

  const dags = program.command('dags').description('list, trigger, pause and unpause DAGs');
  dags
    .command('list')
    .description('DAGs with schedule, paused, catchup, next run; import errors')
    .action(async () => {
      code = await withContext(dagsListCommand);
    });
  dags
    .command('trigger <id>')
    .description('create a manual run')
    .option('--date <date>', 'logical date (default: now)')
    .option('--conf <json>', 'run configuration (a JSON object), given to tasks as ctx.params')
    .action(async (id: string, o: { date?: string; conf?: string }) => {
      const date = o.date === undefined ? undefined : parseDateArg(o.date, '--date');
      const conf = o.conf === undefined ? undefined : parseConfArg(o.conf);
      code = await withContext((ctx) => triggerCommand(ctx, id, date, conf));
    });
  dags
    .command('pause <id>')
    .description('stop creating and running its runs')
    .action(async (id: string) => {
      code = await withContext((ctx) => pauseCommand(ctx, id, true));
    });
  dags
    .command('unpause <id>')
    .description('resume it (catchup off: only the latest interval is created)')
    .action(async (id: string) => {
      code = await withContext((ctx) => pauseCommand(ctx, id, false));
    });

  const tasks = program.command('tasks').description('test or clear task instances');
  tasks
    .command('test <dag> <task> <date>')
    .description('run one task for one logical date; no state recorded, log to the terminal')
    .action(async (dagId: string, taskId: string, date: string) => {
      const d = parseDateArg(date, 'DATE');
      code = await withContext((ctx) => tasksTestCommand(ctx, dagId, taskId, d));
    });
  tasks
    .command('clear <dag>')
    .description('re-queue task instances and their downstream; their runs go back to queued')
    .option('--from <date>', 'first logical date')
    .option('--to <date>', 'last logical date')
    .option('--task <id>', 'only this task (and its downstream)')
    .action(async (dagId: string, o: { from?: string; to?: string; task?: string }) => {
      const from = o.from === undefined ? undefined : parseDateArg(o.from, '--from');
      const to = o.to === undefined ? undefined : parseDateArg(o.to, '--to');
      code = await withContext((ctx) => tasksClearCommand(ctx, dagId, { from, to, taskId: o.task }));
    });

  const runs = program.command('runs').description('DAG runs');
  runs
    .command('list [dag]')
    .description('runs, oldest first, with type and state')
    .action(async (dagId: string | undefined) => {
      code = await withContext((ctx) => runsListCommand(ctx, dagId));
    });

  for (const c of [program, dags, tasks, runs, ...program.commands, ...dags.commands, ...tasks.commands, ...runs.commands]) {
    c.exitOverride().configureOutput({ writeErr: () => undefined });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help') throw new UsageError(`'${argv.join(' ')}' needs a sub-command (see 'drivetrain ${argv[0]} --help')`);
      throw new UsageError(err.message.replace(/^error: /, ''));
    }
    throw err;
  }
  return code;
}
