/** The `dags` table: which DAGs exist, where they were loaded from, and whether they are paused. */
import type { Dag } from '../interfaces.js';
import type { MetadataDb } from './db.js';

/** Records every loaded DAG (new ones unpaused) with its file and the time it was seen. */
export async function syncDags(db: MetadataDb, dags: Iterable<Dag>, now = new Date()): Promise<void> {
  const list = [...dags].map((d) => ({ id: d.id, fileloc: d.fileloc ?? null }));
  if (list.length === 0) return;
  await db.tx((sql) => db.statements.upsertDagsSeen(sql, list, now.toISOString()));
}

/** Pauses or unpauses a DAG (creating its row if it was never seen by a daemon). */
export async function setPaused(db: MetadataDb, dag: Pick<Dag, 'id' | 'fileloc'>, paused: boolean): Promise<void> {
  await db.tx((sql) => db.statements.setPaused(sql, dag.id, dag.fileloc ?? null, paused));
}

/** The ids of the paused DAGs. */
export async function pausedDagIds(db: MetadataDb): Promise<Set<string>> {
  return new Set(await db.read((sql) => db.statements.pausedDagIds(sql)));
}
