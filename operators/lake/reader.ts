/**
 * Reads a complete lake partition: refuses one without `_SUCCESS`, verifies each part's bytes, sha256
 * and row count against the manifest while streaming it. A mismatch is detected at the end of the part,
 * after its rows were handed out, so consumers must apply rows transactionally (the load does).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip, type Gunzip } from 'node:zlib';
import { LakePartitionError } from './LakePartitionError.js';
import { decodeLines } from './lines.js';
import { MANIFEST_FILE, partitionDir, type LakeManifest } from './manifest.js';

/** The manifest of a complete partition; throws {@link LakePartitionError} when there is none. */
export async function readManifest(lakeDir: string, entity: string, ds: string): Promise<LakeManifest> {
  const dir = partitionDir(lakeDir, entity, ds);
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LakePartitionError(`lake partition ${entity}/ds=${ds} is missing or incomplete (no ${MANIFEST_FILE} in '${dir}'): run the extract first`, dir);
    }
    throw err;
  }
  let manifest: LakeManifest;
  try {
    manifest = JSON.parse(text) as LakeManifest;
  } catch {
    throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${MANIFEST_FILE} is not JSON`, dir);
  }
  if (manifest.entity !== entity || manifest.ds !== ds || !Array.isArray(manifest.parts)) {
    throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${MANIFEST_FILE} describes '${manifest.entity}' ds '${manifest.ds}'`, dir);
  }
  return manifest;
}

/** A block of whole lake lines: their UTF-8 bytes, each line ending in '\n' (decodeLines in lines.ts). */
export interface LakeBlock {
  readonly bytes: Buffer;
  /** Lines in `bytes`. */
  readonly lines: number;
}

/** How {@link readLakeBlocks} cuts and stores blocks. */
export interface LakeBlockOptions {
  /** The partition's manifest, when already read. */
  readonly manifest?: LakeManifest;
  /** Lines per block (the last block of the partition may have fewer; blocks span parts). */
  readonly linesPerBlock: number;
  /** Memory for a block of `size` bytes; default a new buffer each (Buffer.allocUnsafeSlow). */
  readonly allocate?: (size: number) => Buffer;
  /**
   * Blocks read ahead of the one handed out, so that the part files are read and decompressed (on
   * libuv's threads) while the caller works on a block, not only when it asks for the next. Default 0.
   */
  readonly readAhead?: number;
}

/** The block being cut: pieces of decompressed chunks, copied into one buffer when it is full. */
class BlockCutter {
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** Lines in the block so far. */
  lines = 0;

  constructor(private readonly allocate: (size: number) => Buffer) {}

  add(piece: Buffer): void {
    this.pieces.push(piece);
    this.pieceBytes += piece.length;
  }

  /** The block so far, in one buffer; starts the next one. */
  cut(): LakeBlock {
    const bytes = this.allocate(this.pieceBytes);
    let at = 0;
    for (const piece of this.pieces) at += piece.copy(bytes, at);
    const block = { bytes, lines: this.lines };
    this.pieces = [];
    this.pieceBytes = 0;
    this.lines = 0;
    return block;
  }
}

/** One part file, decompressing, with the bytes and sha256 of what was read of it so far. */
class PartStream {
  readonly gunzip: Gunzip;
  readonly input: ReadStream;
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(file: string) {
    this.input = createReadStream(file, { highWaterMark: 256 * 1024 });
    this.input.on('data', (chunk) => {
      this.bytes += chunk.length;
      this.hash.update(chunk as Buffer);
    });
    // Output chunks larger than zlib's default, which costs a callback and more pieces per block
    // (docs/design/lake-format.md).
    this.gunzip = createGunzip({ chunkSize: 64 * 1024 });
    this.input.on('error', (err) => this.gunzip.destroy(err));
    this.input.pipe(this.gunzip);
  }

  /** The sha256 of the file's bytes, once it has been read whole. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * The lines of a complete partition, in order, verified, in blocks of `linesPerBlock` lines as bytes.
 * Bytes rather than strings: a block can go to another thread as it is, and text decoded only where it
 * is parsed dies young (strings held across young-generation GCs were most of what the load's thread
 * promoted to its old generation).
 */
export function readLakeBlocks(lakeDir: string, entity: string, ds: string, opts: LakeBlockOptions): AsyncGenerator<LakeBlock> {
  const blocks = cutBlocks(lakeDir, entity, ds, opts);
  return opts.readAhead ? readingAhead(blocks, opts.readAhead) : blocks;
}

/** `source`'s values, with up to `depth` more asked for while the caller holds one. */
async function* readingAhead<T>(source: AsyncGenerator<T>, depth: number): AsyncGenerator<T> {
  const asked: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      // An async generator queues the calls: it runs on to the next value while this one is used.
      while (asked.length <= depth) {
        const next = source.next();
        // Handled when its turn comes; until then a failure (a part not matching its checksum) must not
        // count as unhandled, which would end the process.
        next.catch(() => undefined);
        asked.push(next);
      }
      const next = await asked.shift()!;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Stopped early: what was asked ahead is not wanted, its failures included.
    await source.return(undefined);
  }
}

async function* cutBlocks(lakeDir: string, entity: string, ds: string, opts: LakeBlockOptions): AsyncGenerator<LakeBlock> {
  const { linesPerBlock, allocate = Buffer.allocUnsafeSlow } = opts;
  if (!Number.isInteger(linesPerBlock) || linesPerBlock < 1) throw new RangeError(`linesPerBlock '${linesPerBlock}' is not a positive integer`);
  const m = opts.manifest ?? (await readManifest(lakeDir, entity, ds));
  const dir = partitionDir(lakeDir, entity, ds);
  const where = { entity, ds, dir };
  const block = new BlockCutter(allocate);
  let total = 0;
  for (const part of m.parts) total += yield* readPartBlocks(where, part, linesPerBlock, block);
  if (total !== m.rows) throw new LakePartitionError(`lake partition ${entity}/ds=${ds} has ${total} rows; the manifest says ${m.rows}`, dir);
  if (block.lines > 0) yield block.cut();
}

/** The partition a part belongs to, for its errors. */
interface PartitionPlace {
  readonly entity: string;
  readonly ds: string;
  readonly dir: string;
}

/** Cuts one part's lines into `block`, yielding each block it fills, then checks the part against the manifest; returns its rows. */
async function* readPartBlocks(where: PartitionPlace, part: LakeManifest['parts'][number], linesPerBlock: number, block: BlockCutter): AsyncGenerator<LakeBlock, number> {
  const { entity, ds, dir } = where;
  const stream = new PartStream(path.join(dir, part.file));
  let rows = 0;
  let lastByte = 10;
  try {
    for await (const chunk of stream.gunzip as AsyncIterable<Buffer>) {
      if (chunk.length === 0) continue;
      lastByte = chunk[chunk.length - 1];
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) {
        rows++;
        if (++block.lines < linesPerBlock) continue;
        block.add(chunk.subarray(start, nl + 1));
        start = nl + 1;
        yield block.cut();
      }
      if (start < chunk.length) block.add(chunk.subarray(start));
    }
  } catch (err) {
    throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} is unreadable: ${(err as Error).message}`, dir);
  } finally {
    stream.input.destroy();
  }
  if (lastByte !== 10) throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} ends without a newline`, dir);
  const sha = stream.digest();
  if (stream.bytes !== part.bytes || sha !== part.sha256) {
    throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} has ${stream.bytes} bytes, sha256 ${sha}; the manifest says ${part.bytes} bytes, ${part.sha256}`, dir);
  }
  if (rows !== part.rows) throw new LakePartitionError(`lake partition ${entity}/ds=${ds}: ${part.file} has ${rows} rows; the manifest says ${part.rows}`, dir);
  return rows;
}

/** The rows of a complete partition, parsed, as an async iterable (flat memory: one chunk at a time). */
export async function* readLakePartition(lakeDir: string, entity: string, ds: string): AsyncGenerator<Record<string, unknown>> {
  // Any block size reads the same rows; 1,000 lines (a few hundred KB) keeps the memory flat.
  for await (const block of readLakeBlocks(lakeDir, entity, ds, { linesPerBlock: 1000 })) {
    for (const line of decodeLines(block.bytes)) yield JSON.parse(line) as Record<string, unknown>;
  }
}
