/** `tasks test` (one task, one date, nothing recorded) and `tasks clear` (re-queue instances and downstream). */
import { UsageError } from '../errors/UsageError.js';
import type { Dag, TaskFn } from '../interfaces.js';
import { expansionOf, type Expansion } from '../mapping.js';
import { openAttemptLog } from '../logging.js';
import { retryPolicyFor } from '../retryPolicy.js';
import { dbDate, runIdFor } from '../runIds.js';
import { resolveParams } from '../params.js';
import { loadUpstreamResults, upstreamAccessor } from '../taskResults.js';
import { clearTasks, type ClearableDag } from '../clearTasks.js';
import type { Settings } from '../settings.js';
import { runAttempt } from '../runner.js';
import { buildTaskContext } from '../taskContext.js';
import { intervalFor } from '../timetable.js';
import type { CommandContext } from './context.js';

/** Runs one task for the interval of `date`, logging to the terminal (a mapped task: each value); 1 when it fails. */
export async function tasksTestCommand(ctx: CommandContext, dagId: string, taskId: string, date: Date): Promise<number> {
  const dag = ctx.dag(dagId);
  const task = dag.tasks.find((t) => t.id === taskId);
  if (!task) throw new UsageError(`DAG '${dagId}' has no task '${taskId}' (tasks: ${dag.tasks.map((t) => t.id).join(', ')})`);
  const interval = intervalFor(dag.schedule, date);
  const runId = runIdFor('manual', interval.start).replace(/^manual__/, 'test__');
  // No refs: nothing is written under the log directory and nothing to the metadata; only the terminal.
  const log = openAttemptLog(ctx.settings.logDir, [], { echo: process.stdout });
  log.info(`testing ${dagId}.${taskId}`, { logicalDate: interval.start.toISOString(), dataIntervalEnd: interval.end.toISOString() });
  // As in a run: the params' defaults, and the upstream results the run of that date stored, if any.
  const params = resolveParams(dag.id, dag.params, {});
  const [run] = await ctx.db.read((sql) => ctx.db.statements.runsBetween(sql, dag.id, dbDate(interval.start), dbDate(interval.start)));
  const results = run ? await loadUpstreamResults(ctx.db, dag, run.id, task.upstream) : new Map<string, unknown>();
  const upstream = upstreamAccessor(task.id, task.upstream, results);
  const attempt = (fn: TaskFn, map?: { index: number; value: unknown; label: string }) =>
    runAttempt(
      task.id,
      fn,
      (signal) =>
        buildTaskContext({ dagId, taskId, runId, tryNumber: 1, intervals: [interval], signal, log, settings: ctx.settings, params, upstream, map }),
      { timeoutS: task.timeoutS ?? dag.timeoutS },
    );
  let failed = false;
  // A mapped task: its expansion, then one call per value, as a run makes them (mapping.ts).
  const calls: { map?: { index: number; value: unknown; label: string } }[] = [{}];
  if (task.expand !== undefined) {
    const expanded = await attempt(async (c) => expansionOf(task, await task.expand!(c)));
    if (!expanded.ok) {
      log.logError(expanded.error);
      await log.close();
      return 1;
    }
    const { values, labels } = expanded.value as Expansion;
    log.info(`expanded into ${values.length} mapped instance(s)`, { labels });
    calls.splice(0, 1, ...values.map((value, index) => ({ map: { index, value, label: labels[index] } })));
  }
  for (const call of calls) {
    const outcome = await attempt(task.run, call.map);
    const which = call.map === undefined ? {} : { mapIndex: call.map.index, mapLabel: call.map.label };
    if (outcome.ok) log.info('task succeeded', { ...which, durationS: outcome.durationS, ...(outcome.value === undefined ? {} : { returned: outcome.value }) });
    else {
      failed = true;
      log.logError(outcome.error);
    }
  }
  await log.close();
  return failed ? 1 : 0;
}

/** The tasks of group `group` of `dag`; UsageError naming the groups there are when it has none. */
export function groupTaskIds(dag: Dag, group: string): string[] {
  const ids = dag.tasks.filter((t) => t.group === group).map((t) => t.id);
  if (ids.length === 0) {
    const groups = [...new Set(dag.tasks.flatMap((t) => (t.group === undefined ? [] : [t.group])))];
    throw new UsageError(`DAG '${dag.id}' has no task group '${group}' (groups: ${groups.length > 0 ? groups.join(', ') : 'none'})`);
  }
  return ids;
}

/** The clear's view of a loaded DAG: retries resolved as the executor resolves them. */
export function clearableDag(dag: Dag, settings: Settings): ClearableDag {
  return { id: dag.id, tasks: dag.tasks.map((t) => ({ id: t.id, upstream: t.upstream, retries: retryPolicyFor(t, dag, settings).retries })) };
}

/** Resets the chosen instances (not running ones) to waiting with fresh retries; their runs to queued. */
export async function tasksClearCommand(
  ctx: CommandContext,
  dagId: string,
  o: { from?: Date; to?: Date; taskId?: string; group?: string },
): Promise<number> {
  const dag = ctx.dag(dagId);
  if (o.taskId && !dag.tasks.some((t) => t.id === o.taskId)) {
    throw new UsageError(`DAG '${dagId}' has no task '${o.taskId}' (tasks: ${dag.tasks.map((t) => t.id).join(', ')})`);
  }
  const chosen = [...(o.taskId ? [o.taskId] : []), ...(o.group === undefined ? [] : groupTaskIds(dag, o.group))];
  const result = await clearTasks(ctx.db, clearableDag(dag, ctx.settings), {
    from: o.from,
    to: o.to,
    taskIds: o.taskId || o.group !== undefined ? chosen : undefined,
    includeDownstream: true,
  });
  const { taskIds, runs, backfillDays: backfill } = result;
  const instances = result.cleared.length;
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
