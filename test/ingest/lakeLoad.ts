/**
 * Set-up shared by the load tests: a committed lake partition written as the extract would leave it,
 * and a load of it into a home of its own (for tests comparing two loads of the same lines).
 */
import { mkdirSync } from 'node:fs';
import { LakePartitionWriter } from '../../operators/lake/writer.js';
import type { PartitionPreparer } from '../../operators/load/interfaces.js';
import { loadTask } from '../../operators/load/loadTask.js';
import type { Entity } from '../../operators/entities.js';
import type { Settings } from '../../scheduler/settings.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings } from '../helpers/tmp.js';

/** The logical date the load tests load. */
export const DS = '2024-01-15';

/** Writes `rows` (a string as a line as it is, anything else JSON-encoded) as the committed lake partition of `entity` on `ds`. */
export async function writeLake(settings: Settings, entity: string, rows: readonly unknown[], ds = DS): Promise<void> {
  const w = await LakePartitionWriter.open(settings.lakeDir, entity, ds);
  await w.writeLines(rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))));
  await w.commit('test', new Date());
}

/** What loadInNewHome runs the load with, besides the settings. */
export interface LoadInNewHomeOptions {
  /** The load's partition preparer; default the load's own choice. */
  readonly preparer?: PartitionPreparer;
  /** Runs alongside the load (to act on it mid-way); the load's result waits for it too. */
  readonly alongside?: () => Promise<void>;
}

/**
 * Creates `dir` as a home with `env` over the test settings, writes `lines` as its lake partition of
 * `entity` on DS and loads it; returns the home's settings.
 */
export async function loadInNewHome(
  dir: string,
  entity: Entity,
  lines: readonly string[],
  env: Record<string, string>,
  opts: LoadInNewHomeOptions = {},
): Promise<Settings> {
  mkdirSync(dir);
  const settings = testSettings(dir, env);
  await writeLake(settings, entity, lines);
  await Promise.all([loadTask({ entity, preparer: opts.preparer })(testTaskContext(settings, { ds: DS })), opts.alongside?.()]);
  return settings;
}
