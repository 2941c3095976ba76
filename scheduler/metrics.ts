/**
 * The process's Prometheus metrics, defined once so every part records into the same registry and
 * `/metrics` (scheduler/httpServer.ts) serves them all. Names follow Prometheus conventions.
 *
 * The listener runs in the heartbeat thread, which asks this thread for {@link metricsText} on each
 * scrape and serves its last copy while this thread's event loop is blocked. It adds one gauge of its
 * own, `drivetrain_event_loop_blocked_seconds` (how long the scheduler's event loop has not turned,
 * 0 while it turns; heartbeatWorker.ts), which is therefore not in this registry.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsText } from './httpServer.js';
import type { PoolUse } from './pools.js';

/** The one Prometheus registry: every metric below is registered here, and /metrics serves it. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'drivetrain_process_' });

/** The registry as Prometheus text, what /metrics serves. */
export async function metricsText(): Promise<MetricsText> {
  return { contentType: registry.contentType, text: await registry.metrics() };
}

/** DAG runs known to the metadata database, by DAG and state (set by the scheduler loop). */
export const dagRunsGauge = new Gauge({
  name: 'drivetrain_dag_runs',
  help: 'DAG runs by DAG and state',
  labelNames: ['dag_id', 'state'] as const,
  registers: [registry],
});

/** Task instances known to the metadata database, by DAG and state (set by the scheduler loop). */
export const taskInstancesGauge = new Gauge({
  name: 'drivetrain_task_instances',
  help: 'Task instances by DAG and state',
  labelNames: ['dag_id', 'state'] as const,
  registers: [registry],
});

/** Finished task attempts, by outcome. */
export const taskAttemptsCounter = new Counter({
  name: 'drivetrain_task_attempts_total',
  help: 'Task attempts finished, by DAG, task and outcome (success, failed, up_for_retry); a batched call counts one per instance it covered',
  labelNames: ['dag_id', 'task_id', 'outcome'] as const,
  registers: [registry],
});

/** Duration of task attempts. */
export const taskDurationHistogram = new Histogram({
  name: 'drivetrain_task_duration_seconds',
  help: 'Duration of task attempts in seconds',
  labelNames: ['dag_id', 'task_id'] as const,
  buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  registers: [registry],
});

/** Circuit breaker state per source host: 0 closed, 1 half-open, 2 open. */
export const breakerStateGauge = new Gauge({
  name: 'drivetrain_circuit_breaker_state',
  help: 'Circuit breaker state per source host: 0 closed, 1 half-open, 2 open',
  labelNames: ['host'] as const,
  registers: [registry],
});

/** Rows received from the source, per entity. */
export const rowsFetchedCounter = new Counter({
  name: 'drivetrain_rows_fetched_total',
  help: 'Rows fetched from the source, per entity',
  labelNames: ['entity'] as const,
  registers: [registry],
});

/** Rows written to the raw tables, per entity. */
export const rowsLoadedCounter = new Counter({
  name: 'drivetrain_rows_loaded_total',
  help: 'Rows loaded into raw tables, per entity',
  labelNames: ['entity'] as const,
  registers: [registry],
});

/** Rows sent to `rejects`, per entity. */
export const rowsRejectedCounter = new Counter({
  name: 'drivetrain_rows_rejected_total',
  help: 'Rows rejected by validation, per entity',
  labelNames: ['entity'] as const,
  registers: [registry],
});

/** Compressed bytes written to the data lake, per entity. */
export const lakeBytesCounter = new Counter({
  name: 'drivetrain_lake_bytes_written_total',
  help: 'Bytes written to the data lake, per entity',
  labelNames: ['entity'] as const,
  registers: [registry],
});

/** Intervals whose deadline passed without a successful run, per DAG with a `deadline` (set by the deadline check). */
export const deadlinesMissedGauge = new Gauge({
  name: 'drivetrain_deadlines_missed',
  help: 'Intervals whose deadline passed and whose run has still not succeeded, by DAG',
  labelNames: ['dag_id'] as const,
  registers: [registry],
});

/** Seconds since the end of each scheduled DAG's latest successful interval (set by the deadline check). */
export const dagLatenessGauge = new Gauge({
  name: 'drivetrain_dag_lateness_seconds',
  help: "Seconds since the end of the DAG's latest successful data interval",
  labelNames: ['dag_id'] as const,
  registers: [registry],
});

/** Each pool's declared slots (set by the scheduler loop from DRIVETRAIN_POOLS). */
export const poolSlotsGauge = new Gauge({ name: 'drivetrain_pool_slots', help: 'Slots of each pool', labelNames: ['pool'] as const, registers: [registry] });

/** Slots held by running instances, by pool, across every process on the metadata database. */
export const poolUsedSlotsGauge = new Gauge({
  name: 'drivetrain_pool_used_slots',
  help: 'Slots of each pool held by running task instances, of every process',
  labelNames: ['pool'] as const,
  registers: [registry],
});

/** Running instances, by pool. */
export const poolRunningGauge = new Gauge({ name: 'drivetrain_pool_running', help: 'Running task instances by pool', labelNames: ['pool'] as const, registers: [registry] });

/** Instances waiting to run (queued, or up for retry and due), by pool. */
export const poolQueuedGauge = new Gauge({
  name: 'drivetrain_pool_queued',
  help: 'Task instances waiting to run by pool (queued, or up for retry and due)',
  labelNames: ['pool'] as const,
  registers: [registry],
});

/** Slots left, by pool. */
export const poolOpenSlotsGauge = new Gauge({ name: 'drivetrain_pool_open_slots', help: 'Open slots of each pool', labelNames: ['pool'] as const, registers: [registry] });

/** Sets the pool gauges to `uses`; a pool no longer declared nor recorded drops out. */
export function setPoolGauges(uses: readonly PoolUse[]): void {
  const gauges = [poolSlotsGauge, poolUsedSlotsGauge, poolRunningGauge, poolQueuedGauge, poolOpenSlotsGauge];
  for (const g of gauges) g.reset();
  for (const u of uses) {
    poolSlotsGauge.set({ pool: u.pool }, u.slots);
    poolUsedSlotsGauge.set({ pool: u.pool }, u.usedSlots);
    poolRunningGauge.set({ pool: u.pool }, u.running);
    poolQueuedGauge.set({ pool: u.pool }, u.queued);
    poolOpenSlotsGauge.set({ pool: u.pool }, u.openSlots);
  }
}
