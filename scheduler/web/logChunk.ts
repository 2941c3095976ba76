/**
 * One piece of an attempt log by byte offset, for the console's log view: from `offset` on, or the last
 * `tail` bytes, at most `limit` bytes. A piece never splits a UTF-8 character (its ends move to
 * character boundaries), and a tail starts at a line start, so pieces decode on their own and join
 * back into the file. Only the piece is read, so a 100 MB log costs what the piece costs.
 */
import { open } from 'node:fs/promises';

/** Most bytes one request returns. */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** A piece of a log file. */
export interface LogChunk {
  /** Byte offset of the piece's first byte. */
  readonly start: number;
  /** Byte offset after its last byte: where the next request continues. */
  readonly next: number;
  /** The file's size when read. */
  readonly size: number;
  readonly bytes: Buffer;
}

const isContinuation = (b: number | undefined): boolean => b !== undefined && (b & 0xc0) === 0x80;

/** Reads a piece of `file`; undefined when the file does not exist. */
export async function readLogChunk(file: string, o: { offset?: number; tail?: number; limit: number }): Promise<LogChunk | undefined> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    let start = o.tail !== undefined ? Math.max(0, size - o.tail) : Math.min(o.offset ?? 0, size);
    const limit = Math.min(o.limit, MAX_CHUNK_BYTES);
    let end = Math.min(size, start + limit);
    // Read a few bytes past the end, to see whether the end cuts a character.
    const buf = Buffer.alloc(end - start + 4);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    let bytes = buf.subarray(0, bytesRead);
    let from = 0;
    let to = Math.min(end - start, bytesRead);
    if (o.tail !== undefined && start > 0) {
      // A tail begins at the start of a line: the earlier part is loaded on demand, up to here.
      const nl = bytes.indexOf(0x0a);
      if (nl >= 0 && nl + 1 < to) from = nl + 1;
    }
    while (from < to && isContinuation(bytes[from])) from += 1;
    while (to > from && to < bytes.length && isContinuation(bytes[to])) to -= 1;
    start += from;
    end = start + (to - from);
    bytes = bytes.subarray(from, to);
    return { start, next: end, size, bytes: Buffer.from(bytes) };
  } finally {
    await fh.close();
  }
}
