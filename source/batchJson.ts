/**
 * A batch of rows as the body's JSON: one JSON.stringify per batch, its brackets cut off (far less CPU
 * than one call per row: docs/design/ingest-speed.md), or bytes when a value is {@link RawText}.
 */
import { RawText } from './RawText.js';

/** A row as the service serves it. */
export type ServedRow = Record<string, string | number | null | RawText>;

/** Stands for the i-th RawText in the JSON text until its bytes replace it (NULs: no source text has them). */
const placeholder = (i: number): string => `\u0000raw-bytes:${i}\u0000`;
const PLACEHOLDER = /"\\u0000raw-bytes:(\d+)\\u0000"/;

/** The rows' JSON without the array's brackets; `raw` when some value is a RawText (the slow path). */
export function batchJson(rows: readonly ServedRow[], raw: boolean): string | Buffer {
  if (!raw) return JSON.stringify(rows).slice(1, -1);
  const raws: RawText[] = [];
  const text = JSON.stringify(rows, (_key, value: unknown) => (value instanceof RawText ? placeholder(raws.push(value) - 1) : value)).slice(1, -1);
  // split with a capture group alternates text and the captured index.
  const parts = text.split(PLACEHOLDER);
  const out: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    out.push(i % 2 === 0 ? Buffer.from(parts[i], 'utf8') : Buffer.concat([Buffer.from('"'), jsonStringBytes(raws[Number(parts[i])].bytes), Buffer.from('"')]));
  }
  return Buffer.concat(out);
}

/** `bytes` as the inside of a JSON string: quote, backslash and control bytes escaped, every other byte as it is. */
export function jsonStringBytes(bytes: Buffer): Buffer {
  const out: number[] = [];
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out.push(0x5c, b);
    else if (b < 0x20) out.push(...Buffer.from(`\\u${b.toString(16).padStart(4, '0')}`));
    else out.push(b);
  }
  return Buffer.from(out);
}
