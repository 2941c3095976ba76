/**
 * The CPU-bound half of a load: reads a complete lake partition and turns its lines into INSERT
 * batches. Each line is parsed and validated; valid rows get their vault hash columns and go into row
 * batches, bad ones into reject batches with their reason. Nothing here touches the database: the
 * load (loadTask.ts) feeds the batches to SQLite and keeps the transaction and the books.
 */
import type { Entity } from '../../scheduler/settings.js';
import type { LakeManifest } from '../lake/manifest.js';
import { readLakeLines } from '../lake/reader.js';
import { BatchBuilder, type InsertBatch } from './BatchBuilder.js';
import { pushVaultValues } from './hashing.js';
import { IdHashSet } from './IdHashSet.js';
import { SOURCE_FIELDS, VAULT_FIELDS } from './models.js';
import { fastValidRow, validateRow, type ValidRow } from './validation.js';

/** What {@link prepareRows} reads. */
export interface PrepareInput {
  readonly lakeDir: string;
  readonly entity: Entity;
  readonly ds: string;
  /** The partition's manifest, already read (and so known complete). */
  readonly manifest: LakeManifest;
  /** Rows per INSERT batch. */
  readonly batchRows: number;
}

/** A valid row whose id was (probably) seen before in the partition: the load decides it exactly. */
export interface Suspect {
  readonly line: string;
  readonly row: ValidRow;
}

/** What {@link prepareRows} yields: batches for the raw table or for `rejects`, then one summary. */
export type PrepareEvent =
  | { readonly type: 'rows'; readonly batch: InsertBatch }
  | { readonly type: 'rejects'; readonly batch: InsertBatch }
  | { readonly type: 'end'; readonly suspects: readonly Suspect[] };

/** The values of a valid row in raw-table column order (source fields, then the vault's). */
export function rowValues(entity: Entity, row: ValidRow): unknown[] {
  const fields = SOURCE_FIELDS[entity];
  const values: unknown[] = [];
  for (let i = 0; i < fields.length; i++) values.push(row[fields[i]] ?? null);
  pushVaultValues(entity, row, values);
  return values;
}

/** Batches of raw rows ({@link rowValues}), packed where possible. */
export function rowBatchBuilder(entity: Entity, batchRows: number): BatchBuilder {
  return new BatchBuilder(SOURCE_FIELDS[entity].length + VAULT_FIELDS[entity].length, batchRows, true);
}

/** Batches of rejects (`raw_json`, `reason`): few rows with long raw lines, so always JSON. */
export function rejectBatchBuilder(batchRows: number): BatchBuilder {
  return new BatchBuilder(2, batchRows, false);
}

/** Reads the partition and yields its INSERT batches, in lake order, then the suspects. */
export async function* prepareRows(input: PrepareInput): AsyncGenerator<PrepareEvent> {
  const { entity } = input;
  const rows = rowBatchBuilder(entity, input.batchRows);
  const rejects = rejectBatchBuilder(input.batchRows);
  // Duplicate ids: a compact hash filter (~16 bytes per id) instead of a Set of the id strings
  // (~90 MB per million, measured); rows it flags are held aside ("suspects", normally none) and
  // confirmed exactly against the inserted rows at the end, so a hash collision costs a query, not a row.
  const seen = new IdHashSet(input.manifest.rows);
  const suspects: Suspect[] = [];
  for await (const lines of readLakeLines(input.lakeDir, entity, input.ds, input.manifest)) {
    for (const line of lines) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        const full = rejects.add([line, 'row: not valid JSON']);
        if (full) yield { type: 'rejects', batch: full };
        continue;
      }
      // The plain-predicate check passes nearly every row; zod words the reason for the rest.
      let row = fastValidRow(entity, parsed);
      if (row === undefined) {
        const v = validateRow(entity, parsed);
        if (!v.ok) {
          const full = rejects.add([line, v.reason]);
          if (full) yield { type: 'rejects', batch: full };
          continue;
        }
        row = v.row;
      }
      if (!seen.add(row.id as string)) {
        suspects.push({ line, row });
        continue;
      }
      const full = rows.add(rowValues(entity, row));
      if (full) yield { type: 'rows', batch: full };
    }
  }
  const lastRows = rows.take();
  if (lastRows) yield { type: 'rows', batch: lastRows };
  const lastRejects = rejects.take();
  if (lastRejects) yield { type: 'rejects', batch: lastRejects };
  yield { type: 'end', suspects };
}
