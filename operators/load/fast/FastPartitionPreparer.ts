/**
 * The load's {@link PartitionPreparer}: reads a complete lake partition in blocks of a batch's worth
 * of lines (as bytes) and turns each into a packed INSERT batch of valid rows and the block's rejects
 * (blockPreparer.ts). Blocks go to the prepare workers while they have room and are prepared on the
 * load's thread otherwise; they are handed out in lake order either way. Repeated ids are decided
 * here, in that order: a compact hash filter flags them, and the flagged rows ("suspects", normally
 * none) are confirmed against the rows inserted at the end. Nothing here touches the database.
 */
import { NonRetryableError } from '../../../scheduler/errors/NonRetryableError.js';
import { LakePartitionError } from '../../lake/LakePartitionError.js';
import type { Logger } from '../../../scheduler/interfaces.js';
import { decodeLines, type LakeLines } from '../../lake/lines.js';
import { readLakeBlocks, type LakeBlock } from '../../lake/reader.js';
import type { PartitionPreparer, PartitionToLoad, PreparedBatch } from '../interfaces.js';
import { normalise } from '../hashing.js';
import { duplicateReason, parseLine, rowValues } from '../rows.js';
import type { ValidRow } from '../validation.js';
import { BlobPool } from './BlobPool.js';
import { CarriedRuns } from './CarriedRuns.js';
import { CarryMatcher, type BlockMatch } from './CarryMatcher.js';
import { CarrySourceError } from './CarrySourceError.js';
import { prepareBlock, rejectBatchBuilder, rowBatchBuilder, type PreparedBlock } from './blockPreparer.js';
import { IdHashSet } from './IdHashSet.js';
import { PrepareWorkerError } from './PrepareWorkerError.js';
import { sharedPrepareWorkerPool, type PrepareWorkerPool } from './PrepareWorkerPool.js';

/** Options of {@link FastPartitionPreparer}. */
export interface FastPreparerOptions {
  /** Rows per INSERT batch, and lake lines per block. */
  readonly batchRows: number;
  /** Worker threads to share the preparation with; without, every block is prepared on the load's thread. */
  readonly workers?: PrepareWorkerPool;
  /** The share of a partition's rows a load may reject: more rows repeating an id than that fail the
   * load as soon as they are seen (each is held in memory until the end). Default: no limit. */
  readonly maxRejectShare?: number;
}

/** A valid row whose id was (probably) seen before in the partition: decided exactly at the end. */
interface Suspect {
  readonly line: string;
  readonly row: ValidRow;
  readonly lakeLine: number;
}

/** A block on its way: prepared here (done), or by a worker (done once its answer came). */
interface QueuedBlock {
  /** The block as read, kept until handed out: for repeated ids, and for a worker that fails. */
  readonly block: LakeBlock;
  /** The lake line of its first line. */
  readonly firstLine: number;
  /** Its lines carried from the previous partition; the rest is what was prepared. */
  readonly match: BlockMatch | undefined;
  readonly prepared: PreparedBlock | Promise<PreparedBlock>;
  done: boolean;
}

/** Blocks prepared here ahead of the one being handed out, besides those the workers hold: bounds the
 * memory held (docs/design/load-fast-path.md). */
const QUEUED_HERE = 2;

/** Carried rows copied by one statement: few statements, each a short turn of the writer's thread. */
const CARRIED_PER_STATEMENT = 20_000;

/** Lake blocks read ahead (of this partition and of the previous one), decompressed while a block is worked on. */
const READ_AHEAD = 2;

const NOTHING_PREPARED: PreparedBlock = { batch: undefined, idHashes: new Uint32Array(0), keyHashes: new Uint32Array(0), lineOf: new Int32Array(0), rejects: [] };

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

/** The lake lines of the lines a block prepares: consecutive, or the rest of a matched block. */
function lakeLinesOf(firstLine: number, lines: number, match: BlockMatch | undefined): Int32Array {
  const numbers = new Int32Array(match ? match.restIndex.length : lines);
  for (let k = 0; k < numbers.length; k++) numbers[k] = firstLine + (match ? match.restIndex[k] : k);
  return numbers;
}

/** One partition's blocks in flight, handed out in lake order with their repeated ids set aside. */
class BlockQueue {
  private readonly queue: QueuedBlock[] = [];
  /** Packed batches' memory, back once their INSERT has started. */
  private readonly blobs = new BlobPool();
  private readonly builder;
  private readonly rejects;
  /** The partition's ids seen so far: a compact hash filter, not a Set of the strings (IdHashSet.ts). */
  private readonly seen: IdHashSet;
  /** The rows' business keys, normalised (KeyCheck): false once two rows may share one. */
  private readonly keys: IdHashSet;
  keysUnique = true;
  readonly suspects: Suspect[] = [];
  /** Carried rows not yet handed out. */
  private carried = new CarriedRuns();
  readonly maxQueued: number;
  /** The blocks' bytes, reused once a block is handed out: at most maxQueued blocks are held at once,
   * besides those read ahead. */
  readonly blockMemory: BlobPool;

  constructor(
    private readonly partition: PartitionToLoad,
    private readonly opts: FastPreparerOptions,
  ) {
    this.maxQueued = QUEUED_HERE + (opts.workers?.capacity ?? 0);
    this.blockMemory = new BlobPool(this.maxQueued + 1);
    this.builder = rowBatchBuilder(partition.entity, opts.batchRows, (size) => this.blobs.take(size));
    this.rejects = rejectBatchBuilder(opts.batchRows);
    this.seen = new IdHashSet(partition.manifest.rows);
    this.keys = new IdHashSet(partition.manifest.rows);
  }

  /** Notes the business key of a row that goes into the partition, by its two hashes. */
  addKey(h1: number, h2: number): void {
    if (!this.keys.addHashes(h1, h2)) this.keysUnique = false;
  }

  get length(): number {
    return this.queue.length;
  }

  /** True when the head block is prepared, or the queue is full (then the head is waited for). */
  get headDue(): boolean {
    return this.queue.length > 0 && (this.queue[0].done || this.queue.length >= this.maxQueued);
  }

  /** A block prepared on this thread, its packed memory back to `blobs` once the INSERT has started. */
  private prepareHere(lines: LakeLines, lakeLines: Int32Array, skip?: ReadonlySet<number>): PreparedBlock {
    const block = prepareBlock(this.partition.entity, lines, this.builder, lakeLines, skip);
    const memory = block.batch?.packed?.blob.buffer as ArrayBuffer | undefined;
    return memory ? { ...block, batch: { ...block.batch!, release: () => this.blobs.give(memory) } } : block;
  }

  /**
   * Queues a block whose first line is lake line `firstLine`, less the lines `match` carries: to a
   * worker with room, else prepared here now.
   */
  add(block: LakeBlock, firstLine: number, match?: BlockMatch): void {
    const toPrepare = match?.rest ?? block;
    const lakeLines = lakeLinesOf(firstLine, block.lines, match);
    const queued = { block, firstLine, match };
    if (toPrepare.lines === 0) {
      this.queue.push({ ...queued, prepared: NOTHING_PREPARED, done: true });
      return;
    }
    const promise = this.opts.workers?.tryPrepare(this.partition.entity, { ...toPrepare, lakeLines });
    if (!promise) {
      this.queue.push({ ...queued, prepared: this.prepareHere(decodeLines(toPrepare.bytes), lakeLines), done: true });
      return;
    }
    // A worker that fails or dies leaves the block to this thread: the workers only make a load faster.
    const prepared = promise.catch((err: unknown) => {
      if (err instanceof PrepareWorkerError) return this.prepareHere(decodeLines(toPrepare.bytes), lakeLines);
      throw err;
    });
    const entry: QueuedBlock = { ...queued, prepared, done: false };
    const done = (): void => void (entry.done = true);
    prepared.then(done, done);
    this.queue.push(entry);
  }

  /**
   * The batches of the head block: its carried rows and its prepared ones, their ids checked for
   * repeats in lake order (a carried line whose id came earlier is prepared instead, as a suspect).
   */
  async *handOut(): AsyncGenerator<PreparedBatch> {
    const { block: read, firstLine, match, prepared, done } = this.queue.shift()!;
    const block = done ? await prepared : await unlessAborted(prepared as Promise<PreparedBlock>, this.partition.signal);
    for (const reject of block.rejects) {
      const full = this.rejects.add([reject[0], reject[1]]);
      if (full) yield { into: 'rejects', batch: full };
    }
    const rows = block.lineOf.length;
    const carriedLines = match?.lineIndex.length ?? 0;
    const previous = this.partition.previous;
    const carried = this.carried;
    let repeated: Set<number> | undefined;
    let repeatedCarried: number[] | undefined;
    // Prepared rows and carried lines, merged in lake order: the first of an id wins.
    for (let k = 0, c = 0; k < rows || c < carriedLines; ) {
      const rowAt = k < rows ? (match ? match.restIndex[block.lineOf[k]] : block.lineOf[k]) : Infinity;
      const carriedAt = c < carriedLines ? match!.lineIndex[c] : Infinity;
      if (rowAt < carriedAt) {
        if (!this.seen.addHashes(block.idHashes[2 * k], block.idHashes[2 * k + 1])) (repeated ??= new Set()).add(block.lineOf[k]);
        else this.addKey(block.keyHashes[2 * k], block.keyHashes[2 * k + 1]);
        k++;
      } else {
        const j = match!.previousLine[c++];
        if (this.seen.addHashes(previous!.idHashes[2 * j], previous!.idHashes[2 * j + 1])) {
          carried.add(previous!.rowids[j], j, firstLine + carriedAt);
          this.addKey(previous!.keyHashes[2 * j], previous!.keyHashes[2 * j + 1]);
        } else (repeatedCarried ??= []).push(carriedAt);
      }
    }
    const held: Array<{ readonly at: number; readonly line: string; readonly lakeLine: number }> = [];
    if (repeatedCarried) {
      const lines = decodeLines(read.bytes);
      for (const i of repeatedCarried) held.push({ at: i, line: lines[i], lakeLine: firstLine + i });
    }
    let batch = block.batch;
    if (repeated) {
      // Rare: the batch must go without those rows; prepare the block again here, leaving them out.
      const lines = decodeLines((match?.rest ?? read).bytes);
      const lakeLines = lakeLinesOf(firstLine, read.lines, match);
      for (const i of repeated) held.push({ at: match ? match.restIndex[i] : i, line: lines[i], lakeLine: lakeLines[i] });
      batch = this.prepareHere(lines, lakeLines, repeated).batch;
    }
    // In lake order: of two suspects with one id, the first becomes the row.
    held.sort((a, b) => a.at - b.at);
    for (const h of held) this.suspect(h.line, h.lakeLine);
    this.blockMemory.give(read.bytes.buffer as ArrayBuffer);
    if (carried.size >= CARRIED_PER_STATEMENT) yield this.takeCarried()!;
    if (batch) yield { into: 'rows', batch };
  }

  /** The carried rows not yet handed out, as one batch (undefined when none). */
  takeCarried(): PreparedBatch | undefined {
    if (this.carried.size === 0) return undefined;
    const batch = this.carried.batch();
    this.carried = new CarriedRuns();
    return { into: 'carried', batch };
  }

  /** Holds a valid line whose id was probably seen, failing the load when too many are held. */
  private suspect(line: string, lakeLine: number): void {
    const { entity, ds, manifest } = this.partition;
    this.suspects.push({ line, row: (parseLine(entity, line) as { row: ValidRow }).row, lakeLine });
    // The slack covers the filter's false hits (normally none: see IdHashSet).
    const max = this.opts.maxRejectShare === undefined ? Infinity : Math.floor(this.opts.maxRejectShare * manifest.rows) + 100;
    if (this.suspects.length > max) {
      throw new NonRetryableError(
        `load of ${entity} for ${ds}: more than ${max} rows repeat an id seen earlier in the partition, ` +
          `more than the allowed reject share: nothing is loaded; look for repeated pages in the lake partition`,
      );
    }
  }

  /** The last, partly filled reject batch. */
  lastRejects(): PreparedBatch | undefined {
    const batch = this.rejects.take();
    return batch ? { into: 'rejects', batch } : undefined;
  }
}

export class FastPartitionPreparer implements PartitionPreparer {
  constructor(private readonly opts: FastPreparerOptions) {
    if (!Number.isInteger(opts.batchRows) || opts.batchRows < 1) throw new RangeError(`batchRows '${opts.batchRows}' is not a positive integer`);
  }

  async *prepare(partition: PartitionToLoad, inserted: (ids: readonly string[]) => Promise<ReadonlySet<string>>): AsyncGenerator<PreparedBatch> {
    // The workers run while a load uses them; without them (they failed to start) the load prepares alone.
    const release = await this.opts.workers?.lease().catch(() => undefined);
    try {
      yield* this.prepareWith(partition, inserted);
    } finally {
      release?.();
    }
  }

  private async *prepareWith(partition: PartitionToLoad, inserted: (ids: readonly string[]) => Promise<ReadonlySet<string>>): AsyncGenerator<PreparedBatch> {
    const queue = new BlockQueue(partition, this.opts);
    const { lakeDir, entity, ds, manifest, previous } = partition;
    const allocate = (size: number): Buffer => queue.blockMemory.take(size);
    const matcher = previous && new CarryMatcher(previous, lakeDir, this.opts.batchRows, READ_AHEAD);
    try {
      let firstLine = 0;
      for await (const block of readLakeBlocks(lakeDir, entity, ds, { manifest, linesPerBlock: this.opts.batchRows, allocate, readAhead: READ_AHEAD })) {
        queue.add(block, firstLine, matcher && (await this.fromPrevious(matcher, matcher.match(block))));
        firstLine += block.lines;
        // Hand out what is ready in order; wait for the head only when the queue is full.
        while (queue.headDue) yield* queue.handOut();
      }
      while (queue.length > 0) yield* queue.handOut();
      // Every part of the previous lake partition checked against its checksum before the rows copied
      // against it can commit.
      if (matcher) await this.fromPrevious(matcher, matcher.finish());
    } finally {
      await matcher?.close();
    }
    const carried = queue.takeCarried();
    if (carried) yield carried;
    const last = queue.lastRejects();
    if (last) yield last;
    if (queue.suspects.length > 0) yield* this.decide(partition, queue, inserted);
    if (partition.keys) partition.keys.unique = queue.keysUnique;
  }

  /** `work` on the previous lake partition; that partition unreadable is a CarrySourceError. */
  private async fromPrevious<T>(matcher: CarryMatcher, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (err instanceof LakePartitionError) throw new CarrySourceError(matcher.entity, matcher.ds, err.message, { cause: err });
      throw err;
    }
  }

  /** Suspects decided exactly: a duplicate when the id is really in the partition already, else a row. */
  private async *decide(partition: PartitionToLoad, queue: BlockQueue, inserted: (ids: readonly string[]) => Promise<ReadonlySet<string>>): AsyncGenerator<PreparedBatch> {
    const { entity } = partition;
    const { suspects } = queue;
    const key = new Uint32Array(2);
    const ids = new Set(await inserted([...new Set(suspects.map((s) => s.row.id as string))]));
    const rows = rowBatchBuilder(entity, this.opts.batchRows);
    const rejects = rejectBatchBuilder(this.opts.batchRows);
    for (const s of suspects) {
      const id = s.row.id as string;
      if (ids.has(id)) {
        const full = rejects.add([s.line, duplicateReason(id)]);
        if (full) yield { into: 'rejects', batch: full };
      } else {
        ids.add(id);
        IdHashSet.hash(normalise(id), key, 0);
        queue.addKey(key[0], key[1]);
        const full = rows.add(rowValues(entity, s.row, s.lakeLine));
        if (full) yield { into: 'rows', batch: full };
      }
    }
    const lastRows = rows.take();
    if (lastRows) yield { into: 'rows', batch: lastRows };
    const lastRejects = rejects.take();
    if (lastRejects) yield { into: 'rejects', batch: lastRejects };
  }
}

/**
 * A preparer for the process's loads, sharing `prepareWorkers` worker threads (0: none). Workers that
 * fail to start are logged and done without: they only make the load faster.
 */
export async function fastPartitionPreparer(opts: { batchRows: number; prepareWorkers: number; maxRejectShare: number }, log: Logger): Promise<PartitionPreparer> {
  let workers: PrepareWorkerPool | undefined;
  if (opts.prepareWorkers > 0) {
    try {
      workers = await sharedPrepareWorkerPool(opts.prepareWorkers, opts.batchRows);
    } catch (err) {
      log.warn(`load prepare workers did not start, preparing on the load's own thread: ${(err as Error).message}`);
    }
  }
  return new FastPartitionPreparer({ batchRows: opts.batchRows, workers, maxRejectShare: opts.maxRejectShare });
}
