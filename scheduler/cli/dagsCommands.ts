/** `dags list | trigger | pause | unpause`. */
import type { Dag } from '../interfaces.js';
import { pausedDagIds, setPaused } from '../metadata/dagTable.js';
import { resolveParams } from '../params.js';
import { triggerRun } from '../runCreator.js';
import { firstInterval, intervalFor, latestCompletedInterval, nextInterval } from '../timetable.js';
import type { CommandContext } from './context.js';
import { renderTable } from './table.js';

/** The logical date of the next scheduled run a daemon would create, or undefined when none will be. */
export function nextRunDate(dag: Pick<Dag, 'schedule' | 'startDate' | 'endDate' | 'catchup'>, lastAutomated: Date | undefined, now: Date): Date | undefined {
  if (dag.schedule === null) return undefined;
  if (dag.schedule === '@once') return lastAutomated ? undefined : dag.startDate;
  let next = lastAutomated ? nextInterval(dag.schedule, intervalFor(dag.schedule, lastAutomated)) : firstInterval(dag.schedule, dag.startDate);
  if (!dag.catchup) {
    const latest = latestCompletedInterval(dag.schedule, dag.startDate, now, dag.endDate);
    if (latest && next && latest.start > next.start) next = latest;
  }
  if (!next || (dag.endDate && next.start > dag.endDate)) return undefined;
  return next.start;
}

/** Prints the DAGs, then the files that failed to import with their reasons. */
export async function dagsListCommand(ctx: CommandContext): Promise<number> {
  const paused = await pausedDagIds(ctx.db);
  // Where run creation resumes (dags.next_dagrun), else just after the last scheduled run.
  const last = await ctx.db.read((sql) => ctx.db.statements.dagSchedules(sql));
  const lastBy = new Map<string, Date>();
  for (const r of last) {
    // A date inside the interval before the next one to create.
    if (r.next_dagrun) lastBy.set(r.dag_id, new Date(new Date(r.next_dagrun).getTime() - 1));
    else if (r.last_scheduled) lastBy.set(r.dag_id, new Date(r.last_scheduled));
  }
  const now = ctx.clock.now();
  const rows = [...ctx.bag.dags.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => ({
      dag_id: d.id,
      schedule: d.schedule ?? 'None',
      paused: paused.has(d.id) ? 'yes' : 'no',
      catchup: d.catchup ? 'yes' : 'no',
      next_run: nextRunDate(d, lastBy.get(d.id), now)?.toISOString(),
      file: d.fileloc,
    }));
  process.stdout.write(renderTable(['dag_id', 'schedule', 'paused', 'catchup', 'next_run', 'file'], rows));
  if (ctx.bag.errors.length > 0) {
    process.stdout.write(`\nimport errors (${ctx.bag.errors.length}):\n`);
    process.stdout.write(renderTable(['file', 'reason'], ctx.bag.errors.map((e) => ({ file: e.file, reason: e.reason }))));
  }
  return 0;
}

/** Creates a manual run and prints its id. */
export async function triggerCommand(ctx: CommandContext, dagId: string, date: Date | undefined, conf?: Record<string, unknown>): Promise<number> {
  const dag = ctx.dag(dagId);
  // Validated before anything is written; stored with the defaults filled in, as the API does.
  const params = resolveParams(dag.id, dag.params, conf ?? {});
  const runId = await triggerRun(ctx.db, dag, { date, now: ctx.clock.now(), conf: params });
  ctx.log.info('manual run created', { dagId, runId });
  process.stdout.write(`created run ${runId} of DAG ${dagId} (queued)\n`);
  return 0;
}

/** Pauses or unpauses a DAG. */
export async function pauseCommand(ctx: CommandContext, dagId: string, paused: boolean): Promise<number> {
  await setPaused(ctx.db, ctx.dag(dagId), paused);
  ctx.log.info(paused ? 'DAG paused' : 'DAG unpaused', { dagId });
  process.stdout.write(`DAG ${dagId} ${paused ? 'paused' : 'unpaused'}\n`);
  return 0;
}

