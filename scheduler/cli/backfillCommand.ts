/**
 * `drivetrain backfill`: runs the backfill with a progress bar on stderr (runs done, failed, left,
 * ETA; a redrawn bar on a terminal, a line every few seconds otherwise) and a summary on stdout: a
 * table of every DAG that ran (waited-for ones included) with its runs per state, then each failed
 * run with its task and last error line, and the DAGs not run because one they wait for failed.
 * SIGINT/SIGTERM stop it cleanly: running attempts get the grace period and are recorded up_for_retry,
 * so the next backfill continues where this one stopped.
 */
import cliProgress from 'cli-progress';
import { runBackfill, type BackfillResult } from '../backfill.js';
import type { Executor } from '../executor.js';
import { renderTable } from './table.js';
import { withContext } from './context.js';

/** Parsed options of the command. */
export interface BackfillCommandOptions {
  readonly from: Date;
  readonly to?: Date;
  readonly dagIds: readonly string[];
  readonly reset: boolean;
}

/** Most failed task instances the summary names one by one. */
const MAX_FAILURES_SHOWN = 10;

/** The summary's lines after the table when something failed or was not run. */
export function failureLines(result: Pick<BackfillResult, 'failures' | 'notRun'>): string[] {
  const lines = result.failures
    .slice(0, MAX_FAILURES_SHOWN)
    .map((f) => `backfill: failed: ${f.dagId} run ${f.runId}, task ${f.taskId}: ${f.error}`);
  if (result.failures.length > MAX_FAILURES_SHOWN) lines.push(`backfill: ... and ${result.failures.length - MAX_FAILURES_SHOWN} more failed task instances ('drivetrain runs list')`);
  for (const n of result.notRun) lines.push(`backfill: not run: ${n.dagId}, which waits for ${n.waitsFor.join(', ')}: that run failed`);
  return lines;
}

/** Returns 0 only if every run in the range succeeded. */
export async function backfillCommand(o: BackfillCommandOptions): Promise<number> {
  return withContext(async (ctx) => {
    const executors = new Set<Executor>();
    let interrupted = false;
    const onSignal = (signal: string): void => {
      interrupted = true;
      ctx.log.warn('backfill interrupted: stopping after the grace period', { signal });
      process.stderr.write(`\nbackfill: ${signal}: stopping (the next backfill continues from here)\n`);
      for (const e of executors) void e.stop();
    };
    const onInt = (): void => onSignal('SIGINT');
    const onTerm = (): void => onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const tty = Boolean(process.stderr.isTTY);
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: tty
          ? 'backfill [{bar}] {percentage}% | done {done} | failed {failed} | left {left} | ETA {eta_formatted}'
          : 'backfill: {value}/{total} runs | done {done} | failed {failed} | left {left} | ETA {eta_formatted}',
        noTTYOutput: true,
        notTTYSchedule: 2000,
        etaBuffer: 50,
        hideCursor: tty,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    try {
      const result = await runBackfill({
        db: ctx.db,
        settings: ctx.settings,
        clock: ctx.clock,
        log: ctx.log,
        dags: ctx.bag.dags,
        dagIds: o.dagIds.length > 0 ? o.dagIds : undefined,
        from: o.from,
        to: o.to,
        reset: o.reset,
        onExecutor: (e) => {
          executors.add(e);
          if (interrupted) void e.stop();
        },
        onProgress: (p) => {
          const payload = { done: p.done, failed: p.failed, left: p.left };
          if (!started) {
            // Nothing left (everything already succeeded): no bar, just the summary.
            if (p.left === 0) return;
            bar.start(p.total, p.done + p.failed, payload);
            started = true;
          } else {
            bar.setTotal(p.total);
            bar.update(p.done + p.failed, payload);
          }
        },
      });
      if (started) bar.stop();
      process.stdout.write(
        renderTable(
          ['dag', 'from', 'to', 'runs', 'skipped', 'succeeded', 'failed', 'left'],
          result.rows.map((r) => ({ ...r, dag: r.waitedFor ? `${r.dagId} (waited for)` : r.dagId })),
        ),
      );
      const ok = result.ok && !interrupted;
      for (const line of failureLines(result)) process.stdout.write(`${line}\n`);
      process.stdout.write(
        ok
          ? `backfill: every run succeeded (${result.taskInstances} task instances run)\n`
          : interrupted
            ? 'backfill: interrupted; run the same command again to continue\n'
            : "backfill: some runs failed (their attempt logs: 'drivetrain logs --dag DAG --run RUN'); run it again to retry them\n",
      );
      return ok ? 0 : 1;
    } finally {
      if (started) bar.stop();
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  });
}
