import { expect } from 'chai';
import { BatchBuilder } from '../../operators/load/fast/BatchBuilder.js';
import { copyText, escapeNul, refuseNul } from '../../operators/load/copyText.js';
import { RowValueError } from '../../operators/load/RowValueError.js';

const ROWS: unknown[][] = [
  ['a', 'tab\there', null, 12.5, 'Ünïcødé ☃'],
  ['b', 'newline\nand\rcr', 'back\\slash \\N', 7, 'x'],
  ['c', '', null, null, 'fixed'],
];

describe('COPY text of load batches', () => {
  it('writes a packed batch byte for byte as its JSON form, escapes and NULLs included, with the constants after each row', () => {
    const packedBuilder = new BatchBuilder(5, ROWS.length, true);
    const jsonBuilder = new BatchBuilder(5, ROWS.length, false);
    let packed;
    let json;
    for (const r of ROWS) {
      packed = packedBuilder.add(r);
      json = jsonBuilder.add(r);
    }
    expect(packed?.packed, 'the packed form took the batch').to.not.equal(undefined);
    expect(json?.json, 'the JSON form').to.be.a('string');
    const expected =
      'a\ttab\\there\t\\N\t12.5\tÜnïcødé ☃\t2024-01-15\n' +
      'b\tnewline\\nand\\rcr\tback\\\\slash \\\\N\t7\tx\t2024-01-15\n' +
      'c\t\t\\N\t\\N\tfixed\t2024-01-15\n';
    expect(copyText(packed!, ['2024-01-15'], refuseNul('t')).toString('utf8')).to.equal(expected);
    expect(copyText(json!, ['2024-01-15'], refuseNul('t')).toString('utf8')).to.equal(expected);
  });

  it('writes a NUL in a reject as the JSON escape and refuses one in a row, naming where', () => {
    const batch = new BatchBuilder(2, 1, false).add(['bad \u0000 line', 'row: not valid JSON'])!;
    expect(copyText(batch, ['cars'], escapeNul).toString('utf8')).to.equal('bad \\\\u0000 line\trow: not valid JSON\tcars\n');
    const row = new BatchBuilder(1, 1, false).add(['x\u0000'])!;
    expect(() => copyText(row, [], refuseNul('load of cars for 2024-01-15'))).to.throw(RowValueError, 'load of cars for 2024-01-15: value "x\\u0000" holds a NUL character');
  });
});
