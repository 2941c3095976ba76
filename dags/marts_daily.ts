/**
 * Daily marts: each run replaces its day and refreshes the projection of every later day. It reads the
 * vault, so it waits for an ingest run covering its interval. The partition models are batchable: a
 * backfill hands them a range of days, computed in one statement per mart.
 */
import { modelTaskSpecs } from '../operators/sql/dagTasks.js';
import { selectionOf } from './_pipeline.js';
import { defineDag } from '../scheduler/dag.js';

export default defineDag({
  id: 'marts_daily',
  schedule: '@daily',
  startDate: '2022-01-01',
  catchup: true,
  waitFor: ['ingest'],
  // A day's marts are due by the morning after: ingest and the marts take minutes, so six hours
  // past the interval's end means something is stuck or failed, not slow.
  deadline: { afterIntervalEnd: '6h' },
  description: 'infleeted/defleeted cars and deliveries per day',
  tasks: modelTaskSpecs(selectionOf('marts_daily'), { testTaskId: 'test_marts_daily' }),
});
