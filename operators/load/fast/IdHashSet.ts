/**
 * A compact membership filter for a partition's ids: open-addressing tables of 32-bit fingerprints
 * (two 32-bit slots per id at load factor 1/2), far smaller than a Set of the id strings
 * (docs/design/load-fast-path.md). An id's first hash picks its home slot, its second is the
 * fingerprint stored there. A hit means "this id was PROBABLY seen" (a false hit needs an equal 31-bit
 * fingerprint within the few slots probed, which is rare); the load confirms hits exactly against the
 * rows it inserted, so a false hit never rejects a valid row.
 */
export class IdHashSet {
  /** The tables, each twice the size of the one before; ids go into the last. A fingerprint cannot be
   * moved to a bigger table (its home slot came from the other hash), so more ids than expected get a
   * new table instead, and lookups check them all. */
  private readonly tables: Uint32Array[] = [];
  private count = 0;
  private readonly scratch = new Uint32Array(2);

  /** `expected`: about how many ids will be added (a new table is added if more come). */
  constructor(expected: number) {
    let slots = 16;
    while (slots < expected * 2) slots *= 2;
    this.tables.push(new Uint32Array(slots));
  }

  /**
   * Writes the id's two 32-bit hashes to `out[at]` and `out[at + 1]`: FNV-1a and a multiplicative one,
   * the second odd (0 marks an empty slot). Apart from {@link addHashes} so a prepare worker can hash
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
    const last = this.tables.length - 1;
    for (let t = 0; t < last; t++) {
      if (IdHashSet.probe(this.tables[t], h1, h2) < 0) return false;
    }
    const table = this.tables[last];
    const slot = IdHashSet.probe(table, h1, h2);
    if (slot < 0) return false;
    table[slot] = h2;
    if (++this.count * 2 > table.length) {
      this.tables.push(new Uint32Array(table.length * 2));
      this.count = 0;
    }
    return true;
  }

  /** The empty slot where the fingerprint `h2` of home `h1` goes, or -1 when it is in `table`. */
  private static probe(table: Uint32Array, h1: number, h2: number): number {
    const mask = table.length - 1;
    // FNV-1a's low bits alone spread poorly: fold the high half in before masking.
    const home = Math.imul(h1 ^ (h1 >>> 16), 0x45d9f3b);
    for (let slot = (home ^ (home >>> 16)) & mask; ; slot = (slot + 1) & mask) {
      const f = table[slot];
      if (f === 0) return slot;
      if (f === h2) return -1;
    }
  }
}
