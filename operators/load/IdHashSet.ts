/**
 * A compact membership filter for a partition's ids: an open-addressing table of 64-bit string hashes
 * in one Uint32Array (16 bytes per id at load factor 1/2: ~16 MB for a million ids, against ~90 MB
 * for a Set of the id strings). A hit means "this id was PROBABLY seen"; the load confirms hits
 * exactly against the rows it inserted, so a hash collision never rejects a valid row.
 */
export class IdHashSet {
  private table: Uint32Array;
  private mask: number;
  private count = 0;
  private readonly scratch = new Uint32Array(2);

  /** `expected`: about how many ids will be added (the table grows if more come). */
  constructor(expected: number) {
    let slots = 16;
    while (slots < expected * 2) slots *= 2;
    this.table = new Uint32Array(slots * 2);
    this.mask = slots - 1;
  }

  /**
   * Writes the id's two 32-bit hashes to `out[at]` and `out[at + 1]`: FNV-1a and a multiplicative one,
   * never both 0 (which marks an empty slot). Apart from {@link addHashes} so a prepare worker can hash
   * ids and send the numbers instead of the strings.
   */
  static hash(id: string, out: Uint32Array, at: number): void {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 + c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    out[at] = h1 >>> 0;
    out[at + 1] = (h2 | 1) >>> 0;
  }

  /** Adds the id; returns false when (probably) already present. */
  add(id: string): boolean {
    IdHashSet.hash(id, this.scratch, 0);
    return this.addHashes(this.scratch[0], this.scratch[1]);
  }

  /** Adds an id given by its {@link IdHashSet.hash}es; returns false when (probably) already present. */
  addHashes(h1: number, h2: number): boolean {
    let slot = (h1 ^ Math.imul(h2, 0x27d4eb2d)) & this.mask;
    for (;;) {
      const a = this.table[slot * 2];
      const b = this.table[slot * 2 + 1];
      if (a === 0 && b === 0) break;
      if (a === h1 && b === h2) return false;
      slot = (slot + 1) & this.mask;
    }
    this.table[slot * 2] = h1;
    this.table[slot * 2 + 1] = h2;
    if (++this.count * 2 > this.mask + 1) this.grow();
    return true;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let s = 0; s < old.length; s += 2) {
      const h1 = old[s];
      const h2 = old[s + 1];
      if (h1 === 0 && h2 === 0) continue;
      let slot = (h1 ^ Math.imul(h2, 0x27d4eb2d)) & this.mask;
      while (this.table[slot * 2] !== 0 || this.table[slot * 2 + 1] !== 0) slot = (slot + 1) & this.mask;
      this.table[slot * 2] = h1;
      this.table[slot * 2 + 1] = h2;
    }
  }
}
