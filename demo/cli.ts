/**
 * `drivetrain demo`: the definition of the command and its options. The action loads the demo (the
 * sample source, the summary's SQLite reader) only when it runs, so defining it costs other commands
 * nothing.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { handle } from '../scheduler/cli/program.js';
import { UsageError } from '../scheduler/errors/UsageError.js';
import type { DemoOptions } from './demo.js';

function intArg(name: string, min: number) {
  return (raw: string): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < min) throw new UsageError(`${name} '${raw}' is not an integer >= ${min}`);
    return v;
  };
}

function dateArg(name: string) {
  return (raw: string): string => {
    const d = new Date(`${raw}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== raw) {
      throw new UsageError(`${name} '${raw}' is not a date YYYY-MM-DD`);
    }
    return raw;
  };
}

/** Adds `demo` to `program`. */
export function addDemoCommand(program: Command): Command {
  const demo = program
    .command('demo')
    .description('generate a sample dataset, serve it, run the pipeline over it and summarise the marts')
    .option('--home <dir>', 'where the demo keeps data/ and logs/ (wiped first if an earlier demo made it)', path.join(os.tmpdir(), 'drivetrain-demo'))
    .option('--from <date>', 'first logical date to backfill', dateArg('--from'), '2023-11-01')
    .option('--to <date>', 'last logical date to backfill', dateArg('--to'), '2023-12-31')
    .option('--cars <n>', 'generated cars', intArg('--cars', 1), 1200)
    .option('--customers <n>', 'generated customers', intArg('--customers', 1), 600)
    .option('--subscriptions <n>', 'generated subscriptions', intArg('--subscriptions', 0), 1500)
    .option('--seed <s>', 'generator seed', intArg('--seed', 0), 42);
  return handle(demo, async (opts: DemoOptions) => {
    if (opts.from > opts.to) throw new UsageError(`--from '${opts.from}' is after --to '${opts.to}'`);
    const { runDemo } = await import('./demo.js');
    return runDemo({ ...opts, home: path.resolve(opts.home) });
  });
}
