/** `tasks test` (one task, one date, nothing recorded) and `tasks clear` (re-queue instances and downstream). */
import { UsageError } from '../errors/UsageError.js';
import type { Dag } from '../interfaces.js';
import { openAttemptLog } from '../logging.js';
import { retryPolicyFor } from '../retryPolicy.js';
import { dbDate, runIdFor } from '../runIds.js';
import { runAttempt } from '../runner.js';
import { buildTaskContext } from '../taskContext.js';
import { intervalFor } from '../timetable.js';
import type { CommandContext } from './context.js';

/** Runs one task for the interval of `date`, logging to the terminal; 1 when it fails. */
export async function tasksTestCommand(ctx: CommandContext, dagId: string, taskId: string, date: Date): Promise<number> {
  const dag = ctx.dag(dagId);
  const task = dag.tasks.find((t) => t.id === taskId);
  if (!task) throw new UsageError(`DAG '${dagId}' has no task '${taskId}' (tasks: ${dag.tasks.map((t) => t.id).join(', ')})`);
  const interval = intervalFor(dag.schedule, date);
  const runId = runIdFor('manual', interval.start).replace(/^manual__/, 'test__');
  // No refs: nothing is written under the log directory and nothing to the metadata; only the terminal.
  const log = openAttemptLog(ctx.settings.logDir, [], { echo: process.stdout });
  log.info(`testing ${dagId}.${taskId}`, { logicalDate: interval.start.toISOString(), dataIntervalEnd: interval.end.toISOString() });
  const outcome = await runAttempt(
    task.id,
    task.run,
    (signal) =>
      buildTaskContext({ dagId, taskId, runId, tryNumber: 1, intervals: [interval], signal, log, settings: ctx.settings }),
    { timeoutS: task.timeoutS ?? dag.timeoutS },
  );
  if (outcome.ok) log.info('task succeeded', { durationS: outcome.durationS, ...(outcome.value === undefined ? {} : { returned: outcome.value }) });
  else log.logError(outcome.error);
  await log.close();
  return outcome.ok ? 0 : 1;
}

/** `task` and everything downstream of it, in the DAG's order. */
export function withDownstream(dag: Dag, taskId: string): string[] {
  const out = new Set([taskId]);
  for (const t of dag.tasks) if (t.upstream.some((u) => out.has(u))) out.add(t.id);
  return dag.tasks.filter((t) => out.has(t.id)).map((t) => t.id);
}

/** Resets the chosen instances (not running ones) to waiting with fresh retries; their runs to queued. */
export async function tasksClearCommand(
  ctx: CommandContext,
  dagId: string,
  o: { from?: Date; to?: Date; taskId?: string },
): Promise<number> {
  const dag = ctx.dag(dagId);
  if (o.taskId && !dag.tasks.some((t) => t.id === o.taskId)) {
    throw new UsageError(`DAG '${dagId}' has no task '${o.taskId}' (tasks: ${dag.tasks.map((t) => t.id).join(', ')})`);
  }
  const taskIds = o.taskId ? withDownstream(dag, o.taskId) : dag.tasks.map((t) => t.id);
  const st = ctx.db.statements;
  const { runs, instances, backfill } = await ctx.db.tx(async (sql) => {
    const runRows = await st.runsBetween(sql, dagId, o.from ? dbDate(o.from) : '', o.to ? dbDate(o.to) : '9999');
    const backfill = runRows.filter((r) => r.run_type === 'backfill').map((r) => r.logical_date.slice(0, 10));
    if (runRows.length === 0) return { runs: 0, instances: 0, backfill };
    const ids = runRows.map((r) => r.id);
    let instances = 0;
    for (const taskId of taskIds) {
      const task = dag.tasks.find((t) => t.id === taskId)!;
      instances += await st.clearTaskInstances(sql, ids, taskId, retryPolicyFor(task, dag, ctx.settings).retries, false);
    }
    await st.requeueRuns(sql, ids);
    return { runs: ids.length, instances, backfill };
  });
  ctx.log.info('task instances cleared', { dagId, tasks: taskIds, runs, instances });
  process.stdout.write(`cleared ${instances} task instance(s) of ${taskIds.join(', ')} in ${runs} run(s) of ${dagId}\n`);
  if (backfill.length > 0) {
    // The daemon executes only scheduled and manual runs: without this, cleared backfill runs look
    // forgotten.
    process.stdout.write(
      `${backfill.length} of them are backfill runs, which only a backfill executes: drivetrain backfill --dag ${dagId} --from ${backfill[0]} --to ${backfill[backfill.length - 1]}\n`,
    );
  }
  return 0;
}
