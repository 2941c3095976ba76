/**
 * Collects row byte spans as NDJSON (each row, then '\n') in one growing buffer, so a page reaches
 * the lake's gzip stream as one large write instead of a string per row. Reusable after clear():
 * allocating megabytes of fresh buffer per page made the GC a top cost of the extract.
 */
export class NdjsonBuffer {
  private buf: Buffer;
  private length = 0;
  /** Rows collected since the last clear(). */
  rows = 0;

  /** `initialBytes`: starting capacity (it doubles as needed). */
  constructor(private readonly initialBytes = 256 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes collected since the last clear(). */
  get bytes(): number {
    return this.length;
  }

  /** Appends bytes [start, end) of `src` as one line; raw CR/LF inside (`newlines`) become spaces,
   * which JSON allows between tokens, so one row stays one line. */
  add(src: Uint8Array, start: number, end: number, newlines: boolean): void {
    const size = end - start;
    if (this.length + size + 1 > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + size + 1) cap *= 2;
      const grown = Buffer.allocUnsafe(cap);
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    const at = this.length;
    this.buf.set(src.subarray(start, end), at);
    if (newlines) {
      for (let k = at; k < at + size; k++) if (this.buf[k] === 10 || this.buf[k] === 13) this.buf[k] = 32;
    }
    this.buf[at + size] = 10;
    this.length = at + size + 1;
    this.rows++;
  }

  /** What was collected, as a view: valid until clear() (hand the buffer back only once the consumer,
   * e.g. the gzip stream, is done with it; see the extract's buffer pool). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Forgets what was collected (a retried request). */
  clear(): void {
    this.length = 0;
    this.rows = 0;
  }
}
