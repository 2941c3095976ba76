/** Lake lines as text: a block of whole lines' UTF-8 bytes (each ending in '\n') decoded and split. */

/**
 * Bytes decoded per string. Larger strings land in V8's large-object space, which raises the ingest's
 * peak RSS; smaller ones cost more calls.
 */
const PIECE_BYTES = 64 * 1024;

/** The lines of `bytes` (whole lines, each ending in '\n'), without their newlines. */
export function decodeLines(bytes: Uint8Array): string[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length > 0 && buf[buf.length - 1] !== 10) throw new RangeError(`a block of lake lines must end with a newline; its last byte is ${buf[buf.length - 1]}`);
  const lines: string[] = [];
  let start = 0;
  while (start < buf.length) {
    // Cut at the last newline within the piece (a newline byte never occurs inside a UTF-8 sequence),
    // or after the line when one line is longer than a piece.
    let end = start + PIECE_BYTES >= buf.length ? buf.length - 1 : buf.lastIndexOf(10, start + PIECE_BYTES - 1);
    if (end < start) end = buf.indexOf(10, start);
    for (const line of buf.toString('utf8', start, end).split('\n')) lines.push(line);
    start = end + 1;
  }
  return lines;
}
