/**
 * One load prepare worker thread (PrepareWorkerPool.ts) and the blocks it owes: answers are matched to
 * requests by id, and a thread that fails or exits rejects every block it held.
 *
 * Answers come on a port of their own, which {@link PrepareThread.poll} reads synchronously. A load
 * preparing blocks itself does not return to the event loop between blocks (its generator resumes in
 * microtasks), so answers delivered only as events waited behind it and the worker looked full while
 * idle, getting far fewer than half the blocks (docs/design/load-fast-path.md).
 */
import { receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import type { Entity } from '../../entities.js';
import type { InsertBatch } from './BatchBuilder.js';
import type { BlockToPrepare, PreparedBlock } from './blockPreparer.js';
import { BlobPool } from './BlobPool.js';
import type { PackedBatch } from './packedBatch.js';
import { PrepareWorkerError } from './PrepareWorkerError.js';
import type { PrepareAnswer, PrepareRequest } from './prepareWorker.js';

/** A block's promise, to settle with the thread's answer. */
export interface Pending {
  resolve(block: PreparedBlock): void;
  reject(err: Error): void;
}

/** One worker thread and its requests in flight. */
export class PrepareThread {
  readonly pending = new Map<number, Pending>();
  /** Packed batches' memory the load is done with, moved back with the next request. */
  readonly returned: ArrayBuffer[] = [];
  /** Memory that carries blocks to the worker and comes back with its answers (a worker holds at most
   * BLOCKS_PER_WORKER = 2 blocks; 4 leaves room should that grow). */
  private readonly carriers = new BlobPool(4);
  private failure: Error | undefined;

  constructor(
    readonly worker: Worker,
    /** The port the worker answers on (the other end of a MessageChannel it was given). */
    private readonly answers: MessagePort,
  ) {
    worker.unref();
    answers.on('message', (msg: PrepareAnswer) => this.settle(msg));
    // After the listener, which refs the port: the port never keeps the process alive itself; the
    // worker is referenced while it owes answers.
    answers.unref();
    const id = worker.threadId;
    worker.on('error', (err) => this.fail(new PrepareWorkerError(`load prepare worker ${id} crashed: ${err.message}`, id, { cause: err })));
    answers.on('messageerror', (err) => this.fail(new PrepareWorkerError(`load prepare worker ${id} sent an unreadable answer: ${err.message}`, id, { cause: err })));
    worker.on('exit', (code) => this.fail(new PrepareWorkerError(`load prepare worker ${id} exited with code ${code}`, id)));
  }

  /** Settles the blocks the worker has answered so far, without waiting for the event loop. */
  poll(): void {
    try {
      for (let m = receiveMessageOnPort(this.answers); m; m = receiveMessageOnPort(this.answers)) this.settle(m.message as PrepareAnswer);
    } catch (err) {
      // An answer that cannot be read throws here instead of emitting 'messageerror': the thread fails
      // and its blocks go back to the load, as with the event.
      const id = this.worker.threadId;
      this.fail(new PrepareWorkerError(`load prepare worker ${id} sent an unreadable answer: ${(err as Error).message}`, id, { cause: err }));
    }
  }

  private settle(msg: PrepareAnswer): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker.unref();
    this.carriers.give(msg.bytes.buffer as ArrayBuffer);
    if ('error' in msg) p.reject(new PrepareWorkerError(`load prepare worker ${this.worker.threadId} failed a block: ${msg.error}`, this.worker.threadId));
    else p.resolve(this.revive(msg.block));
  }

  /** False once the thread failed or exited: the pool replaces it. */
  get alive(): boolean {
    return this.failure === undefined;
  }

  /**
   * Sends a copy of `block` (with the memory given back since the last one); settles with the worker's
   * answer. A copy, moved: the caller keeps its block (to prepare it itself should this thread fail),
   * and no memory is allocated per block on either side.
   */
  prepare(id: number, entity: Entity, batchRows: number, block: BlockToPrepare): Promise<PreparedBlock> {
    return new Promise<PreparedBlock>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const bytes = this.carriers.take(block.bytes.length);
      block.bytes.copy(bytes);
      const returned = this.returned.splice(0);
      try {
        this.worker.postMessage({ id, entity, batchRows, bytes, lakeLines: block.lakeLines, returned } satisfies PrepareRequest, [bytes.buffer as ArrayBuffer, ...returned]);
      } catch (err) {
        return reject(new PrepareWorkerError(`load prepare worker ${this.worker.threadId}: the block could not be sent: ${(err as Error).message}`, this.worker.threadId, { cause: err }));
      }
      // Referenced while it owes an answer: an idle pool must not keep the process alive, but a load
      // awaiting a block must not see the process exit under it.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
    });
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
    // The pool replaces a failed thread: this one must not linger (after an unreadable answer it still runs).
    this.answers.close();
    void this.worker.terminate();
  }
}
