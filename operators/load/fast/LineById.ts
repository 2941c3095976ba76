/**
 * The previous partition's lake lines by their row's id (CarryMatcher.ts looks a line up by its id when
 * the merge loses its place): open addressing over the id's two {@link IdHashSet.hash}es, 4 bytes a
 * slot, the hashes themselves kept once in PreviousPartition.idHashes.
 */
import { IdHashSet } from './IdHashSet.js';
import type { PreviousPartition } from './PreviousPartition.js';

export class LineById {
  /** line + 1 per slot, 0 when empty. */
  private readonly slots: Int32Array;
  private readonly scratch = new Uint32Array(2);

  constructor(private readonly previous: PreviousPartition) {
    const { rowids, idHashes } = previous;
    let size = 16;
    while (size < rowids.length * 2) size *= 2;
    this.slots = new Int32Array(size);
    const mask = size - 1;
    for (let j = 0; j < rowids.length; j++) {
      if (rowids[j] < 0) continue;
      let s = LineById.home(idHashes[2 * j]) & mask;
      while (this.slots[s] !== 0) s = (s + 1) & mask;
      this.slots[s] = j + 1;
    }
  }

  private static home(h1: number): number {
    const h = Math.imul(h1 ^ (h1 >>> 16), 0x45d9f3b);
    return h ^ (h >>> 16);
  }

  /** The previous line whose row has the id of the JSON line bytes[from, to), or -1. */
  lineOf(bytes: Buffer, from: number, to: number): number {
    let id: unknown;
    try {
      id = (JSON.parse(bytes.toString('utf8', from, to)) as { id?: unknown } | null)?.id;
    } catch {
      return -1;
    }
    if (typeof id !== 'string') return -1;
    IdHashSet.hash(id, this.scratch, 0);
    const [h1, h2] = this.scratch;
    const { idHashes } = this.previous;
    const mask = this.slots.length - 1;
    for (let s = LineById.home(h1) & mask; this.slots[s] !== 0; s = (s + 1) & mask) {
      const j = this.slots[s] - 1;
      if (idHashes[2 * j] === h1 && idHashes[2 * j + 1] === h2) return j;
    }
    return -1;
  }
}
