/**
 * The prepare worker's thread: decodes and prepares the blocks the load sends it (blockPreparer.ts) and
 * posts them back, the packed bytes moved, not copied. Bundled and started by PrepareWorkerPool.ts.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Entity } from '../../entities.js';
import { decodeLines } from '../../lake/lines.js';
import type { BatchBuilder } from './BatchBuilder.js';
import { BlobPool } from './BlobPool.js';
import { prepareBlock, rowBatchBuilder, type PreparedBlock } from './blockPreparer.js';

/** What the load sends: a block of lines of `entity`, and memory of earlier batches to reuse. */
export interface PrepareRequest {
  readonly id: number;
  readonly entity: Entity;
  readonly batchRows: number;
  /** The block's lines as UTF-8 bytes, each ending in '\n' (a copy, moved here). */
  readonly bytes: Uint8Array;
  /** Each line's number in its lake partition (a copy). */
  readonly lakeLines: Int32Array;
  /** Packed batches' memory the load is done with (moved back here). */
  readonly returned: readonly ArrayBuffer[];
}

/** What the worker is started with. */
export interface PrepareWorkerData {
  /** Where to post answers: a port the load can also read synchronously (PrepareThread.poll). */
  readonly answers: MessagePort;
}

/** What the worker answers: the prepared block, or the error that stopped it; and the request's
 * `bytes`, moved back to carry the next block. */
export type PrepareAnswer = { readonly id: number; readonly bytes: Uint8Array } & ({ readonly block: PreparedBlock } | { readonly error: string });

if (!parentPort) throw new Error('prepareWorker.ts runs only as a worker thread');
const requests = parentPort;
const { answers } = workerData as PrepareWorkerData;
// One builder per entity and batch size, so the packing heuristic carries from block to block.
const builders = new Map<string, BatchBuilder>();
// Packed batches' memory goes to the load and comes back with a later request (BlobPool.ts says why).
const blobs = new BlobPool();
const allocate = (size: number): Buffer => blobs.take(size);

requests.on('message', (req: PrepareRequest) => {
  for (const memory of req.returned) blobs.give(memory);
  try {
    const key = `${req.entity}/${req.batchRows}`;
    let builder = builders.get(key);
    if (!builder) builders.set(key, (builder = rowBatchBuilder(req.entity, req.batchRows, allocate)));
    const block = prepareBlock(req.entity, decodeLines(req.bytes), builder, req.lakeLines);
    const blob = block.batch?.packed?.blob;
    const moved = [req.bytes.buffer as ArrayBuffer];
    if (blob) moved.push(blob.buffer as ArrayBuffer);
    answers.postMessage({ id: req.id, bytes: req.bytes, block } satisfies PrepareAnswer, moved);
  } catch (err) {
    // The builder may hold rows of the failed block: the next block must start from a fresh one.
    builders.delete(`${req.entity}/${req.batchRows}`);
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    answers.postMessage({ id: req.id, bytes: req.bytes, error } satisfies PrepareAnswer, [req.bytes.buffer as ArrayBuffer]);
  }
});
