/**
 * The `drivetrain` command. It only assembles: each command is defined with the part of the system it
 * belongs to (the scheduler's in scheduler/cli/main.ts, `source` in source/cli.ts, `demo` in
 * demo/cli.ts, `customers` in operators/privacy/cli.ts), as a commander command whose action loads what it runs when it runs, so `source` never
 * loads the scheduler. Help, usage errors and exit codes come from scheduler/cli/program.ts, once for all.
 */
import { addDemoCommand } from '../demo/cli.js';
import { addCustomersCommand } from '../operators/privacy/cli.js';
import { addSchedulerCommands } from '../scheduler/cli/main.js';
import { createProgram, runCommandLine } from '../scheduler/cli/program.js';
import { restrictProcessUmask } from '../scheduler/privateFiles.js';
import { addSourceCommand } from '../source/cli.js';

// Before any command opens a file: what it creates under the home and the log directory is owner-only.
restrictProcessUmask();

const program = createProgram('drivetrain', 'a data-pipeline scheduler for Node.js, with the ELT pipeline of a car-subscription company');
addSchedulerCommands(program);
addSourceCommand(program);
addDemoCommand(program);
addCustomersCommand(program);
process.exitCode = await runCommandLine(program, process.argv.slice(2));
