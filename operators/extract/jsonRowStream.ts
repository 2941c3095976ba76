/**
 * A streaming tokenizer for the source's two body shapes: a top-level array of flat objects
 * (`[ {...}, {...} ]`, the original API) and an envelope (`{"data": [ {...} ], "next_cursor": ...}`).
 * Chunks may split anywhere; each complete row object is handed on as its own JSON text (one line),
 * so a body is never held whole and never parsed into objects here: the lake stores the text as
 * received and the load parses it once. Rows must be flat (strings, numbers, booleans, null).
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

const INCOMPLETE = -1;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** Tokenizes one body; call write() per chunk, then end(). */
export class JsonRowStreamParser {
  private buf = '';
  private pos = 0;
  /** Characters dropped from the front of buf so far, for error offsets. */
  private consumed = 0;
  private state = S.Start;
  private envKey = '';
  private inEnvelope = false;
  private readonly scalars: Record<string, string | number | boolean | null> = {};
  /** Rows handed on so far. */
  rows = 0;

  /** `onRow` receives each row object's JSON text, without newlines. */
  constructor(private readonly onRow: (json: string) => void) {}

  write(chunk: string): void {
    this.buf = this.pos < this.buf.length ? this.buf.slice(this.pos) + chunk : chunk;
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
    const found = i < this.buf.length ? `'${this.buf[i]}'` : 'the end';
    throw new SourceJsonError(`expected ${expected} but found ${found}`, this.consumed + i);
  }

  private run(final: boolean): void {
    const s = this.buf;
    const n = s.length;
    let i = this.pos;
    for (;;) {
      while (i < n && isWs(s.charCodeAt(i))) i++;
      if (i >= n) break;
      const c = s[i];
      switch (this.state) {
        case S.Start:
          if (c === '[') this.state = S.ArrFirst;
          else if (c === '{') {
            this.state = S.EnvFirst;
            this.inEnvelope = true;
          } else this.fail(i, "'[' or '{'");
          i++;
          continue;
        case S.ArrFirst:
        case S.ArrRow: {
          if (c === ']' && this.state === S.ArrFirst) {
            i++;
            this.state = this.inEnvelope ? S.EnvNext : S.Done;
            continue;
          }
          if (c !== '{') this.fail(i, this.state === S.ArrFirst ? "'{' or ']'" : "'{'");
          const end = this.scanObject(s, i);
          if (end === INCOMPLETE) break;
          let text = s.slice(i, end);
          // Raw newlines cannot occur inside JSON strings, so removing them keeps one row per line.
          if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) text = text.replace(/[\r\n]+/g, ' ');
          this.rows++;
          this.onRow(text);
          i = end;
          this.state = S.ArrNext;
          continue;
        }
        case S.ArrNext:
          if (c === ',') this.state = S.ArrRow;
          else if (c === ']') this.state = this.inEnvelope ? S.EnvNext : S.Done;
          else this.fail(i, "',' or ']'");
          i++;
          continue;
        case S.EnvFirst:
        case S.EnvKey: {
          if (c === '}' && this.state === S.EnvFirst) {
            i++;
            this.state = S.Done;
            continue;
          }
          if (c !== '"') this.fail(i, 'a key');
          const end = scanString(s, i);
          if (end === INCOMPLETE) break;
          this.envKey = JSON.parse(s.slice(i, end)) as string;
          i = end;
          this.state = S.EnvColon;
          continue;
        }
        case S.EnvColon:
          if (c !== ':') this.fail(i, "':'");
          i++;
          this.state = S.EnvValue;
          continue;
        case S.EnvValue: {
          if (this.envKey === 'data') {
            if (c !== '[') this.fail(i, "'[' (the data array)");
            i++;
            this.state = S.ArrFirst;
            continue;
          }
          const end = scanScalar(s, i, final);
          if (end === INCOMPLETE) break;
          if (end < 0) this.fail(i, 'a string, number, true, false or null');
          this.scalars[this.envKey] = JSON.parse(s.slice(i, end)) as string | number | boolean | null;
          i = end;
          this.state = S.EnvNext;
          continue;
        }
        case S.EnvNext:
          if (c === ',') this.state = S.EnvKey;
          else if (c === '}') this.state = S.Done;
          else this.fail(i, "',' or '}'");
          i++;
          continue;
        case S.Done:
          this.fail(i, 'nothing after the end of the body');
      }
      break;
    }
    this.pos = i;
  }

  /** End index (exclusive) of the flat object starting at i, or INCOMPLETE; throws on bad grammar. */
  private scanObject(s: string, start: number): number {
    const n = s.length;
    let i = start + 1;
    // Whitespace skipping is inlined: a closure here would be created once per row (and tsx's keepNames
    // wraps each creation in a __name() call, ~2 us per row in the profile).
    while (i < n && isWs(s.charCodeAt(i))) i++;
    if (i >= n) return INCOMPLETE;
    if (s[i] === '}') return i + 1;
    for (;;) {
      if (s[i] !== '"') this.fail(i, 'a key');
      const k = scanString(s, i);
      if (k === INCOMPLETE) return INCOMPLETE;
      i = k;
      while (i < n && isWs(s.charCodeAt(i))) i++;
      if (i >= n) return INCOMPLETE;
      if (s[i] !== ':') this.fail(i, "':'");
      i++;
      while (i < n && isWs(s.charCodeAt(i))) i++;
      if (i >= n) return INCOMPLETE;
      const v = scanScalar(s, i, false);
      if (v === INCOMPLETE) return INCOMPLETE;
      if (v < 0) this.fail(i, s[i] === '{' || s[i] === '[' ? 'a flat value (rows hold no nested objects or arrays)' : 'a value');
      i = v;
      while (i < n && isWs(s.charCodeAt(i))) i++;
      if (i >= n) return INCOMPLETE;
      if (s[i] === '}') return i + 1;
      if (s[i] !== ',') this.fail(i, "',' or '}'");
      i++;
      while (i < n && isWs(s.charCodeAt(i))) i++;
      if (i >= n) return INCOMPLETE;
    }
  }
}

/** End of the string token starting at the quote at i, or INCOMPLETE. Escapes are skipped by counting backslashes. */
function scanString(s: string, i: number): number {
  let k = i + 1;
  for (;;) {
    const q = s.indexOf('"', k);
    if (q < 0) return INCOMPLETE;
    let b = 0;
    while (s.charCodeAt(q - 1 - b) === 92) b++;
    if (b % 2 === 0) return q + 1;
    k = q + 1;
  }
}

const LITERALS = ['true', 'false', 'null'];

/** End of the scalar starting at i; INCOMPLETE when it may continue in the next chunk; -2 when it is no scalar. */
function scanScalar(s: string, i: number, final: boolean): number {
  const c = s[i];
  if (c === '"') return scanString(s, i);
  if (c === '-' || (c >= '0' && c <= '9')) {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(s);
    if (!m) return s.length - i <= 1 && !final ? INCOMPLETE : -2;
    const end = i + m[0].length;
    // '12.' or '1e' at a chunk's end may still become a number: wait for more unless the body ended.
    let j = end;
    while (j < s.length && '0123456789.eE+-'.includes(s[j])) j++;
    return j >= s.length && !final ? INCOMPLETE : end;
  }
  for (const lit of LITERALS) {
    if (s.startsWith(lit, i)) return i + lit.length;
    if (!final && lit.startsWith(s.slice(i, i + lit.length)) && s.length - i < lit.length) return INCOMPLETE;
  }
  return -2;
}
