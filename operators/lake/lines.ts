/** Lake lines as text: a block of whole lines' UTF-8 bytes (each ending in '\n') decoded and split. */

/**
 * Bytes decoded per string. Larger strings land in V8's large-object space, which raises the ingest's
 * peak RSS; smaller ones cost more calls.
 */
const PIECE_BYTES = 64 * 1024;

/** The lines of a block, and which of them are no text: their bytes are not valid UTF-8. */
export interface LakeLines extends ReadonlyArray<string> {
  /** Index of each such line, with the reason to reject it; absent when every line is valid. Such a
   * line's text has U+FFFD where its bad bytes were, so it must not be loaded as data. */
  readonly undecodable?: ReadonlyMap<number, string>;
}

/** The lines of `bytes` (whole lines, each ending in '\n'), without their newlines. */
export function decodeLines(bytes: Uint8Array): LakeLines {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length > 0 && buf[buf.length - 1] !== 10) throw new RangeError(`a block of lake lines must end with a newline; its last byte is ${buf[buf.length - 1]}`);
  const lines: string[] & { undecodable?: Map<number, string> } = [];
  let start = 0;
  while (start < buf.length) {
    // Cut at the last newline within the piece (a newline byte never occurs inside a UTF-8 sequence),
    // or after the line when one line is longer than a piece.
    let end = start + PIECE_BYTES >= buf.length ? buf.length - 1 : buf.lastIndexOf(10, start + PIECE_BYTES - 1);
    if (end < start) end = buf.indexOf(10, start);
    const text = buf.toString('utf8', start, end);
    const first = lines.length;
    for (const line of text.split('\n')) lines.push(line);
    // Decoding puts U+FFFD where bytes are not UTF-8. The search is all the valid path pays: in a
    // one-byte string (ASCII and Latin-1 text, nearly every piece) V8 ends it at once.
    if (text.includes('\uFFFD')) findUndecodable(buf, start, lines, first);
    start = end + 1;
  }
  return lines;
}

/** Notes in `lines.undecodable` each line from index `first` on (its bytes from `start` in `buf`)
 * whose U+FFFD came from bytes that are not UTF-8 rather than from the source's own text. */
function findUndecodable(buf: Buffer, start: number, lines: string[] & { undecodable?: Map<number, string> }, first: number): void {
  let at = start;
  for (let i = first; i < lines.length; i++) {
    const end = buf.indexOf(10, at);
    if (lines[i].includes('\uFFFD')) {
      const bad = firstInvalidUtf8(buf, at, end);
      if (bad >= 0) (lines.undecodable ??= new Map()).set(i, `row: not valid UTF-8 (byte 0x${buf[bad].toString(16).padStart(2, '0')} at byte ${bad - at} of the row)`);
    }
    at = end + 1;
  }
}

/**
 * Index of the first byte in [start, end) of `bytes` that does not begin a well-formed UTF-8 sequence
 * (the Encoding Standard's decoder: no overlongs, no surrogates, nothing past U+10FFFF), or -1.
 */
export function firstInvalidUtf8(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; ) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // The sequence's length and the range of its second byte (the later ones are 0x80..0xBF).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + n > end || bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (let k = 2; k < n; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += n;
  }
  return -1;
}
