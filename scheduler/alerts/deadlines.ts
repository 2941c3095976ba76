/**
 * The deadline check: for each DAG with a `deadline`, the latest interval whose end lies that long
 * before now must have a successful run, or `deadline_missed` is recorded for it, once (its dedup key
 * is the DAG and the interval). It reads only the timetable and the runs table, so it fires for a
 * paused DAG or one whose runs were never created, and whichever daemon is alive runs it. "Now" is
 * the scheduler's clock (DRIVETRAIN_NOW in tests). It also sets the deadline and lateness gauges.
 */
import type { Dag } from '../interfaces.js';
import type { MetadataDb } from '../metadata/db.js';
import type { NewAlert } from '../metadata/statements.js';
import { deadlinesMissedGauge, dagLatenessGauge } from '../metrics.js';
import { dbDate, runIdFor } from '../runIds.js';
import { latestCompletedInterval } from '../timetable.js';

/** Records the missed deadlines due at `now`; resolves with how many are new. */
export async function checkDeadlines(db: MetadataDb, dags: Iterable<Dag>, now: Date): Promise<number> {
  const st = db.statements;
  const list = [...dags].filter((d) => d.schedule !== null);
  if (list.length === 0) return 0;
  const nowIso = now.toISOString();
  const { created, lateness, missed } = await db.tx(async (sql) => {
    const alerts: NewAlert[] = [];
    const lateness = new Map<string, number>();
    for (const dag of list) {
      const until = await st.successfulUntil(sql, dag.id);
      if (until !== null) lateness.set(dag.id, Math.max(0, (now.getTime() - new Date(until).getTime()) / 1000));
      if (!dag.deadline) continue;
      const horizon = new Date(now.getTime() - dag.deadline.afterIntervalEndMs);
      const interval = latestCompletedInterval(dag.schedule, dag.startDate, horizon, dag.endDate);
      if (!interval || interval.end.getTime() > horizon.getTime()) continue;
      const logicalDate = dbDate(interval.start);
      const [run] = await st.runsBetween(sql, dag.id, logicalDate, logicalDate);
      if (run?.state === 'success') continue;
      alerts.push({
        event: 'deadline_missed',
        dedupKey: `deadline_missed:${dag.id}:${logicalDate}`,
        dagId: dag.id,
        runId: runIdFor(run?.run_type ?? 'scheduled', interval.start),
        taskId: null,
        tryNumber: null,
        maxTries: null,
        logicalDate,
        error: `${run ? `run ${run.state}` : 'no run'} ${dag.deadline.afterIntervalEnd} after its interval ended at ${interval.end.toISOString()}`,
      });
    }
    const created = alerts.length > 0 ? await st.insertAlerts(sql, alerts, nowIso) : 0;
    return { created, lateness, missed: await st.missedDeadlineCounts(sql) };
  });
  dagLatenessGauge.reset();
  for (const [dagId, s] of lateness) dagLatenessGauge.set({ dag_id: dagId }, s);
  deadlinesMissedGauge.reset();
  const missedBy = new Map(missed.map((m) => [m.dag_id, m.n]));
  for (const dag of list) if (dag.deadline) deadlinesMissedGauge.set({ dag_id: dag.id }, missedBy.get(dag.id) ?? 0);
  return created;
}
