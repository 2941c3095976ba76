/**
 * `drivetrain customers erase`, end to end: the sample source serves a generated dataset in which one
 * customer carries unmistakable names and streets, `drivetrain backfill` runs the real pipeline in child
 * processes twice (the customer moves between the two snapshots, so two personal versions), and the
 * erasure runs as the command an operator types. Afterwards the names and streets are nowhere: no text
 * in any table of the warehouse or the metadata, no byte of those files, no lake file, no log file; and
 * every mart is as it was.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { readLakePartition } from '../../operators/lake/reader.js';
import { LakePartitionWriter } from '../../operators/lake/writer.js';
import { hashKey } from '../../operators/load/hashing.js';
import { erasePersonalData } from '../../operators/privacy/erase.js';
import { UnknownIdError } from '../../operators/privacy/UnknownIdError.js';
import { closeWarehouses, openWarehouse } from '../../operators/warehouse/registry.js';
import type { EntityName } from '../../operators/entities.js';
import { GeneratedRowSource, type RowBatch, type RowSource } from '../../source/rowSource.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import { describeEachEngine } from '../helpers/engines.js';
import { queryFile } from '../helpers/sqliteFile.js';
import { testEnv, useTmpDir, useTmpWarehouse } from '../helpers/tmp.js';
import { MARTS } from '../warehouse/fixtures.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIZES = { cars: 120, customers: 20, subscriptions: 80 };
const SEED = 5;

/** What no file may hold after the erasure: the customer's names and both streets. */
const NAMES = { first_name: 'Zorwexa', second_name: 'Quillbrandt', company_name: 'Quillbrandt Vexwerke GmbH' };
const STREETS = ['Vexmoorallee', 'Thistlegroveweg'];
const MARKERS = [...Object.values(NAMES), ...STREETS];

/**
 * The generated dataset, with customer 0 named by the markers, living on the first street (the
 * second after `move()`), and served twice per snapshot: the second copy is rejected as a duplicate id,
 * so `rejects` holds the customer's row too.
 */
class MarkedSource implements RowSource {
  private readonly inner = new GeneratedRowSource(SIZES, SEED);
  private street = STREETS[0];
  private city = 'Erasmusstadt';
  id = '';

  move(): void {
    this.street = STREETS[1];
    this.city = 'Neuerasmusstadt';
  }

  async *batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<RowBatch> {
    for await (const batch of this.inner.batches(entity, after, limit)) {
      if (entity !== 'customers' || after !== undefined) {
        yield batch;
        continue;
      }
      const [first, ...rest] = batch.rows as Record<string, unknown>[];
      this.id = String(first.id);
      const marked = { ...first, ...NAMES, address_street: this.street, address_zip: '99999', address_city: this.city };
      yield { ...batch, rows: [marked, ...rest, marked] as RowBatch['rows'] };
    }
  }

  async close(): Promise<void> {}
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: false })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

/** Every marker found in a file's bytes (a .gz file's inflated bytes too). */
function markersInFile(file: string): string[] {
  const bytes = readFileSync(file);
  const texts = [bytes.toString('latin1')];
  if (file.endsWith('.gz')) texts.push(gunzipSync(bytes).toString('utf8'));
  return MARKERS.filter((m) => texts.some((t) => t.includes(m))).map((m) => `${path.basename(file)}: ${m}`);
}

/** Every marker in any text column of any table of a SQLite file. */
async function markersInTables(file: string): Promise<string[]> {
  const found: string[] = [];
  const tables = await queryFile<{ name: string }>(file, "SELECT name FROM sqlite_master WHERE type = 'table'");
  for (const { name } of tables) {
    for (const row of await queryFile<Record<string, unknown>>(file, `SELECT * FROM "${name}"`)) {
      for (const [column, value] of Object.entries(row)) {
        for (const m of MARKERS) if (typeof value === 'string' && value.includes(m)) found.push(`${name}.${column}: ${m}`);
      }
    }
  }
  return found;
}

describe('customers erase', function () {
  this.timeout(300_000);
  const tmp = useTmpDir('drivetrain-erase-', { scope: 'suite', beforeRemove: closeWarehouses });
  const marked = new MarkedSource();
  let source: SourceServer;
  const home = () => path.join(tmp.dir, 'home');
  const warehouse = () => path.join(home(), 'warehouse.db');

  const drivetrain = (args: string[], now: string): Promise<Run> =>
    new Promise((resolve) => {
      const env = testEnv(tmp.dir, {
        DRIVETRAIN_SOURCE_URL: source.url,
        DRIVETRAIN_NOW: now,
        DRIVETRAIN_TASK_RETRIES: '0',
        // The duplicate row is one reject in 21 rows.
        DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '0.1',
      });
      execFile(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', ...args], { cwd: REPO, env }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  const marts = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const m of MARTS) {
      const columns = await queryFile(warehouse(), `SELECT name FROM pragma_table_info('${m}')`);
      out[m] = JSON.stringify(await queryFile(warehouse(), `SELECT * FROM ${m} ORDER BY ${columns.map((_, i) => i + 1).join(', ')}`));
    }
    return out;
  };
  const leftovers = async (): Promise<string[]> => [
    ...(await markersInTables(warehouse())),
    ...(await markersInTables(path.join(home(), 'metadata.db'))),
    ...files(home()).flatMap(markersInFile),
    ...files(path.join(tmp.dir, 'logs')).flatMap(markersInFile),
  ];

  let martsBefore: Record<string, string>;
  let piiBefore: Record<string, unknown>[];

  before(async () => {
    source = await startSourceServer({ source: marked });
    const first = await drivetrain(['backfill', '--from', '2023-12-01', '--to', '2023-12-31'], '2024-01-01T06:00:00Z');
    expect(first.code, first.stderr + first.stdout).to.equal(0);
    marked.move();
    const second = await drivetrain(['backfill', '--from', '2023-12-01', '--to', '2024-01-01'], '2024-01-02T06:00:00Z');
    expect(second.code, second.stderr + second.stdout).to.equal(0);
    martsBefore = await marts();
    piiBefore = await queryFile(warehouse(), 'SELECT hk_customer, load_date, hashdiff FROM sat_customer_pii WHERE hk_customer = ? ORDER BY load_date', [hashKey(marked.id)]);
  });
  after(async () => {
    await source?.close();
  });

  it('removes the names and streets of a customer who moved from every table, file and log, and leaves every mart as it was', async () => {
    expect(piiBefore, 'the customer moved: two personal versions').to.have.length(2);
    expect(await leftovers(), 'the markers are there before the erasure').to.include.members([
      `rejects.raw_json: ${NAMES.first_name}`,
      `sat_customer_pii.address_street: ${STREETS[1]}`,
      `part-00000.ndjson.gz: ${STREETS[0]}`,
    ]);
    expect(files(path.join(tmp.dir, 'logs')).filter((f) => f.endsWith('.log')).length, 'attempt logs to search').to.be.above(20);
    expect(Object.values(martsBefore).filter((rows) => rows !== '[]'), 'marts with rows to compare').to.have.length(MARTS.length);

    const erase = await drivetrain(['customers', 'erase', marked.id], '2024-01-02T09:30:00Z');
    expect(erase.code, erase.stderr).to.equal(0);
    expect(erase.stdout).to.include(`customer '${marked.id}': personal fields nulled in 4 lake row(s) of 2 partition(s), 2 raw row(s), 2 reject(s), 2 sat_customer_pii version(s)`);
    expect(erase.stdout).to.match(/the source still holds them: the next ingest of a new snapshot brings their personal data back/);

    expect(await leftovers()).to.deep.equal([]);
    expect(await marts()).to.deep.equal(martsBefore);
    expect(await queryFile(warehouse(), 'SELECT hk_customer, load_date, hashdiff FROM sat_customer_pii WHERE hk_customer = ? ORDER BY load_date', [hashKey(marked.id)])).to.deep.equal(piiBefore);
    expect(await queryFile(warehouse(), 'SELECT * FROM erasures')).to.deep.equal([{ entity: 'customers', hash_key: hashKey(marked.id), erased_at: '2024-01-02T09:30:00.000Z' }]);
    const [city] = await queryFile<{ address_city: string }>(warehouse(), 'SELECT address_city FROM sat_customer_current WHERE id = ?', [marked.id]);
    expect(city.address_city, 'what the marts read is kept').to.equal('Neuerasmusstadt');
  });

  it('does nothing and records nothing when the customer is erased again', async () => {
    const again = await drivetrain(['customers', 'erase', marked.id], '2024-01-02T10:00:00Z');
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.equal(`nothing to do: no personal data left of '${marked.id}'; nothing recorded\n`);
    expect(await queryFile(warehouse(), 'SELECT count(*) AS n FROM erasures')).to.deep.equal([{ n: 1 }]);
  });

  it('refuses an unknown id with exit 2 and one line naming it, erasing nothing', async () => {
    const other = (await queryFile<{ id: string }>(warehouse(), "SELECT id FROM customers WHERE first_name IS NOT NULL OR company_name IS NOT NULL LIMIT 1"))[0].id;
    const unknown = await drivetrain(['customers', 'erase', other, 'no-such-customer'], '2024-01-02T10:00:00Z');
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.equal("drivetrain: unknown customer id 'no-such-customer': in no lake partition, raw row or hub; nothing was erased\n");
    expect(await queryFile(warehouse(), 'SELECT count(*) AS n FROM customers WHERE id = ? AND (first_name IS NOT NULL OR company_name IS NOT NULL)', [other])).to.deep.equal([{ n: 2 }]);
  });

  it('does not bring the data back when the same lake partition is loaded again', async () => {
    for (const task of ['load_customers', 'sat_customer_pii']) {
      const r = await drivetrain(['tasks', 'test', 'ingest', task, '2024-01-01'], '2024-01-02T11:00:00Z');
      expect(r.code, `${task}: ${r.stderr}${r.stdout}`).to.equal(0);
    }
    expect(await queryFile(warehouse(), 'SELECT count(*) AS n FROM customers WHERE id = ?', [marked.id]), 'the rows are loaded again').to.deep.equal([{ n: 2 }]);
    expect(await leftovers()).to.deep.equal([]);
    expect(await marts()).to.deep.equal(martsBefore);
  });

  it('gets the data back into the lake and raw from a new snapshot of a source that still holds the customer, as the command warned', async () => {
    const r = await drivetrain(['backfill', '--from', '2024-01-02', '--to', '2024-01-02', '--dag', 'ingest'], '2024-01-03T06:00:00Z');
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const back = await leftovers();
    expect(back).to.include.members([`customers.first_name: ${NAMES.first_name}`, `part-00000.ndjson.gz: ${STREETS[1]}`]);
    // Its personal hashdiff is the one the erasure kept: no new version until the values change.
    expect(back.filter((l) => l.startsWith('sat_customer_pii.'))).to.deep.equal([]);
  });
});

describeEachEngine('erasePersonalData', (engine) => {
  const tmp = useTmpWarehouse({}, { engine });
  const NOW = new Date('2024-02-01T12:00:00Z');
  const ada = { id: 'u1', first_name: 'Ada', second_name: 'Secretname', type: 'b2c', company_name: null, address_city: 'Berlin', address_zip: '10115', address_street: 'Ravenstr', address_street_house: '1' };

  async function lake(rows: readonly object[], ds = '2024-01-15'): Promise<void> {
    const w = await LakePartitionWriter.open(tmp.settings.lakeDir, 'customers', ds);
    await w.writeLines(rows.map((r) => JSON.stringify(r)));
    await w.commit('http://src/customers/', new Date('2024-01-16T00:00:00Z'));
  }
  const erase = (ids: string[]) => erasePersonalData({ entity: 'customers', ids, lakeDir: tmp.settings.lakeDir, warehouse: tmp.warehouse, now: NOW });
  const query = async <T extends object>(sql: string): Promise<T[]> => (await openWarehouse(tmp.warehouse)).all<T>(sql);

  it('knows an id only the lake holds, and records its erasure in the warehouse', async () => {
    await lake([ada, { ...ada, id: 'u2' }]);
    const report = await erase(['u1']);
    expect(report.keys).to.deep.equal([{ id: 'u1', hashKey: hashKey('u1'), lakeLines: 1, lakePartitions: 1, rawRows: 0, rejects: 0, satelliteVersions: 0 }]);
    const rows: Record<string, unknown>[] = [];
    for await (const r of readLakePartition(tmp.settings.lakeDir, 'customers', '2024-01-15')) rows.push(r);
    expect(rows).to.deep.equal([
      { ...ada, first_name: null, second_name: null, address_zip: null, address_street: null, address_street_house: null },
      { ...ada, id: 'u2' },
    ]);
    expect(await query('SELECT * FROM erasures')).to.deep.equal([{ entity: 'customers', hash_key: hashKey('u1'), erased_at: '2024-02-01T12:00:00.000Z' }]);
  });

  it('changes nothing when one of several ids is unknown, and names only that one', async () => {
    await lake([ada]);
    const manifest = readFileSync(path.join(tmp.settings.lakeDir, 'customers', 'ds=2024-01-15', '_SUCCESS'));
    const err = await erase(['u1', ' U1 ', 'ghost']).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(UnknownIdError);
    expect((err as UnknownIdError).ids).to.deep.equal(['ghost']);
    expect(readFileSync(path.join(tmp.settings.lakeDir, 'customers', 'ds=2024-01-15', '_SUCCESS')).equals(manifest)).to.equal(true);
  });

  it('nulls the personal columns a sat_customer made before sat_customer_pii still has, and rewords a reject that quoted a personal value', async () => {
    await lake([ada]);
    const reject = (row: object, reason: string) => `INSERT INTO rejects VALUES ('customers', '2024-01-15', '${JSON.stringify(row)}', '${reason}')`;
    await (await openWarehouse(tmp.warehouse)).exec(`
      CREATE TABLE sat_customer (hk_customer TEXT, load_date TEXT, hashdiff TEXT, first_name TEXT, second_name TEXT, type TEXT, address_city TEXT, address_street TEXT);
      INSERT INTO sat_customer VALUES ('${hashKey('u1')}', '2024-01-16', 'h1', 'Ada', 'Secretname', 'b2c', 'Berlin', 'Ravenstr');
      CREATE TABLE rejects (source TEXT, processing_date TEXT, raw_json TEXT, reason TEXT);
      ${reject({ ...ada, first_name: 42 }, 'first_name: must be a string or null (value 42)')};
      ${reject({ ...ada, id: 'u2' }, 'id: duplicate within the partition (value "u2")')};
      ${reject(ada, 'id: duplicate within the partition (value "u1")')};
      ${reject(ada, 'id: duplicate within the partition (value "u1")')};`);
    const [k] = (await erase(['u1'])).keys;
    expect([k.satelliteVersions, k.rejects], 'the two rejects alike both counted').to.deep.equal([1, 3]);
    expect(await query('SELECT first_name, second_name, type, address_city, address_street, hashdiff FROM sat_customer')).to.deep.equal([
      { first_name: null, second_name: null, type: 'b2c', address_city: 'Berlin', address_street: null, hashdiff: 'h1' },
    ]);
    const rejects = await query<{ raw_json: string; reason: string }>('SELECT raw_json, reason FROM rejects ORDER BY reason, raw_json');
    expect(rejects.map((r) => r.reason)).to.deep.equal([
      'first_name: must be a string or null (a number; personal data, not shown)',
      'id: duplicate within the partition (value "u1")',
      'id: duplicate within the partition (value "u1")',
      'id: duplicate within the partition (value "u2")',
    ]);
    for (const r of rejects.slice(0, 3)) expect(JSON.parse(r.raw_json)).to.include({ first_name: null, second_name: null, address_street: null, address_city: 'Berlin' });
    expect(JSON.parse(rejects[3].raw_json)).to.include({ second_name: 'Secretname' });
  });

  /**
   * The bytes the database keeps of the warehouse's tables: the SQLite file and its WAL; on PostgreSQL,
   * after a checkpoint, the files of every table and index of the schema (the server's own WAL aside).
   */
  async function storedBytes(): Promise<string> {
    const db = await openWarehouse(tmp.warehouse);
    if (engine === 'sqlite') return [tmp.warehouse, `${tmp.warehouse}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('');
    await db.all('CHECKPOINT');
    const [{ dir }] = await db.all<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
    const files = await db.all<{ file: string }>(
      "SELECT pg_relation_filepath(c.oid) AS file FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 't')",
    );
    return files.map(({ file }) => readFileSync(path.join(dir, file)).toString('latin1')).join('');
  }

  it("leaves no earlier version of an erased value in the database's files", async () => {
    await (await openWarehouse(tmp.warehouse)).exec(`
      CREATE TABLE customers (hk_customer TEXT, id TEXT, first_name TEXT, second_name TEXT, address_street TEXT, address_city TEXT);
      INSERT INTO customers VALUES ('${hashKey('u1')}', 'u1', 'Ada', 'Secretname', 'Ravenstr', 'Berlin');
      CREATE TABLE sat_customer_pii (hk_customer TEXT, load_date TEXT, hashdiff TEXT, first_name TEXT, second_name TEXT, address_street TEXT);
      INSERT INTO sat_customer_pii VALUES ('${hashKey('u1')}', '2024-01-16', 'h1', 'Ada', 'Secretname', 'Ravenstr');`);
    expect(await storedBytes(), 'the value is in the files before').to.include('Secretname');
    const [k] = (await erase(['u1'])).keys;
    expect([k.rawRows, k.satelliteVersions]).to.deep.equal([1, 1]);
    const bytes = await storedBytes();
    expect(bytes.includes('Secretname') || bytes.includes('Ravenstr'), 'an earlier version in the files after').to.equal(false);
  });
});
