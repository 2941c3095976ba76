/**
 * The console's data page for this company's pipeline (a helper file: the DAG loader skips names
 * starting with '_'; scheduler/web/dashboards.ts reads it). Which tables are marts, the task that writes
 * each (task id = model name), the charts the seed system's wish list asked for, the rejects table and
 * the data-test tasks.
 */
import { defineDashboards } from '../scheduler/web/dashboards.js';

export default defineDashboards({
  marts: [
    { table: 'infleeted_cars_volumes', dateColumn: 'day', columns: ['day', 'cnt'], dagId: 'marts_daily', taskId: 'infleeted_cars_volumes' },
    { table: 'defleeted_cars_volumes', dateColumn: 'day', columns: ['day', 'cnt'], dagId: 'marts_daily', taskId: 'defleeted_cars_volumes' },
    {
      table: 'cars_deliveries',
      dateColumn: 'delivery_date',
      columns: ['delivery_date', 'city', 'deliveries_number'],
      dagId: 'marts_daily',
      taskId: 'cars_deliveries',
    },
    {
      table: 'type_share',
      dateColumn: 'month',
      columns: ['month', 'brand', 'b2b_customers', 'b2c_customers', 'b2b_share', 'b2c_share'],
      dagId: 'marts_monthly',
      taskId: 'type_share',
    },
    {
      table: 'type_distribution',
      dateColumn: null,
      columns: ['term', 'b2b_distribution', 'b2c_distribution'],
      dagId: 'marts_monthly',
      taskId: 'type_distribution',
    },
  ],
  charts: [
    { id: 'b2b_share', title: 'B2B share of customers per brand and month', kind: 'line', layers: [{ table: 'type_share', x: 'month', y: 'b2b_share', series: 'brand' }] },
    {
      id: 'fleet',
      title: 'Cars infleeted and defleeted per day',
      kind: 'line',
      layers: [
        { table: 'infleeted_cars_volumes', x: 'day', y: 'cnt', label: 'infleeted', missingAsZero: true },
        { table: 'defleeted_cars_volumes', x: 'day', y: 'cnt', label: 'defleeted', missingAsZero: true },
      ],
    },
    {
      id: 'deliveries',
      title: 'Deliveries per day, by city (the 8 largest)',
      kind: 'line',
      layers: [{ table: 'cars_deliveries', x: 'delivery_date', y: 'deliveries_number', series: 'city', top: 8, missingAsZero: true }],
    },
    {
      id: 'terms',
      title: 'Subscriptions per term and customer type',
      kind: 'bars',
      layers: [
        { table: 'type_distribution', x: 'term', y: 'b2b_distribution', label: 'b2b' },
        { table: 'type_distribution', x: 'term', y: 'b2c_distribution', label: 'b2c' },
      ],
    },
  ],
  rejects: { table: 'rejects', loadColumn: 'source', dateColumn: 'processing_date', reasonColumn: 'reason' },
  dataTests: [
    { dagId: 'ingest', taskId: 'test_vault' },
    { dagId: 'ingest', taskId: 'test_core' },
    { dagId: 'marts_daily', taskId: 'test_marts_daily' },
    { dagId: 'marts_monthly', taskId: 'test_marts_monthly' },
  ],
});
