/**
 * One block of lake lines (a batch's worth) turned into at most one INSERT batch of valid rows and the
 * block's rejects: each line parsed, validated, given its vault hash columns and packed. A block needs
 * nothing but its own lines, so it is prepared the same on the load's thread or in a prepare worker
 * (PrepareWorkerPool.ts); what needs the whole partition in order (repeated ids) stays with
 * FastPartitionPreparer.ts, and the books with the load.
 */
import type { Entity } from '../../entities.js';
import { BatchBuilder, type InsertBatch } from './BatchBuilder.js';
import { insertColumns, lakeLineReject, parseLine, rowValues } from '../rows.js';
import { normalise } from '../hashing.js';
import { IdHashSet } from './IdHashSet.js';
import type { LakeLines } from '../../lake/lines.js';
import type { LakeBlock } from '../../lake/reader.js';

/** Lake lines to prepare, with each one's number in its partition (the raw rows' `lake_line`). */
export interface BlockToPrepare extends LakeBlock {
  readonly lakeLines: Int32Array;
}

/** A block prepared: the batch of its valid rows, and its rejects. */
export interface PreparedBlock {
  /** The valid rows (less the skipped ones) as one batch; undefined when there are none. */
  readonly batch: InsertBatch | undefined;
  /** Each row of `batch`, in order: its id's two {@link IdHashSet.hash}es (the load checks them for
   * duplicates; numbers cross to the load's thread cheaper than strings)... */
  readonly idHashes: Uint32Array;
  /** ...its business key's, normalised as its hash key is (two values a row, as `idHashes`)... */
  readonly keyHashes: Uint32Array;
  /** ...and the index of its line in the block. */
  readonly lineOf: Int32Array;
  /** The lines that failed, with their one-line reason. */
  readonly rejects: ReadonlyArray<readonly [line: string, reason: string]>;
}

/** Batches of raw rows ({@link rowValues}), packed where possible (into memory from `allocate`). */
export function rowBatchBuilder(entity: Entity, batchRows: number, allocate?: (size: number) => Buffer): BatchBuilder {
  return new BatchBuilder(insertColumns(entity).length, batchRows, true, allocate);
}

/** Batches of rejects (`raw_json`, `reason`): few rows with long raw lines, so always JSON. */
export function rejectBatchBuilder(batchRows: number): BatchBuilder {
  return new BatchBuilder(2, batchRows, false);
}

/**
 * Prepares `lines` into one batch with `builder` (the caller's, so its packing heuristic carries from
 * block to block; it must hold no rows). `lakeLines[i]` is line i's number in its lake partition. Lines
 * whose index is in `skip` are left out of the batch.
 */
export function prepareBlock(entity: Entity, lines: LakeLines, builder: BatchBuilder, lakeLines: ArrayLike<number>, skip?: ReadonlySet<number>): PreparedBlock {
  const idHashes = new Uint32Array(lines.length * 2);
  const keyHashes = new Uint32Array(lines.length * 2);
  const lineOf = new Int32Array(lines.length);
  let rows = 0;
  const rejects: Array<readonly [string, string]> = [];
  let batch: InsertBatch | undefined;
  const undecodable = lines.undecodable;
  for (let i = 0; i < lines.length; i++) {
    const parsed = (undecodable && lakeLineReject(undecodable, i)) || parseLine(entity, lines[i]);
    if ('reason' in parsed) {
      rejects.push([lines[i], parsed.reason]);
      continue;
    }
    if (skip?.has(i)) continue;
    IdHashSet.hash(parsed.row.id as string, idHashes, rows * 2);
    IdHashSet.hash(normalise(parsed.row.id), keyHashes, rows * 2);
    lineOf[rows++] = i;
    // A block is at most a batch, so a full batch can only come at its last line.
    batch = builder.add(rowValues(entity, parsed.row, lakeLines[i])) ?? batch;
  }
  return { batch: batch ?? builder.take(), idHashes: idHashes.slice(0, rows * 2), keyHashes: keyHashes.slice(0, rows * 2), lineOf: lineOf.slice(0, rows), rejects };
}
