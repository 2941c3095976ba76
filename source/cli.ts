/**
 * `drivetrain source`: runs the sample source service until SIGINT/SIGTERM.
 *   drivetrain source [--db FILE | --generate --cars N --customers N --subscriptions N --seed S]
 *                     [--port 8000] [--host 127.0.0.1] [fault flags]
 */
import { Option, type Command } from 'commander';
import { handle } from '../scheduler/cli/program.js';
import { UsageError } from '../scheduler/errors/UsageError.js';
import type { RowSource } from './rowSource.js';

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} '${raw}' is not an integer in ${min}..${max}`);
    return n;
  };
}
function shareArg(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${name} '${raw}' is not a share in 0..1`);
    return n;
  };
}

/** The options of `drivetrain source`, as parsed. */
export interface SourceFlags {
  db?: string;
  generate?: boolean;
  cars: number;
  customers: number;
  subscriptions: number;
  seed: number;
  port: number;
  host: string;
  failRate: number;
  failStatus: number;
  failFirst: number;
  retryAfter?: number;
  latencyMs: number;
  hang?: boolean;
  hangRate: number;
  malformedRate: number;
}

/**
 * Adds `source` to `program`. Only the definition: the action loads the server when it runs, so the
 * definition costs every other command line nothing.
 */
export function addSourceCommand(program: Command): Command {
  const source = program
    .command('source')
    .description('the sample source service: the original unpaged routes and /v1 paged routes over a SQLite file or a generated dataset')
    .addOption(new Option('--db <file>', 'serve a SQLite file with the original source schema').conflicts('generate'))
    .option('--generate', 'serve a seeded generated dataset')
    .option('--cars <n>', 'generated cars', intArg('--cars', 0), 1200)
    .option('--customers <n>', 'generated customers', intArg('--customers', 0), 550)
    .option('--subscriptions <n>', 'generated subscriptions', intArg('--subscriptions', 0), 1200)
    .option('--seed <s>', 'generator seed', intArg('--seed', 0, 2 ** 32 - 1), 42)
    .option('--port <port>', 'listen port (0 = any free)', intArg('--port', 0, 65535), 8000)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--fail-rate <share>', 'share of data requests failing with --fail-status', shareArg('--fail-rate'), 0)
    .option('--fail-status <code>', 'status of injected failures', intArg('--fail-status', 400, 599), 503)
    .option('--fail-first <n>', 'the first N data requests fail', intArg('--fail-first', 0), 0)
    .option('--retry-after <s>', 'Retry-After seconds sent with injected failures', intArg('--retry-after', 0))
    .option('--latency-ms <ms>', 'delay before each data response', intArg('--latency-ms', 0), 0)
    .option('--hang', 'never answer data requests')
    .option('--hang-rate <share>', 'share of data requests never answered', shareArg('--hang-rate'), 0)
    .option('--malformed-rate <share>', 'share of rows served malformed', shareArg('--malformed-rate'), 0);
  return handle(source, serveSource);
}

/** Serves until SIGINT/SIGTERM; resolves with the exit code. */
export async function serveSource(flags: SourceFlags): Promise<number> {
  if (!flags.db && !flags.generate) throw new UsageError('give --db FILE or --generate');
  if (flags.generate && flags.subscriptions > 0 && (flags.cars === 0 || flags.customers === 0)) {
    throw new UsageError('--subscriptions needs at least one car and one customer');
  }

  const { GeneratedRowSource, SqliteRowSource } = await import('./rowSource.js');
  const { startSourceServer } = await import('./server.js');
  let source: RowSource;
  if (flags.db) {
    try {
      source = await SqliteRowSource.open(flags.db);
    } catch (err) {
      throw new UsageError(`--db '${flags.db}': ${(err as Error).message}`);
    }
  } else {
    source = new GeneratedRowSource({ cars: flags.cars, customers: flags.customers, subscriptions: flags.subscriptions }, flags.seed);
  }
  const server = await startSourceServer({
    source,
    host: flags.host,
    port: flags.port,
    faults: {
      failRate: flags.failRate,
      failStatus: flags.failStatus,
      failFirst: flags.failFirst,
      retryAfterS: flags.retryAfter,
      latencyMs: flags.latencyMs,
      hang: Boolean(flags.hang),
      hangRate: flags.hangRate,
      malformedRate: flags.malformedRate,
    },
  });
  const what = flags.db ? `file ${flags.db}` : `generated dataset (seed ${flags.seed}: ${flags.cars} cars, ${flags.customers} customers, ${flags.subscriptions} subscriptions)`;
  // Listening for the stop signals before announcing the URL: a caller may send SIGTERM as soon as it
  // reads the line, and an unhandled SIGTERM would kill the process instead of closing the server.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`${JSON.stringify({ level: 'info', message: `source service listening on ${server.url}, serving ${what}`, url: server.url })}\n`);
  await stopped;
  await server.close();
  return 0;
}
