/**
 * Ingest: the source is a snapshot, so only the latest interval matters (catchup off). Each entity is
 * extracted into the lake, loaded into its raw partition, then the vault models run in their ref()
 * order (hubs, link, satellites, current views, timelines). The data tests of the vault's tables
 * (test_vault) run once those are loaded, beside the timelines; the rest (test_core) after what they read.
 */
import { extractTask } from '../operators/extract/extractTask.js';
import { loadTask } from '../operators/load/loadTask.js';
import { modelTaskSpecs } from '../operators/sql/dagTasks.js';
import { readsOnlyVault, selectionOf } from './_pipeline.js';
import { defineDag } from '../scheduler/dag.js';
import type { TaskSpec } from '../scheduler/interfaces.js';
import { ENTITIES, isEntity } from '../operators/entities.js';

const tasks: Record<string, TaskSpec> = {};
for (const entity of ENTITIES) {
  tasks[`extract_${entity}`] = { run: extractTask({ entity }), description: `fetch ${entity} into the lake partition ds` };
  tasks[`load_${entity}`] = { run: loadTask({ entity, extractTask: `extract_${entity}` }), upstream: [`extract_${entity}`], description: `replace raw ${entity} partition ds` };
}
Object.assign(
  tasks,
  modelTaskSpecs(selectionOf('ingest'), {
    sourceTask: (source) => (isEntity(source) ? `load_${source}` : undefined),
    testTaskId: 'test_core',
    testGroups: [{ id: 'test_vault', test: readsOnlyVault }],
  }),
);

export default defineDag({
  id: 'ingest',
  schedule: '@daily',
  startDate: '2022-01-01',
  catchup: false,
  description: `extract and load ${ENTITIES.join(', ')}; build the Data Vault core`,
  tasks,
});
