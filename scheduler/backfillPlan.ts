/**
 * What a backfill covers: the DAGs asked for (or every DAG with catchup on) and, for each, the dates
 * from `--from` to `--to` capped at its last completed interval. Pure: no database, no clock of its own.
 */
import { UsageError } from './errors/UsageError.js';
import type { Dag } from './interfaces.js';
import { latestCompletedInterval } from './timetable.js';

/** One DAG's share of a backfill. */
export interface Plan {
  readonly dag: Dag;
  readonly from: Date;
  readonly to: Date;
  /** A waited-for DAG's one run, not a range asked for. */
  readonly waitedFor?: boolean;
}

/** The DAGs and date bounds a backfill covers (`to` capped at each DAG's last completed interval); UsageError for unknown or unschedulable DAGs. */
export function planBackfill(dags: ReadonlyMap<string, Dag>, dagIds: readonly string[] | undefined, from: Date, to: Date | undefined, now: Date): Plan[] {
  if (to && to.getTime() < from.getTime()) {
    throw new UsageError(`--to '${to.toISOString().slice(0, 10)}' is before --from '${from.toISOString().slice(0, 10)}'`);
  }
  let chosen: Dag[];
  if (dagIds && dagIds.length > 0) {
    chosen = dagIds.map((id) => {
      const dag = dags.get(id);
      if (!dag) throw new UsageError(`unknown DAG '${id}' (see 'drivetrain dags list')`);
      if (dag.schedule === null || dag.schedule === '@once') {
        throw new UsageError(`DAG '${id}' has schedule '${String(dag.schedule)}': there are no intervals to backfill`);
      }
      return dag;
    });
  } else {
    chosen = [...dags.values()].filter((d) => d.catchup && d.schedule !== null && d.schedule !== '@once');
  }
  const plans: Plan[] = [];
  for (const dag of chosen) {
    // Never past the last completed interval, even when --to asks: such a run would read data that
    // is not complete yet, and would take the logical date the daemon's real run needs later.
    const completed = latestCompletedInterval(dag.schedule, dag.startDate, now, dag.endDate)?.start;
    const last = to && completed && to.getTime() < completed.getTime() ? to : completed;
    if (!last || last.getTime() < from.getTime()) continue;
    plans.push({ dag, from, to: last });
  }
  return plans;
}
