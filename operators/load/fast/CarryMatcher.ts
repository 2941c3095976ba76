/**
 * Finds the lines of a lake partition that are, byte for byte, a line of the previous partition that
 * made a raw row ({@link PreviousPartition}): the load copies those rows from the previous raw
 * partition instead of parsing, validating and hashing the line again. The same bytes load as the same
 * row (the format is checked by PreviousPartition.ts), so a copy is exact; a line that matches nothing
 * is prepared as always, and a previous line is copied at most once.
 *
 * Both partitions come from the same source, mostly in the same order, so matching is a merge: a line
 * is compared with the previous partition's next few lines (a memcmp, which two lines of different rows
fail at their id). A line
 * that matches none of them (changed, new, or after lines deleted or moved) is parsed for its id, and
 * the previous line of that id, found in an index of the previous partition's id hashes, is where the
 * merge goes on: after a changed line, a deleted run, a moved line and back. Only a window of the
 * previous partition's lines is held, so a line whose previous version lies behind it, or far ahead
 * without the next line following it there, is prepared.
 */
import { readLakeBlocks, type LakeBlock } from '../../lake/reader.js';
import { LineById } from './LineById.js';
import type { PreviousPartition } from './PreviousPartition.js';

/** Previous lines compared with each line before its id is looked up. */
const NEAR = 4;
const NEWLINE = 0x0a;

/** Where each of `lines` lines of `bytes` starts, and where the last one ends (lines end in '\n'). */
function lineStarts(bytes: Buffer, lines: number): Int32Array {
  const starts = new Int32Array(lines + 1);
  let at = 0;
  for (let i = 0; i < lines; i++) {
    starts[i] = at;
    at = bytes.indexOf(NEWLINE, at) + 1;
  }
  starts[lines] = at;
  return starts;
}

/** A block of the previous partition's lines. */
interface PreviousBlock {
  readonly first: number;
  readonly bytes: Buffer;
  readonly starts: Int32Array;
}

/** What matching a block gives. */
export interface BlockMatch {
  /** Per carried line, in order: its index in the block... */
  readonly lineIndex: Int32Array;
  /** ...and the previous partition's line it equals. */
  readonly previousLine: Int32Array;
  /** The block's other lines, as a block of their own (the block itself when nothing was carried)... */
  readonly rest: LakeBlock;
  /** ...and each one's index in the block. */
  readonly restIndex: Int32Array;
}

export class CarryMatcher {
  private readonly source: AsyncGenerator<LakeBlock>;
  /** The previous partition's lines held: blocks back to one before the next line to match. */
  private blocks: PreviousBlock[] = [];
  private loaded = 0;
  private ended = false;
  /** The previous partition's line expected next. */
  private next = 0;
  /** Previous lines already copied: none is copied twice. */
  private readonly used: Uint8Array;
  private readonly byId: LineById;
  /** Lines the merge keeps ahead of the next line expected (and behind it). */
  private readonly window: number;

  constructor(
    private readonly previous: PreviousPartition,
    lakeDir: string,
    linesPerBlock: number,
    /** Blocks of the previous partition read ahead (lake/reader.ts). */
    readAhead: number,
  ) {
    const { entity, ds, manifest } = previous;
    this.source = readLakeBlocks(lakeDir, entity, ds, { manifest, linesPerBlock, readAhead });
    this.used = new Uint8Array(previous.rowids.length);
    this.byId = new LineById(previous);
    this.window = linesPerBlock;
  }

  /** The previous partition's entity and date. */
  get entity(): string {
    return this.previous.entity;
  }

  get ds(): string {
    return this.previous.ds;
  }

  /** Matches one block of the partition being loaded (blocks in lake order). */
  async match(block: LakeBlock): Promise<BlockMatch> {
    const { bytes, lines } = block;
    const starts = lineStarts(bytes, lines);
    const lineIndex = new Int32Array(lines);
    const previousLine = new Int32Array(lines);
    const restIndex = new Int32Array(lines);
    let carried = 0;
    let rest = 0;
    let restBytes = 0;
    for (let i = 0; i < lines; i++) {
      if (!this.ended && this.loaded < this.next + this.window) await this.load(this.next + this.window);
      let j = this.near(bytes, starts[i], starts[i + 1]);
      if (j < 0) j = await this.byIdMatch(bytes, starts, i, lines);
      if (j >= 0) {
        this.used[j] = 1;
        this.next = j + 1;
        lineIndex[carried] = i;
        previousLine[carried++] = j;
      } else {
        restIndex[rest++] = i;
        restBytes += starts[i + 1] - starts[i];
      }
    }
    let restBlock = block;
    if (carried > 0) {
      const out = Buffer.allocUnsafe(restBytes);
      let at = 0;
      for (let k = 0; k < rest; k++) at += bytes.copy(out, at, starts[restIndex[k]], starts[restIndex[k] + 1]);
      restBlock = { bytes: out, lines: rest };
    }
    return { lineIndex: lineIndex.slice(0, carried), previousLine: previousLine.slice(0, carried), rest: restBlock, restIndex: restIndex.slice(0, rest) };
  }

  /**
   * Reads the previous partition to its end: the reader checks each part against its checksum only
   * once it has read it whole, and rows copied against its lines must not commit before that.
   */
  async finish(): Promise<void> {
    // The matching is over: only the checks are wanted, not the lines (which would all be kept).
    this.blocks = [];
    while (!this.ended) if ((await this.source.next()).done) this.ended = true;
  }

  /** Stops reading the previous partition. */
  async close(): Promise<void> {
    await this.source.return(undefined);
  }

  /** One of the next few previous lines equal to bytes[from, to), or -1. */
  private near(bytes: Buffer, from: number, to: number): number {
    const end = Math.min(this.next + NEAR, this.loaded);
    for (let j = this.next; j < end; j++) if (this.equals(j, bytes, from, to)) return j;
    return -1;
  }

  /**
   * Line i of `bytes` by its id: the previous line of that id when equal, else -1. Either way the merge
   * goes on after that line. One far ahead of the lines held is reached only when line i + 1 follows it
   * there too (a run of deleted lines, not one line moved forward).
   */
  private async byIdMatch(bytes: Buffer, starts: Int32Array, i: number, lines: number): Promise<number> {
    const j = this.byId.lineOf(bytes, starts[i], starts[i + 1]);
    if (j < 0) return -1;
    if (j >= this.loaded) {
      if (i + 1 >= lines || this.byId.lineOf(bytes, starts[i + 1], starts[i + 2]) !== j + 1) return -1;
      this.next = j;
      await this.load(j + this.window);
      if (j >= this.loaded) return -1;
    }
    if (j < this.blocks[0].first) return -1;
    if (this.equals(j, bytes, starts[i], starts[i + 1])) return j;
    this.next = j + 1;
    return -1;
  }

  private equals(j: number, bytes: Buffer, from: number, to: number): boolean {
    if (this.used[j] === 1 || this.previous.rowids[j] < 0) return false;
    const blocks = this.blocks;
    let b = 0;
    while (blocks[b].first + blocks[b].starts.length - 1 <= j) b++;
    const { first, starts, bytes: previous } = blocks[b];
    const start = starts[j - first];
    const end = starts[j - first + 1];
    return end - start === to - from && previous.compare(bytes, from, to, start, end) === 0;
  }

  /** Reads the previous partition up to line `end` (or its end), letting go of blocks a window behind the next line. */
  private async load(end: number): Promise<void> {
    while (!this.ended && this.loaded < end) {
      const r = await this.source.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const { bytes, lines } = r.value;
      this.blocks.push({ first: this.loaded, bytes, starts: lineStarts(bytes, lines) });
      this.loaded += lines;
      let drop = 0;
      while (drop < this.blocks.length - 1 && this.blocks[drop].first + this.blocks[drop].starts.length - 1 < this.next - this.window) drop++;
      if (drop > 0) this.blocks = this.blocks.slice(drop);
    }
  }
}
