/** The `dags` table: which DAGs exist, where they were loaded from, and whether they are paused. */
import type { Dag } from '../interfaces.js';
import type { MetadataDb } from './db.js';

/** Records every loaded DAG (new ones unpaused) with its file and the time it was seen. */
export async function syncDags(db: MetadataDb, dags: Iterable<Dag>, now = new Date()): Promise<void> {
  const list = [...dags];
  if (list.length === 0) return;
  const iso = now.toISOString();
  await db.tx(async (sql) => {
    for (const dag of list) {
      await sql.run(
        `INSERT INTO dags (dag_id, paused, fileloc, last_seen_at) VALUES (?, 0, ?, ?)
         ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, last_seen_at = excluded.last_seen_at`,
        [dag.id, dag.fileloc ?? null, iso],
      );
    }
  });
}

/** Pauses or unpauses a DAG (creating its row if it was never seen by a daemon). */
export async function setPaused(db: MetadataDb, dag: Dag, paused: boolean): Promise<void> {
  await db.tx((sql) =>
    sql.run(
      `INSERT INTO dags (dag_id, paused, fileloc, last_seen_at) VALUES (?, ?, ?, NULL)
       ON CONFLICT (dag_id) DO UPDATE SET paused = excluded.paused`,
      [dag.id, paused ? 1 : 0, dag.fileloc ?? null],
    ),
  );
}

/** The ids of the paused DAGs. */
export async function pausedDagIds(db: MetadataDb): Promise<Set<string>> {
  const rows = await db.read((sql) => sql.all<{ dag_id: string }>('SELECT dag_id FROM dags WHERE paused = 1'));
  return new Set(rows.map((r) => r.dag_id));
}
