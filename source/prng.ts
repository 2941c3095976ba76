/**
 * A small seeded PRNG (mulberry32) and a 32-bit mixer, so the generator is deterministic and row i
 * can be computed on its own: each row seeds its own stream from (seed, entity, i).
 */

/** Two-digit hex strings of 0..255: building ids from a table is much cheaper than toString(16)+padStart. */
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Mixes integers into one well-spread 32-bit seed (murmur3's finaliser over a running hash). */
export function mix32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A mulberry32 stream: `next()` in [0, 1), plus helpers the generator needs. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** A uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** `n` lowercase hex digits (n even). */
  hex(n: number): string {
    let s = '';
    for (let k = 0; k < n; k += 2) s += HEX2[this.nextU32() & 255];
    return s;
  }
}
