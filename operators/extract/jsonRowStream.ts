/**
 * A streaming tokenizer for the source's two body shapes: a top-level array of flat objects
 * (`[ {...}, {...} ]`, the original API) and an envelope (`{"data": [ {...} ], "next_cursor": ...}`).
 * It works on the body's BYTES: chunks may split anywhere (inside a UTF-8 sequence too); each complete
 * row object is handed on as a byte span of the current chunk, so rows are never decoded, parsed or
 * re-encoded here: the lake stores the bytes as received and the load parses them once (decoding to
 * text, slicing a string per row and encoding the joined page again was a large share of the extract's
 * CPU: docs/design/lake-format.md). Rows must be flat (strings, numbers, booleans, null).
 */

/** The body is not what the source should send; `offset` is the character offset in the body. */
export class SourceJsonError extends Error {
  override readonly name = 'SourceJsonError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`invalid JSON from the source at offset ${offset}: ${message}`);
  }
}

const enum S {
  Start,
  ArrFirst, // after '[': '{' or ']'
  ArrNext, // after a row: ',' or ']'
  ArrRow, // after ',': '{'
  EnvFirst, // after '{': '"' or '}'
  EnvColon,
  EnvValue,
  EnvNext, // after a value: ',' or '}'
  EnvKey, // after ',': '"'
  Done,
}

/** The parts of a row, in the order its scan meets them. */
const enum R {
  Open, // after '{': '}' or a key
  Key, // after ',': a key
  Colon,
  Value,
  Next, // after a value: ',' or '}'
  InString, // inside a key or a string value
}

const INCOMPLETE = -1;

// Byte codes of the grammar.
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const NL = 10;
const CR = 13;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** Receives one row: bytes [start, end) of `buf` (valid only during the call); `newlines` when the
 * span holds a raw CR or LF (whitespace between tokens), which a line-per-row consumer must replace. */
export type RowBytesHandler = (buf: Uint8Array, start: number, end: number, newlines: boolean) => void;

/** Tokenizes one body; call write() per chunk, then end(). */
export class JsonRowStreamParser {
  private buf: Uint8Array = new Uint8Array(0);
  /** Where a token split across chunks is joined with the next chunk. */
  private scratch = new Uint8Array(128 * 1024);
  private pos = 0;
  /** Bytes dropped from the front of buf so far, for error offsets. */
  private consumed = 0;
  private state = S.Start;
  private envKey = '';
  private inEnvelope = false;
  /** Set by the scanners when a raw CR/LF was passed in the current row. */
  private newlines = false;
  private readonly scalars: Record<string, string | number | boolean | null> = {};
  /** The scan of a row cut by a chunk's end: what comes next, `rowAt` bytes past the row's start. */
  private rowPart = R.Open;
  private rowAt = 1;
  /** What follows the string being scanned: a colon after a key, ',' or '}' after a value. */
  private afterString = R.Colon;
  /** Where the scan of a string cut by a chunk's end goes on. */
  private stringStop = 0;
  /** Rows handed on so far. */
  rows = 0;
  /** Bytes the row scanner has examined: each byte of a row once, however many chunks it spans. */
  bytesScanned = 0;

  constructor(private readonly onRow: RowBytesHandler) {}

  /** Feeds the next chunk (bytes; a string is encoded as UTF-8). */
  write(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (this.pos < this.buf.length) {
      // An incomplete token is carried over: the rest and the new chunk are joined in a scratch
      // buffer reused from chunk to chunk (a fresh one per chunk made the GC a top cost).
      const restLength = this.buf.length - this.pos;
      const size = restLength + bytes.length;
      if (this.scratch.length < size) {
        const grown = new Uint8Array(Math.max(size, this.scratch.length * 2));
        grown.set(this.buf.subarray(this.pos), 0);
        this.scratch = grown;
      } else if (this.buf.buffer === this.scratch.buffer) {
        // buf is scratch[0, buf.length); a long row already starts at 0 and is only appended to.
        if (this.pos > 0) this.scratch.copyWithin(0, this.pos, this.buf.length);
      } else {
        this.scratch.set(this.buf.subarray(this.pos), 0);
      }
      this.scratch.set(bytes, restLength);
      this.buf = this.scratch.subarray(0, size);
    } else {
      this.buf = bytes;
    }
    this.consumed += this.pos;
    this.pos = 0;
    this.run(false);
  }

  /** Ends the body; throws when it is incomplete. Returns the envelope's scalar fields (e.g. next_cursor). */
  end(): Record<string, string | number | boolean | null> {
    this.run(true);
    if (this.state !== S.Done) throw new SourceJsonError('the body ended early', this.consumed + this.buf.length);
    return this.scalars;
  }

  private fail(i: number, expected: string): never {
    const found = i < this.buf.length ? `'${String.fromCharCode(this.buf[i])}'` : 'the end';
    throw new SourceJsonError(`expected ${expected} but found ${found}`, this.consumed + i);
  }

  private text(start: number, end: number): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('utf8');
  }

  /**
   * The token loop. The array's states (one pass per row) are handled inline; the envelope's tokens,
   * a handful per body, are a step of their own ({@link envelopeStep}).
   */
  private run(final: boolean): void {
    const s = this.buf;
    const n = s.length;
    let i = this.pos;
    for (;;) {
      while (i < n && isWs(s[i])) i++;
      if (i >= n) break;
      const c = s[i];
      switch (this.state) {
        case S.ArrFirst:
        case S.ArrRow: {
          if (c === RBRACKET && this.state === S.ArrFirst) {
            i++;
            this.state = this.inEnvelope ? S.EnvNext : S.Done;
            continue;
          }
          if (c !== LBRACE) this.fail(i, this.state === S.ArrFirst ? "'{' or ']'" : "'{'");
          // A row resumed in this chunk keeps what its scan noted so far.
          if (this.rowPart === R.Open && this.rowAt === 1) this.newlines = false;
          const end = this.scanObject(s, i);
          if (end === INCOMPLETE) break;
          this.rows++;
          this.onRow(s, i, end, this.newlines);
          i = end;
          this.state = S.ArrNext;
          continue;
        }
        case S.ArrNext:
          if (c === COMMA) this.state = S.ArrRow;
          else if (c === RBRACKET) this.state = this.inEnvelope ? S.EnvNext : S.Done;
          else this.fail(i, "',' or ']'");
          i++;
          continue;
        default: {
          const next = this.envelopeStep(s, i, c, final);
          if (next === INCOMPLETE) break;
          i = next;
          continue;
        }
      }
      break;
    }
    this.pos = i;
  }

  /**
   * One token outside the rows (the body's first byte, the envelope's keys and scalars) at `i`, whose
   * byte is `c`: the index after it, or INCOMPLETE when the token goes on in the next chunk.
   */
  private envelopeStep(s: Uint8Array, i: number, c: number, final: boolean): number {
    switch (this.state) {
      case S.Start:
        if (c === LBRACKET) this.state = S.ArrFirst;
        else if (c === LBRACE) {
          this.state = S.EnvFirst;
          this.inEnvelope = true;
        } else this.fail(i, "'[' or '{'");
        return i + 1;
      case S.EnvFirst:
      case S.EnvKey: {
        if (c === RBRACE && this.state === S.EnvFirst) {
          this.state = S.Done;
          return i + 1;
        }
        if (c !== QUOTE) this.fail(i, 'a key');
        const end = this.scanString(s, i);
        if (end === INCOMPLETE) return INCOMPLETE;
        this.envKey = JSON.parse(this.text(i, end)) as string;
        this.state = S.EnvColon;
        return end;
      }
      case S.EnvColon:
        if (c !== COLON) this.fail(i, "':'");
        this.state = S.EnvValue;
        return i + 1;
      case S.EnvValue: {
        if (this.envKey === 'data') {
          if (c !== LBRACKET) this.fail(i, "'[' (the data array)");
          this.state = S.ArrFirst;
          return i + 1;
        }
        const end = this.scanScalar(s, i, final);
        if (end === INCOMPLETE) return INCOMPLETE;
        if (end < 0) this.fail(i, 'a string, number, true, false or null');
        this.scalars[this.envKey] = JSON.parse(this.text(i, end)) as string | number | boolean | null;
        this.state = S.EnvNext;
        return end;
      }
      case S.EnvNext:
        if (c === COMMA) this.state = S.EnvKey;
        else if (c === RBRACE) this.state = S.Done;
        else this.fail(i, "',' or '}'");
        return i + 1;
      default:
        // S.Done (the array's states never come here).
        return this.fail(i, 'nothing after the end of the body');
    }
  }

  /** Index of the first non-whitespace byte at or after i (n when none); notes raw newlines. */
  private skipWs(s: Uint8Array, i: number, n: number): number {
    for (; i < n; i++) {
      const c = s[i];
      if (c === 32 || c === 9) continue;
      if (c === NL || c === CR) {
        this.newlines = true;
        continue;
      }
      break;
    }
    return i;
  }

  /**
   * End index (exclusive) of the flat object starting at `start`, or INCOMPLETE; throws on bad grammar.
   * A row cut by a chunk's end is scanned on from where it stopped, never again from its start: a row
   * of megabytes spans hundreds of chunks, and rescanning it per chunk made its parse quadratic.
   */
  private scanObject(s: Uint8Array, start: number): number {
    const n = s.length;
    // No closures here: one would be created per row (and tsx's keepNames wraps each in __name()).
    let i = start + this.rowAt;
    const from = i;
    let part = this.rowPart;
    for (;;) {
      if (part === R.InString) {
        const end = this.scanStringFrom(s, i);
        if (end === INCOMPLETE) return this.pauseRow(R.InString, this.stringStop - start, n - from);
        i = end;
        part = this.afterString;
        continue;
      }
      i = this.skipWs(s, i, n);
      if (i >= n) return this.pauseRow(part, i - start, n - from);
      const c = s[i];
      switch (part) {
        case R.Open:
          if (c === RBRACE) return this.endRow(i + 1, i + 1 - from);
          part = R.Key;
          continue;
        case R.Key:
          if (c !== QUOTE) this.fail(i, 'a key');
          this.afterString = R.Colon;
          part = R.InString;
          i++;
          continue;
        case R.Colon:
          if (c !== COLON) this.fail(i, "':'");
          part = R.Value;
          i++;
          continue;
        case R.Value: {
          if (c === QUOTE) {
            this.afterString = R.Next;
            part = R.InString;
            i++;
            continue;
          }
          const v = this.scanScalar(s, i, false);
          if (v === INCOMPLETE) return this.pauseRow(R.Value, i - start, n - from);
          if (v < 0) this.fail(i, c === LBRACE || c === LBRACKET ? 'a flat value (rows hold no nested objects or arrays)' : 'a value');
          i = v;
          part = R.Next;
          continue;
        }
        case R.Next:
          if (c === RBRACE) return this.endRow(i + 1, i + 1 - from);
          if (c !== COMMA) this.fail(i, "',' or '}'");
          part = R.Key;
          i++;
          continue;
      }
    }
  }

  /** Notes where the scan of an incomplete row goes on (`at` bytes past its start) once more bytes come. */
  private pauseRow(part: R, at: number, scanned: number): number {
    this.rowPart = part;
    this.rowAt = at;
    this.bytesScanned += scanned;
    return INCOMPLETE;
  }

  /** A row's scan is complete: the next row's starts afresh. */
  private endRow(end: number, scanned: number): number {
    this.rowPart = R.Open;
    this.rowAt = 1;
    this.bytesScanned += scanned;
    return end;
  }

  /** End of the string token starting at the quote at i, or INCOMPLETE. */
  private scanString(s: Uint8Array, i: number): number {
    return this.scanStringFrom(s, i + 1);
  }

  /** End of a string token whose bytes are scanned from k on (past its opening quote), or INCOMPLETE
   * with where to go on in `stringStop`. A backslash skips the next byte; UTF-8 continuation bytes are
   * never quote or backslash, so bytes are scanned as they come. */
  private scanStringFrom(s: Uint8Array, k: number): number {
    const n = s.length;
    for (; k < n; k++) {
      const c = s[k];
      if (c === QUOTE) return k + 1;
      if (c === BACKSLASH) {
        // A backslash ending the chunk is scanned again with the byte it escapes.
        if (k + 1 >= n) break;
        k++;
        // Even escaped, a raw CR/LF (invalid JSON, the load rejects it) must not split the line.
        if (s[k] === NL || s[k] === CR) this.newlines = true;
      } else if (c === NL || c === CR) this.newlines = true;
    }
    this.stringStop = k;
    return INCOMPLETE;
  }

  /** End of the scalar starting at i; INCOMPLETE when it may continue in the next chunk; -2 when it is no scalar. */
  private scanScalar(s: Uint8Array, i: number, final: boolean): number {
    const c = s[i];
    if (c === QUOTE) return this.scanString(s, i);
    const n = s.length;
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // '12.' or '1e' at a chunk's end may still become a number: wait for more unless the body ended.
      let j = i + 1;
      while (j < n && isNumberByte(s[j])) j++;
      if (j >= n && !final) return INCOMPLETE;
      const end = numberEnd(s, i, j);
      return end < 0 ? -2 : end;
    }
    for (const lit of LITERALS) {
      let k = 0;
      while (k < lit.length && i + k < n && s[i + k] === lit.charCodeAt(k)) k++;
      if (k === lit.length) return i + k;
      if (i + k >= n && !final) return INCOMPLETE;
    }
    return -2;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** End of the longest JSON number (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) starting at i within [i, n), or -1. */
function numberEnd(s: Uint8Array, i: number, n: number): number {
  let k = i;
  if (k < n && s[k] === 0x2d) k++;
  if (k < n && s[k] === 0x30) k++;
  else if (k < n && s[k] >= 0x31 && s[k] <= 0x39) while (k < n && isDigit(s[k])) k++;
  else return -1;
  if (k + 1 < n && s[k] === 0x2e && isDigit(s[k + 1])) {
    k += 2;
    while (k < n && isDigit(s[k])) k++;
  }
  if (k < n && (s[k] === 0x65 || s[k] === 0x45)) {
    let m = k + 1;
    if (m < n && (s[m] === 0x2b || s[m] === 0x2d)) m++;
    if (m < n && isDigit(s[m])) {
      k = m + 1;
      while (k < n && isDigit(s[k])) k++;
    }
  }
  return k;
}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

const LITERALS = ['true', 'false', 'null'];
