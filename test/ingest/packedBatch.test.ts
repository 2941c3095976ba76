import { expect } from 'chai';
import { packBatch, packedInsertSql, packedParams } from '../../operators/load/fast/packedBatch.js';
import { openDb, type SqliteConnection } from '../helpers/sqliteFile.js';

const run = (db: SqliteConnection, sql: string, params: unknown[] = []) => db.run(sql, params);
const all = (db: SqliteConnection, sql: string) => db.all(sql);

const COLUMNS = ['a', 'b', 'rate'];

describe('packed insert batches', () => {
  let db: SqliteConnection;
  beforeEach(async () => {
    db = await openDb(':memory:');
    for (const t of ['packed', 'json']) await run(db, `CREATE TABLE ${t} (a TEXT, b TEXT, rate REAL, day TEXT)`);
  });
  afterEach(() => db.close());

  it('store exactly what the JSON form stores: text as received, NULLs, numbers as REAL', async () => {
    const rows: unknown[][] = [
      ['x', null, 450],
      ['', 'trailing  ', 449.5],
      ['  lead', '----', 1e-7],
      ['-', undefined, -0.25],
      ['0042', 'a "quoted" \\ one', 123456789012],
      ['x'.repeat(300), '\t tab', 7],
    ];
    const packed = packBatch(rows, 3);
    expect(packed).to.not.equal(undefined);
    await run(db, packedInsertSql('packed', COLUMNS, ['day'], packed!.layouts), packedParams(packed!, ['2024-01-15']));
    await run(db, `INSERT INTO json (a, b, rate, day) SELECT value->>0, value->>1, value->>2, ?2 FROM json_each(?1)`, [JSON.stringify(rows), '2024-01-15']);
    const q = (t: string) => all(db, `SELECT a, b, rate, day, typeof(a) ta, typeof(b) tb, typeof(rate) tr FROM ${t} ORDER BY rowid`);
    const got = await q('packed');
    expect(got).to.deep.equal(await q('json'));
    expect(got).to.have.length(rows.length);
    expect(got[0]).to.deep.include({ b: null, tr: 'real', rate: 450 });
    expect(got[1]).to.deep.include({ a: '', b: 'trailing  ' });
  });

  it('count widths in UTF-8 bytes for non-ASCII text, as the JSON form stores it', async () => {
    const rows: unknown[][] = [
      ['München', 'Düsseldorfer Straße', 1],
      ['x', null, 2],
      ['€uro ✓', 'Ä', 3.5],
    ];
    const packed = packBatch(rows, 3);
    expect(packed).to.not.equal(undefined);
    await run(db, packedInsertSql('packed', COLUMNS, ['day'], packed!.layouts), packedParams(packed!, ['d']));
    await run(db, `INSERT INTO json (a, b, rate, day) SELECT value->>0, value->>1, value->>2, ?2 FROM json_each(?1)`, [JSON.stringify(rows), 'd']);
    const q = (t: string) => all(db, `SELECT a, b, rate, day, typeof(b) tb FROM ${t} ORDER BY rowid`);
    expect(await q('packed')).to.deep.equal(await q('json'));
    expect((await q('packed'))[0]).to.deep.include({ a: 'München', b: 'Düsseldorfer Straße' });
  });

  it('choose a layout per column (same length, all NULL, varying, some NULL) and store the same values whichever it is', async () => {
    const rows: unknown[][] = [
      ['abc', null, 1.5],
      ['xyz', null, null],
      ['q r', null, 22.25],
    ];
    const packed = packBatch(rows, 3);
    expect(packed?.layouts).to.equal('FNM');
    await run(db, packedInsertSql('packed', COLUMNS, ['day'], packed!.layouts), packedParams(packed!, ['d']));
    const varying = packBatch([['a', 'bb', 1], ['ccc', '', 22]], 3);
    expect(varying?.layouts).to.equal('VVV');
    await run(db, packedInsertSql('packed', COLUMNS, ['day'], varying!.layouts), packedParams(varying!, ['d']));
    const both = [...rows, ['a', 'bb', 1], ['ccc', '', 22]];
    await run(db, `INSERT INTO json (a, b, rate, day) SELECT value->>0, value->>1, value->>2, ?2 FROM json_each(?1)`, [JSON.stringify(both), 'd']);
    const q = (t: string) => all(db, `SELECT a, b, rate, day, typeof(a) ta, typeof(b) tb, typeof(rate) tr FROM ${t} ORDER BY rowid`);
    const got = await q('packed');
    expect(got).to.deep.equal(await q('json'));
    expect(got).to.have.length(5);
    expect(got[1]).to.deep.include({ b: null, rate: null, tr: 'null' });
  });

  it('decline a batch of nothing but NULLs and empty strings (its records would have no width)', () => {
    expect(packBatch([[null, '', undefined]], 3)).to.equal(undefined);
    expect(packBatch([], 3)).to.equal(undefined);
  });

  it('decline batches with NUL or surrogates, or a value too long or of another type', () => {
    expect(packBatch([['🚗', 'x', 1]], 3)).to.equal(undefined);
    expect(packBatch([['\ud800', 'x', 1]], 3)).to.equal(undefined);
    expect(packBatch([['a\u0000b', 'x', 1]], 3)).to.equal(undefined);
    expect(packBatch([['x'.repeat(10_000), 'x', 1]], 3)).to.equal(undefined);
    expect(packBatch([['x', 'y', Number.NaN]], 3)).to.equal(undefined);
    expect(packBatch([['x', { o: 1 }, 1]], 3)).to.equal(undefined);
    expect(packBatch([['x', 'y', 1]], 3)).to.not.equal(undefined);
  });
});
