/**
 * Worker threads that prepare blocks of lake lines for the load (blockPreparer.ts), so a load's
 * JavaScript (parsing, validation, MD5, packing: more CPU a row than SQLite's insert) runs on two
 * cores instead of one. The load hands a block to a worker when one has room and prepares it itself
 * otherwise, so a busy or slow worker never stalls it.
 *
 * The workers run the preparation code bundled by esbuild into plain JavaScript: started through tsx,
 * a worker costs far more memory (docs/design/load-fast-path.md). The pool is shared by the process's loads and
 * does not keep the process alive.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Entity } from '../../entities.js';
import type { BlockToPrepare, PreparedBlock } from './blockPreparer.js';
import { PrepareThread } from './PrepareThread.js';
import type { PrepareWorkerData } from './prepareWorker.js';

/** Blocks a worker may hold (one being prepared, one waiting): enough to never leave it idle. */
const BLOCKS_PER_WORKER = 2;
/** The workers' young generation: V8's default cost more peak RSS in the ingest bench than 8 MB, at no
 * measurable speed (docs/design/load-fast-path.md). */
const YOUNG_GENERATION_MB = 8;
/**
 * The workers' old generation, from the block size. A worker holds one block at a time, but without a
 * limit V8 lets garbage grow its heap well past that before a full GC, which showed in the ingest
 * bench's peak RSS at no gain in speed (docs/design/load-fast-path.md). 8 KB of heap a line leaves
 * room for rows far longer than the source's.
 */
function oldGenerationMb(batchRows: number): number {
  return 24 + Math.ceil((batchRows * 8) / 1024);
}

/**
 * Share of a worker's old generation a block's bytes may take to be sent to it. Preparing a block holds
 * its text, the parsed rows and their packed batch at once, several times its bytes; a block over this
 * (a row of tens of MB) is prepared on the load's own thread: over its heap limit, a worker took the
 * whole process down.
 */
const MAX_BLOCK_SHARE = 1 / 8;

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prepareWorker.ts');

let bundle: Promise<string> | undefined;

/**
 * The worker's code as one script (built once per process); an IIFE, since an eval'd worker's top level
 * is the global scope. esbuild's build runs in a service process of its own (~40 MB resident), which
 * would stay for the process's life: it is stopped once the script is built. tsx's transforms do not
 * use it (they run in tsx's loader, with a service of their own), and a later build starts a new one.
 */
function workerCode(): Promise<string> {
  bundle ??= import('esbuild').then(async (esbuild) => {
    try {
      const r = await esbuild.build({ entryPoints: [ENTRY], bundle: true, platform: 'node', format: 'iife', target: 'node20', write: false, logLevel: 'silent' });
      return r.outputFiles[0].text;
    } finally {
      await esbuild.stop();
    }
  });
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

let nextId = 1;

export class PrepareWorkerPool {
  private threads: PrepareThread[] = [];
  private starting: Promise<void> | undefined;
  private closed = false;
  /** Loads using the threads now ({@link lease}). */
  private leases = 0;
  /** Blocks handed to the workers (a load prepares the others on its own thread). */
  blocksSent = 0;

  constructor(
    /** Worker threads (at least 1). */
    readonly size: number,
    /** Lines per block the loads will send (their batch size): sizes the workers' heaps. */
    readonly batchRows: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`PrepareWorkerPool size '${size}' is not a positive integer`);
    if (!Number.isInteger(batchRows) || batchRows < 1) throw new RangeError(`PrepareWorkerPool batchRows '${batchRows}' is not a positive integer`);
  }

  /** The largest block a worker is sent (its bytes); larger ones stay with the load's thread. */
  get maxBlockBytes(): number {
    return oldGenerationMb(this.batchRows) * 1024 * 1024 * MAX_BLOCK_SHARE;
  }

  /** Blocks sent to the workers and not answered yet. */
  get inFlight(): number {
    return this.threads.reduce((n, t) => n + t.pending.size, 0);
  }

  /** Threads running now (none between loads: {@link lease}). */
  get running(): number {
    return this.threads.filter((t) => t.alive).length;
  }

  /** Blocks the workers take at once (a load queues that many besides its own). */
  get capacity(): number {
    return this.size * BLOCKS_PER_WORKER;
  }

  /** Starts the threads that are not running (after a failure too); resolves when they can take work. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('the load prepare worker pool is closed');
    this.threads = this.threads.filter((t) => t.alive);
    if (this.threads.length >= this.size) return;
    this.starting ??= (async () => {
      const code = await workerCode();
      while (this.threads.length < this.size) {
        const { port1, port2 } = new MessageChannel();
        const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: oldGenerationMb(this.batchRows) };
        const worker = new Worker(code, { eval: true, workerData: { answers: port2 } satisfies PrepareWorkerData, transferList: [port2], resourceLimits });
        this.threads.push(new PrepareThread(worker, port1));
      }
    })().finally(() => (this.starting = undefined));
    await this.starting;
  }

  /**
   * Sends the block to a worker with room and returns its prepared form to come; undefined when every
   * worker is full (or none is running): the caller prepares the block itself.
   */
  tryPrepare(entity: Entity, block: BlockToPrepare): Promise<PreparedBlock> | undefined {
    if (block.lines > this.batchRows) throw new RangeError(`a block of ${block.lines} lines is over the pool's ${this.batchRows}`);
    if (block.bytes.length > this.maxBlockBytes) return undefined;
    let best: PrepareThread | undefined;
    for (const t of this.threads) {
      t.poll();
      if (t.alive && t.pending.size < BLOCKS_PER_WORKER && (!best || t.pending.size < best.pending.size)) best = t;
    }
    if (!best) return undefined;
    this.blocksSent++;
    return best.prepare(nextId++, entity, this.batchRows, block);
  }

  /**
   * Marks the threads in use by one load until the returned function is called; the pool starts them
   * if they are not running. When the last load lets go, the threads stop: an idle worker keeps its
   * heap (~45 MB resident) through the vault's models, when the process peaks, and the next load
   * starts it again in milliseconds (its code is bundled once per process).
   */
  async lease(): Promise<() => void> {
    this.leases++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--this.leases === 0) this.stopThreads();
    };
    try {
      await this.start();
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** Stops the running threads at once (they are out of the pool before they exit); start() makes new ones. */
  private stopThreads(): void {
    const threads = this.threads;
    this.threads = [];
    for (const t of threads) void t.worker.terminate();
  }

  /** Stops the threads; blocks in flight are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => {});
    const threads = this.threads;
    this.threads = [];
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}

let shared: PrepareWorkerPool | undefined;

/** The process's pool of `size` threads for blocks of `batchRows` lines (one pool per process; other
 * settings replace it). */
export async function sharedPrepareWorkerPool(size: number, batchRows: number): Promise<PrepareWorkerPool> {
  if (shared && (shared.size !== size || shared.batchRows !== batchRows)) {
    await shared.close();
    shared = undefined;
  }
  shared ??= new PrepareWorkerPool(size, batchRows);
  await shared.start();
  return shared;
}

/** Stops the shared pool (tests, shutdown); the next load starts a new one. */
export async function closeSharedPrepareWorkerPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
