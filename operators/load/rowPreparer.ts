/**
 * The CPU-bound half of a load: reads a complete lake partition in blocks of a batch's worth of lines
 * (as bytes) and turns each into an INSERT batch of valid rows and the block's rejects
 * (blockPreparer.ts). Blocks go to the prepare workers while they have room and are decoded and
 * prepared here otherwise; they are handed out in lake order either way. Duplicate ids are decided
 * here, in that order. Nothing here touches the database: the load (loadTask.ts) feeds the batches to
 * SQLite and keeps the transaction and the books.
 */
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { Entity } from '../entities.js';
import type { LakeManifest } from '../lake/manifest.js';
import { decodeLines } from '../lake/lines.js';
import { readLakeBlocks, type LakeBlock } from '../lake/reader.js';
import type { InsertBatch } from './BatchBuilder.js';
import { BlobPool } from './BlobPool.js';
import { parseLine, prepareBlock, rejectBatchBuilder, rowBatchBuilder, type PreparedBlock } from './blockPreparer.js';
import { IdHashSet } from './IdHashSet.js';
import { PrepareWorkerError } from './PrepareWorkerError.js';
import type { PrepareWorkerPool } from './PrepareWorkerPool.js';
import type { ValidRow } from './validation.js';

/** What {@link prepareRows} reads. */
export interface PrepareInput {
  readonly lakeDir: string;
  readonly entity: Entity;
  readonly ds: string;
  /** The partition's manifest, already read (and so known complete). */
  readonly manifest: LakeManifest;
  /** Rows per INSERT batch, and lines per block. */
  readonly batchRows: number;
  /** Worker threads to share the preparation with; without, every block is prepared on this thread. */
  readonly workers?: PrepareWorkerPool;
  /** Stops the wait for a worker's block (the task's signal): a stuck worker must not hang the load. */
  readonly signal?: AbortSignal;
  /** Rows with a repeated id held aside at most (each is kept in memory until the end, ~0.5 KB): past
   * it the load fails with {@link NonRetryableError}. Default: no limit. */
  readonly maxSuspects?: number;
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

/** A block on its way: prepared here (done), or by a worker (done once its answer came). */
interface QueuedBlock {
  /** Kept until handed out: for repeated ids, and for a worker that fails. */
  readonly block: LakeBlock;
  readonly prepared: PreparedBlock | Promise<PreparedBlock>;
  done: boolean;
}

/** Blocks prepared here ahead of the one being handed out, besides those the workers hold: bounds the
 * memory held (6 in all with one worker peaked higher than 4, measured). */
const QUEUED_HERE = 2;

/** `promise`, or a rejection with the signal's reason once it aborts. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Reads the partition and yields its INSERT batches, in lake order, then the suspects. */
export async function* prepareRows(input: PrepareInput): AsyncGenerator<PrepareEvent> {
  const { entity, batchRows, workers, signal } = input;
  const maxQueued = QUEUED_HERE + (workers?.capacity ?? 0);
  const blobs = new BlobPool();
  const builder = rowBatchBuilder(entity, batchRows, (size) => blobs.take(size));
  // The blocks' bytes, reused once a block is handed out: at most maxQueued blocks are held at once.
  const blockMemory = new BlobPool(maxQueued + 1);
  /** A block prepared here, its packed memory back to `blobs` once the INSERT has started. */
  const prepareHere = (lines: readonly string[], skip?: ReadonlySet<number>): PreparedBlock => {
    const block = prepareBlock(entity, lines, builder, skip);
    const memory = block.batch?.packed?.blob.buffer as ArrayBuffer | undefined;
    return memory ? { ...block, batch: { ...block.batch!, release: () => blobs.give(memory) } } : block;
  };
  const rejects = rejectBatchBuilder(batchRows);
  // Duplicate ids: a compact hash filter (~8 bytes per id) instead of a Set of the id strings
  // (~90 MB per million, measured); rows it flags are held aside ("suspects", normally none) and
  // confirmed exactly against the inserted rows at the end, so a hash collision costs a query, not a row.
  const seen = new IdHashSet(input.manifest.rows);
  const suspects: Suspect[] = [];
  const queue: QueuedBlock[] = [];

  const enqueue = (block: LakeBlock): void => {
    const promise = workers?.tryPrepare(entity, block);
    if (!promise) {
      queue.push({ block, prepared: prepareHere(decodeLines(block.bytes)), done: true });
      return;
    }
    // A worker that fails or dies leaves the block to this thread: the workers only make a load faster.
    const prepared = promise.catch((err: unknown) => {
      if (err instanceof PrepareWorkerError) return prepareHere(decodeLines(block.bytes));
      throw err;
    });
    const queued: QueuedBlock = { block, prepared, done: false };
    prepared.then(
      () => (queued.done = true),
      () => (queued.done = true),
    );
    queue.push(queued);
  };

  /** The events of the block at the head of the queue, its rows checked for duplicate ids in order. */
  async function* handOut(): AsyncGenerator<PrepareEvent> {
    const { block: read, prepared, done } = queue.shift()!;
    const block = done ? await prepared : await unlessAborted(prepared as Promise<PreparedBlock>, signal);
    for (const reject of block.rejects) {
      const full = rejects.add([reject[0], reject[1]]);
      if (full) yield { type: 'rejects', batch: full };
    }
    let repeated: Set<number> | undefined;
    for (let k = 0; k < block.lineOf.length; k++) {
      if (!seen.addHashes(block.idHashes[2 * k], block.idHashes[2 * k + 1])) (repeated ??= new Set()).add(block.lineOf[k]);
    }
    let batch = block.batch;
    if (repeated) {
      // Rare: the batch must go without those rows; prepare the block again here, leaving them out.
      const lines = decodeLines(read.bytes);
      for (const i of repeated) suspects.push({ line: lines[i], row: (parseLine(entity, lines[i]) as { row: ValidRow }).row });
      if (suspects.length > (input.maxSuspects ?? Infinity)) {
        throw new NonRetryableError(
          `load of ${entity} for ${input.ds}: more than ${input.maxSuspects} rows repeat an id seen earlier in the partition, ` +
            `more than the allowed reject share: nothing is loaded; look for repeated pages in the lake partition`,
        );
      }
      batch = prepareHere(lines, repeated).batch;
    }
    blockMemory.give(read.bytes.buffer as ArrayBuffer);
    if (batch) yield { type: 'rows', batch };
  }

  const blocks = readLakeBlocks(input.lakeDir, entity, input.ds, { manifest: input.manifest, linesPerBlock: batchRows, allocate: (size) => blockMemory.take(size) });
  for await (const block of blocks) {
    enqueue(block);
    // Hand out what is ready in order; wait for the head only when the queue is full.
    while (queue.length > 0 && (queue[0].done || queue.length >= maxQueued)) yield* handOut();
  }
  while (queue.length > 0) yield* handOut();
  const lastRejects = rejects.take();
  if (lastRejects) yield { type: 'rejects', batch: lastRejects };
  yield { type: 'end', suspects };
}
