/**
 * Monthly marts: each run replaces its month of type_share and refreshes later months, and rebuilds
 * type_distribution. Waits for an ingest run covering its interval.
 */
import { modelTaskSpecs } from '../operators/sql/dagTasks.js';
import { selectionOf } from './_pipeline.js';
import { defineDag } from '../scheduler/dag.js';

export default defineDag({
  id: 'marts_monthly',
  schedule: '@monthly',
  startDate: '2022-01-01',
  catchup: true,
  waitFor: ['ingest'],
  // A month's marts are read on the first working day; a day past the month's end leaves time to fix a failure.
  deadline: { afterIntervalEnd: '1d' },
  description: 'type_share per month and brand; type_distribution',
  tasks: modelTaskSpecs(selectionOf('marts_monthly'), { testTaskId: 'test_marts_monthly' }),
});
