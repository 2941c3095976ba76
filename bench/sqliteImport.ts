/**
 * The floor the ingest and day benchmarks compare with: the generated rows written as CSV and imported
 * by the sqlite3 CLI's `.import`, what SQLite itself does with the same rows and no pipeline around it.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { ENTITIES, type Entity } from '../operators/entities.js';
import { generateRows, type DatasetSizes } from '../source/generator.js';
import { FIELDS } from '../source/rowSource.js';

const csvValue = (v: unknown): string => (v === null ? '' : typeof v === 'number' ? String(v) : `"${String(v).replace(/"/g, '""')}"`);

/** Writes the generated rows of `entity` to `file` as CSV with a header line, streaming. */
export async function writeCsv(file: string, entity: Entity, sizes: DatasetSizes, seed: number): Promise<void> {
  const out = createWriteStream(file);
  const fields = FIELDS[entity];
  out.write(fields.join(',') + '\n');
  let buf = '';
  for (const row of generateRows(entity, sizes, seed)) {
    buf += fields.map((f) => csvValue(row[f])).join(',') + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/**
 * Writes each entity's rows as CSV into `dir` and imports them into `dbFile` (tables created by the
 * import from the header); returns the seconds the three `.import`s took, the CSV writing not counted.
 */
export async function importSeconds(dir: string, dbFile: string, sizes: DatasetSizes, seed: number): Promise<number> {
  let seconds = 0;
  for (const entity of ENTITIES) {
    const file = path.join(dir, `${entity}.csv`);
    await writeCsv(file, entity, sizes, seed);
    const i0 = performance.now();
    const r = spawnSync('sqlite3', [dbFile, '.mode csv', `.import ${file} ${entity}`], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`sqlite3 .import of '${file}' into '${dbFile}' failed with ${r.status ?? r.signal}`);
    seconds += (performance.now() - i0) / 1000;
  }
  return seconds;
}
