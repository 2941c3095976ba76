/**
 * Load batches (fast/BatchBuilder.ts's {@link InsertBatch}: packed records or JSON) as COPY text for
 * PostgreSQL (`COPY ... FROM STDIN`, text format): one line per row, values separated by tabs, NULL as
 * `\N`, and backslash, tab, newline and carriage return escaped with a backslash. Text format rather
 * than CSV: its escaping is per byte (no quoting decision per value), so a packed record is copied
 * byte by byte from its blob without making a string of each value. Values the batch gives the same
 * for every row (processing_date, source) are appended to each line.
 */
import type { InsertBatch } from './fast/BatchBuilder.js';
import { RowValueError } from './RowValueError.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DASH = 0x2d;
const ZERO = 0x30;
/** Bytes of the packed record header's length field (packedBatch.ts). */
const LENGTH_FIELD = 4;

/** `s` escaped for a COPY text value; NUL, which PostgreSQL text cannot hold, is `onNul`'s to decide. */
export function escapeCopyValue(s: string, onNul: (s: string) => string): string {
  let v = s;
  if (v.includes('\u0000')) v = onNul(v);
  return /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : v;
}

/** One value as COPY text: NULL as \N, numbers as JS writes them (PostgreSQL reads them back exactly). */
function valueText(v: unknown, onNul: (s: string) => string): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'string') return escapeCopyValue(v, onNul);
  if (typeof v === 'number') return String(v);
  return escapeCopyValue(JSON.stringify(v), onNul);
}

/** The constants' part of every line: a tab before each escaped value. */
function constantsText(constants: readonly string[]): Buffer {
  return Buffer.from(constants.map((c) => `\t${escapeCopyValue(c, refuseNul('a constant'))}`).join(''), 'utf8');
}

/** The NUL policy of valid rows: the load fails naming the table, as no value can stand for it. */
export function refuseNul(where: string): (s: string) => string {
  return (s) => {
    throw new RowValueError(where, s);
  };
}

/** The NUL policy of rejects' raw lines: written as the JSON escape `\u0000`, so the line stays readable. */
export const escapeNul = (s: string): string => s.replace(/\u0000/g, '\\u0000');

/**
 * `batch` as COPY text lines, `constants` appended to each; `onNul` decides a value holding NUL.
 * Releases the batch's packed memory once copied.
 */
export function copyText(batch: InsertBatch, constants: readonly string[], onNul: (s: string) => string): Buffer {
  const tail = constantsText(constants);
  try {
    if (batch.packed) return packedCopyText(batch, tail);
    const rows = JSON.parse(batch.json ?? '[]') as unknown[][];
    const lines: string[] = [];
    const tailText = tail.toString('utf8');
    for (const row of rows) lines.push(`${row.map((v) => valueText(v, onNul)).join('\t')}${tailText}\n`);
    return Buffer.from(lines.join(''), 'utf8');
  } finally {
    batch.release?.();
  }
}

/** A packed batch copied byte by byte (the packed form never holds NUL: packedBatch.ts declines it). */
function packedCopyText(batch: InsertBatch, tail: Buffer): Buffer {
  const { blob, width, layouts, offsets, aux } = batch.packed!;
  const columns = layouts.length;
  const rows = batch.rows;
  // Worst case: every value byte escaped, and \N plus a separator per column.
  const out = Buffer.allocUnsafe(blob.length * 2 + rows * (columns * 3 + tail.length + 1));
  let p = 0;
  for (let r = 0; r < rows; r++) {
    const start = r * width;
    for (let c = 0; c < columns; c++) {
      if (c > 0) out[p++] = TAB;
      const layout = layouts.charCodeAt(c);
      let from = start + offsets[c];
      let length: number;
      if (layout === 78 /* N */ || (layout === 77 /* M */ && blob[start + aux[c]] === DASH)) {
        out[p++] = BACKSLASH;
        out[p++] = 0x4e; // N
        continue;
      } else if (layout === 70 /* F */) {
        length = aux[c];
      } else {
        const h = start + aux[c];
        length = 0;
        for (let i = 0; i < LENGTH_FIELD; i++) length = length * 10 + (blob[h + i] - ZERO);
      }
      const end = from + length;
      for (; from < end; from++) {
        const b = blob[from];
        if (b === BACKSLASH || b === TAB || b === NEWLINE || b === CR) {
          out[p++] = BACKSLASH;
          out[p++] = b === BACKSLASH ? BACKSLASH : b === TAB ? 0x74 : b === NEWLINE ? 0x6e : 0x72;
        } else out[p++] = b;
      }
    }
    p += tail.copy(out, p);
    out[p++] = NEWLINE;
  }
  return out.subarray(0, p);
}
