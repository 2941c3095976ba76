/**
 * Batching in a scheduler turn: a `batch: true` task in a backfill takes the consecutive backfill
 * runs after the claimed one whose instance of it is due too, in one call.
 */
import type { Dag, Task } from './interfaces.js';
import type { Sql } from './metadata/interfaces.js';
import type { RunRow, TiRow } from './metadata/statements.js';
import { createInstances, type TurnContext } from './schedulerTurn.js';
import { countedStates, instancesByRun, isMappedTask } from './mapping.js';
import { evaluateTriggerRule, isDue } from './triggerRules.js';

/** The runs after `first` that continue its interval without a gap, up to the batch cap. */
async function followingRuns(sql: Sql, ctx: TurnContext, dag: Dag, first: RunRow): Promise<RunRow[]> {
  const next = await ctx.statements.laterBackfillRuns(sql, dag.id, first.logical_date, ctx.scope, ctx.batchCap - 1);
  const out: RunRow[] = [];
  let prevEnd = first.data_interval_end;
  for (const run of next) {
    if (run.data_interval_start !== prevEnd) break;
    out.push(run);
    prevEnd = run.data_interval_end;
  }
  return out;
}

/**
 * The consecutive backfill runs after `first` whose instance of `task` is due too (or waiting with
 * its upstream done), up to the batch cap: they join the call. Their queued runs are started, so
 * the window keeps date order for every other task.
 */
export async function extendBatch(
  sql: Sql,
  ctx: TurnContext,
  dag: Dag,
  task: Task,
  first: RunRow,
  taken: ReadonlySet<number>,
): Promise<{ ti: TiRow; run: RunRow }[]> {
  const candidates = await followingRuns(sql, ctx, dag, first);
  if (candidates.length === 0) return [];
  // Create their instances first; the runs are started below only if they join.
  const queued = candidates.filter((r) => r.state === 'queued');
  if (queued.length > 0) await createInstances(sql, ctx, dag, queued);
  const tis = await ctx.statements.taskInstancesOf(sql, candidates.map((r) => r.id), [task.id, ...task.upstream]);
  const byRun = instancesByRun(tis);
  const out: { ti: TiRow; run: RunRow }[] = [];
  for (const run of candidates) {
    const m = byRun.get(run.id) ?? new Map<string, TiRow[]>();
    // A batched task is never mapped (dag.ts), so its one instance is the first; its upstream may be.
    const ti = m.get(task.id)?.[0];
    if (!ti || taken.has(ti.id)) break;
    if (!(ti.state === null || isDue(ti.state, ti.next_retry_at, ctx.stamp.nowMs))) break;
    const upstream = task.upstream.flatMap((u) => countedStates(isMappedTask(dag, u), m.get(u), (row) => row.state));
    if (evaluateTriggerRule(task.triggerRule, upstream) !== 'queued') break;
    out.push({ ti, run });
  }
  const toStart = out.filter((o) => o.run.state === 'queued').map((o) => o.run.id);
  if (toStart.length > 0) await ctx.statements.startRuns(sql, toStart, ctx.stamp.owner, ctx.stamp.nowIso);
  return out.map(({ ti, run }) => ({ ti, run: { ...run, state: 'running' } }));
}
