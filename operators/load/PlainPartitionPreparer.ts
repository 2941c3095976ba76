/**
 * The plain {@link PartitionPreparer}: every lake line read, parsed, validated and hashed on the load's
 * thread, repeated ids found with a Set, rows sent as JSON batches. The reference the fast one
 * (fast/FastPartitionPreparer.ts) must equal, table for table; slower, and holding every id string.
 */
import { decodeLines } from '../lake/lines.js';
import { readLakeBlocks } from '../lake/reader.js';
import type { PartitionPreparer, PartitionToLoad, PreparedBatch } from './interfaces.js';
import { duplicateReason, lakeLineReject, parseLine, rowValues } from './rows.js';

/** `values` (one array per row) as one JSON batch. */
function jsonBatch(into: 'rows' | 'rejects', values: unknown[][]): PreparedBatch {
  return { into, batch: { rows: values.length, json: JSON.stringify(values) } };
}

export class PlainPartitionPreparer implements PartitionPreparer {
  constructor(
    /** Rows per INSERT batch. */
    private readonly batchRows: number,
  ) {
    if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows '${batchRows}' is not a positive integer`);
  }

  async *prepare(partition: PartitionToLoad): AsyncGenerator<PreparedBatch> {
    const { lakeDir, entity, ds, manifest } = partition;
    const seen = new Set<string>();
    let rows: unknown[][] = [];
    let rejects: unknown[][] = [];
    let lakeLine = 0;
    for await (const block of readLakeBlocks(lakeDir, entity, ds, { manifest, linesPerBlock: this.batchRows })) {
      const lines = decodeLines(block.bytes);
      for (let i = 0; i < lines.length; i++, lakeLine++) {
        const line = lines[i];
        const parsed = (lines.undecodable && lakeLineReject(lines.undecodable, i)) || parseLine(entity, line);
        if ('reason' in parsed) {
          rejects.push([line, parsed.reason]);
        } else if (seen.has(parsed.row.id as string)) {
          rejects.push([line, duplicateReason(parsed.row.id as string)]);
        } else {
          seen.add(parsed.row.id as string);
          rows.push(rowValues(entity, parsed.row, lakeLine));
        }
        if (rows.length >= this.batchRows) {
          yield jsonBatch('rows', rows);
          rows = [];
        }
        if (rejects.length >= this.batchRows) {
          yield jsonBatch('rejects', rejects);
          rejects = [];
        }
      }
    }
    if (rows.length > 0) yield jsonBatch('rows', rows);
    if (rejects.length > 0) yield jsonBatch('rejects', rejects);
  }
}
