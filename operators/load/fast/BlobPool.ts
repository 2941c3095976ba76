/**
 * Reusable memory for packed batches. node-sqlite3 copies a bound blob when the statement is run, so a
 * batch's bytes are free again as soon as its INSERT has started. A fresh buffer per batch instead
 * lives until a full GC once it survives two young-generation GCs, which batches queued for a few
 * milliseconds behind a worker do, and the peak RSS grows with them (docs/design/load-fast-path.md).
 */
export class BlobPool {
  private readonly free: ArrayBuffer[] = [];

  /** `keep`: buffers held for reuse at most (more given back are dropped to the GC). */
  constructor(private readonly keep = 8) {}

  /** A buffer of exactly `size` bytes, on a free ArrayBuffer big enough or a new one (with room to grow). */
  take(size: number): Buffer {
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].byteLength >= size) {
        const ab = this.free[i];
        this.free[i] = this.free[this.free.length - 1];
        this.free.pop();
        return Buffer.from(ab, 0, size);
      }
    }
    return Buffer.from(new ArrayBuffer(Math.ceil((size * 5) / 4)), 0, size);
  }

  /** Hands a taken buffer's memory back for reuse (its views must no longer be used). */
  give(memory: ArrayBuffer): void {
    if (this.free.length < this.keep && memory.byteLength > 0) this.free.push(memory);
  }
}
