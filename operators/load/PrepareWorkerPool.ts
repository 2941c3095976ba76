/**
 * Worker threads that prepare blocks of lake lines for the load (blockPreparer.ts), so a load's
 * JavaScript (parsing, validation, MD5, packing: ~5 us a row, more than SQLite's insert) runs on two
 * cores instead of one. The load hands a block to a worker when one has room and prepares it itself
 * otherwise, so a busy or slow worker never stalls it.
 *
 * The workers run the preparation code bundled by esbuild into plain JavaScript: started through tsx,
 * a worker costs ~95 MB instead of ~45 MB (measured). The pool is shared by the process's loads and
 * does not keep the process alive.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Entity } from '../../scheduler/settings.js';
import type { InsertBatch } from './BatchBuilder.js';
import type { PreparedBlock } from './blockPreparer.js';
import type { PackedBatch } from './packedBatch.js';
import type { PrepareRequest } from './prepareWorker.js';

/** Blocks a worker may hold (one being prepared, one waiting): enough to never leave it idle. */
const BLOCKS_PER_WORKER = 2;
/** The workers' young generation: V8's default (16 MB semi-spaces here) cost ~20 MB more peak RSS in the
 * ingest bench than 8 MB, at no measurable speed. */
const YOUNG_GENERATION_MB = 8;

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prepareWorker.ts');

let bundle: Promise<string> | undefined;

/** The worker's code as one script (built once per process); an IIFE, since an eval'd worker's top level is the global scope. */
function workerCode(): Promise<string> {
  bundle ??= import('esbuild')
    .then((esbuild) =>
      esbuild.build({ entryPoints: [ENTRY], bundle: true, platform: 'node', format: 'iife', target: 'node20', write: false, logLevel: 'silent' }),
    )
    .then((r) => r.outputFiles[0].text);
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

interface Pending {
  resolve(block: PreparedBlock): void;
  reject(err: Error): void;
}

/** One worker thread and its requests in flight. */
class PrepareThread {
  readonly pending = new Map<number, Pending>();
  /** Packed batches' memory the load is done with, moved back with the next request. */
  readonly returned: ArrayBuffer[] = [];
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.unref();
    worker.on('message', (msg: { id: number; block?: PreparedBlock; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error !== undefined) p.reject(new Error(`load prepare worker: ${msg.error}`));
      else p.resolve(this.revive(msg.block!));
    });
    worker.on('error', (err) => this.fail(new Error(`load prepare worker failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => this.fail(new Error(`load prepare worker exited with code ${code}`)));
  }

  /** False once the thread failed or exited: the pool replaces it. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /** A block as the load uses it: the moved blob a Buffer again (node-sqlite3 binds Buffers), whose
   * memory comes back here once its INSERT has started. */
  private revive(block: PreparedBlock): PreparedBlock {
    const packed = block.batch?.packed;
    if (!packed) return block;
    const memory = packed.blob.buffer as ArrayBuffer;
    const blob = Buffer.from(memory, packed.blob.byteOffset, packed.blob.byteLength);
    const batch: InsertBatch = { ...block.batch!, packed: { ...packed, blob } satisfies PackedBatch, release: () => this.returned.push(memory) };
    return { ...block, batch };
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}

let nextId = 1;

export class PrepareWorkerPool {
  private threads: PrepareThread[] = [];
  private starting: Promise<void> | undefined;
  private closed = false;
  /** Blocks handed to the workers (a load prepares the others on its own thread). */
  blocksSent = 0;

  /** `size`: worker threads (at least 1). */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`PrepareWorkerPool size '${size}' is not a positive integer`);
  }

  /** Starts the threads that are not running (after a failure too); resolves when they can take work. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('the load prepare worker pool is closed');
    this.threads = this.threads.filter((t) => t.alive);
    if (this.threads.length >= this.size) return;
    this.starting ??= (async () => {
      const code = await workerCode();
      while (this.threads.length < this.size) {
        this.threads.push(new PrepareThread(new Worker(code, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } })));
      }
    })().finally(() => (this.starting = undefined));
    await this.starting;
  }

  /**
   * Sends the block to a worker with room and returns its prepared form to come; undefined when every
   * worker is full (or none is running): the caller prepares the block itself.
   */
  tryPrepare(entity: Entity, batchRows: number, lines: readonly string[]): Promise<PreparedBlock> | undefined {
    let best: PrepareThread | undefined;
    for (const t of this.threads) {
      if (t.alive && t.pending.size < BLOCKS_PER_WORKER && (!best || t.pending.size < best.pending.size)) best = t;
    }
    if (!best) return undefined;
    const id = nextId++;
    const thread = best;
    this.blocksSent++;
    return new Promise<PreparedBlock>((resolve, reject) => {
      // Referenced while it owes an answer: an idle pool must not keep the process alive, but a load
      // awaiting a block must not see the process exit under it.
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, { resolve, reject });
      const returned = thread.returned.splice(0);
      thread.worker.postMessage({ id, entity, batchRows, lines, returned } satisfies PrepareRequest, returned);
    });
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

/** The process's pool of `size` threads (one pool per process; a different size replaces it). */
export async function sharedPrepareWorkerPool(size: number): Promise<PrepareWorkerPool> {
  if (shared && shared.size !== size) {
    await shared.close();
    shared = undefined;
  }
  shared ??= new PrepareWorkerPool(size);
  await shared.start();
  return shared;
}

/** Stops the shared pool (tests, shutdown); the next load starts a new one. */
export async function closeSharedPrepareWorkerPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
