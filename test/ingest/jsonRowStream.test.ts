import { expect } from 'chai';
import { JsonRowStreamParser, SourceJsonError } from '../../operators/extract/jsonRowStream.js';
import { NdjsonBuffer } from '../../operators/extract/NdjsonBuffer.js';

/** Feeds the body's UTF-8 bytes in chunks of `chunkSize` BYTES (so multi-byte characters get split
 * too) and collects the rows as the extract does, as NDJSON lines. */
function parseInChunks(body: string, chunkSize: number): { rows: string[]; scalars: Record<string, unknown> } {
  const lines = new NdjsonBuffer(16);
  const p = new JsonRowStreamParser((buf, start, end, newlines) => lines.add(buf, start, end, newlines));
  const bytes = Buffer.from(body, 'utf8');
  for (let i = 0; i < bytes.length; i += chunkSize) p.write(Uint8Array.prototype.slice.call(bytes, i, i + chunkSize));
  const scalars = p.end();
  const rows = lines.rows;
  const text = lines.view().toString('utf8');
  const out = text === '' ? [] : text.slice(0, -1).split('\n');
  expect(out.length).to.equal(rows);
  return { rows: out, scalars };
}

const ROWS = [
  { id: 'a', name: 'Quote " and backslash \\ and \\" combos', n: -12.5e3, ok: true, nothing: null },
  { id: 'b', city: 'München', emoji: '🚗', esc: 'tab\there\nnewline \u0001 \\u0041', neg: -0.25, f: false },
  {},
  { id: 'c', big: 12345678901234, exp: 1e-7 },
];

describe('streaming JSON row tokenizer', () => {
  it('yields each row of a top-level array, whatever the chunk boundaries', () => {
    const body = ` [\n ${ROWS.map((r) => JSON.stringify(r, null, 1)).join(' ,\r\n')} ] \n`;
    for (const size of [1, 2, 3, 5, 7, 13, 64, body.length]) {
      const { rows } = parseInChunks(body, size);
      expect(rows.map((r) => JSON.parse(r)), `chunk size ${size}`).to.deep.equal(ROWS);
      for (const r of rows) expect(r).to.not.match(/[\r\n]/);
    }
  });

  it('yields the rows of an envelope and its next_cursor, in any key order', () => {
    const a = JSON.stringify({ data: ROWS, next_cursor: 'YWJj' });
    const b = `{"next_cursor": null, "extra": 3, "data": ${JSON.stringify(ROWS)}}`;
    for (const size of [1, 4, 9, 1000]) {
      const ra = parseInChunks(a, size);
      expect(ra.rows.map((r) => JSON.parse(r))).to.deep.equal(ROWS);
      expect(ra.scalars.next_cursor).to.equal('YWJj');
      const rb = parseInChunks(b, size);
      expect(rb.rows.length).to.equal(ROWS.length);
      expect(rb.scalars).to.deep.equal({ next_cursor: null, extra: 3 });
    }
  });

  it('keeps a row on one line even with raw line breaks inside its strings', () => {
    const body = '[{"a": "x\ny"}, {"b": "p\\\nq"}, {"c": 1}]';
    for (const size of [1, 3, body.length]) {
      const { rows } = parseInChunks(body, size);
      expect(rows, `chunk size ${size}`).to.have.length(3);
      for (const r of rows) expect(r).to.not.match(/[\r\n]/);
    }
  });

  it('handles empty arrays and an empty envelope', () => {
    expect(parseInChunks('[]', 1).rows).to.deep.equal([]);
    expect(parseInChunks('{"data":[],"next_cursor":null}', 3)).to.deep.equal({ rows: [], scalars: { next_cursor: null } });
  });

  it('keeps a number split across chunks whole', () => {
    const { rows } = parseInChunks('[{"x":12.5e+3}]', 1);
    expect(JSON.parse(rows[0])).to.deep.equal({ x: 12500 });
    const env = parseInChunks('{"data":[],"n":-1.5e2}', 1);
    expect(env.scalars.n).to.equal(-150);
  });

  it('rejects bodies that are not the expected shape, naming the offset', () => {
    const bad = ['{"data": 5}', '[1, 2]', '[{"a": {"nested": 1}}]', '[{"a": 1} {"b": 2}]', '[{"a" 1}]', '[{"a": tru}]', '[{"a":1}] x'];
    for (const body of bad) {
      expect(() => parseInChunks(body, 2), body).to.throw(SourceJsonError, /offset \d+/);
    }
  });

  it('reports a body that ends early', () => {
    expect(() => parseInChunks('[{"a": 1}, {"b"', 4)).to.throw(SourceJsonError, /ended early/);
    expect(() => parseInChunks('{"data":[{"a":1}]', 4)).to.throw(SourceJsonError, /ended early/);
  });

  it('examines each byte of a row once, however many chunks the row spans', () => {
    // A row of 4 MB in 16 KB chunks: scanning it again from its start at every chunk, as the tokenizer
    // once did, examines it some 250 times over (the parse time grew with the square of the row's size).
    const row = { id: 'big', note: `${'x'.repeat(2 * 1024 * 1024)}\\"${'ü'.repeat(1024 * 1024)}`, n: 1.5 };
    const body = Buffer.from(`[${JSON.stringify(row)}, {"id": "next"}]`);
    const p = new JsonRowStreamParser(() => {});
    for (let i = 0; i < body.length; i += 16 * 1024) p.write(body.subarray(i, i + 16 * 1024));
    p.end();
    expect(p.rows).to.equal(2);
    expect(p.bytesScanned).to.be.at.most(body.length);
  });

  it('parses a row of 32 MB split into 64 KB chunks', () => {
    const note = 'é'.repeat(16 * 1024 * 1024);
    const body = Buffer.from(`{"data": [{"id": "a", "note": "${note}"}, {"id": "b"}], "next_cursor": "c2"}`);
    const rows: string[] = [];
    const p = new JsonRowStreamParser((buf, start, end) => rows.push(Buffer.from(buf.subarray(start, end)).toString('utf8')));
    for (let i = 0; i < body.length; i += 64 * 1024) p.write(body.subarray(i, i + 64 * 1024));
    expect(p.end()).to.deep.equal({ next_cursor: 'c2' });
    expect(rows).to.have.length(2);
    expect(JSON.parse(rows[0])).to.deep.equal({ id: 'a', note });
  });

  it('resumes a row cut right after a backslash or inside a key, a number or a literal', () => {
    const body = '[{"k\\"ey": "a\\\\b\\"", "num": -12.5e3, "t": true, "f": false, "z": null}]';
    const whole = parseInChunks(body, body.length).rows;
    expect(JSON.parse(whole[0])).to.deep.equal({ 'k"ey': 'a\\b"', num: -12500, t: true, f: false, z: null });
    for (const size of [1, 2, 3, 4, 5]) expect(parseInChunks(body, size).rows, `chunk size ${size}`).to.deep.equal(whole);
  });
});
