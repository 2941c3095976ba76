import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractTask } from '../../operators/extract/extractTask.js';
import { resetBreakers } from '../../operators/extract/breakers.js';
import { LakePartitionError } from '../../operators/lake/LakePartitionError.js';
import { decodeLines, firstInvalidUtf8 } from '../../operators/lake/lines.js';
import { readLakeBlocks, readLakePartition, readManifest, type LakeBlock } from '../../operators/lake/reader.js';
import { rewritePartition } from '../../operators/lake/rewrite.js';
import { LakePartitionWriter } from '../../operators/lake/writer.js';
import { GeneratedRowSource } from '../../source/rowSource.js';
import { startSourceServer } from '../../source/server.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testEnv, testSettings, useTmpDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DS = '2024-01-15';

async function collect(lakeDir: string, entity: string, ds = DS): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const r of readLakePartition(lakeDir, entity, ds)) rows.push(r);
  return rows;
}

describe('raw data lake', () => {
  const tmp = useTmpDir('ingest-lake-');

  it('writes parts of N rows with a manifest of rows, bytes and sha256, and reads them back in order', async () => {
    const lake = path.join(tmp.dir, 'lake');
    const w = await LakePartitionWriter.open(lake, 'cars', DS, { partRows: 3 });
    await w.writeLines(['{"id":"1"}', '{"id":"2"}']);
    await w.writeLines(['{"id":"3"}', '{"id":"4"}']);
    await w.writeLines(['{"id":"5"}']);
    const m = await w.commit('http://src/cars/', new Date('2024-01-16T01:02:03Z'));
    expect(m.rows).to.equal(5);
    expect(m.parts.map((p) => [p.file, p.rows])).to.deep.equal([['part-00000.ndjson.gz', 4], ['part-00001.ndjson.gz', 1]]);
    for (const p of m.parts) expect(p.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(readdirSync(path.join(lake, 'cars'))).to.deep.equal([`ds=${DS}`]);
    expect(await readManifest(lake, 'cars', DS)).to.deep.equal(m);
    expect((await collect(lake, 'cars')).map((r) => r.id)).to.deep.equal(['1', '2', '3', '4', '5']);
  });

  it('reads a partition in blocks of whole lines as bytes, across parts, the last block shorter', async () => {
    const lake = path.join(tmp.dir, 'lake');
    const w = await LakePartitionWriter.open(lake, 'cars', DS, { partRows: 3 });
    const lines = ['{"id":"1","city":"München"}', '{"id":"2"}', '{"id":"3"}', '{"id":"4"}', '{"id":"5"}'];
    await w.writeLines(lines);
    await w.commit('http://src/cars/', new Date('2024-01-16T01:02:03Z'));
    const blocks: LakeBlock[] = [];
    for await (const b of readLakeBlocks(lake, 'cars', DS, { linesPerBlock: 2 })) blocks.push(b);
    expect(blocks.map((b) => b.lines)).to.deep.equal([2, 2, 1]);
    expect(blocks.map((b) => decodeLines(b.bytes)).flat()).to.deep.equal(lines);
    expect(blocks[2].bytes.toString()).to.equal('{"id":"5"}\n');
  });

  it('reads blocks ahead while the caller holds one, and a part failing its checksum reaches the caller as an error, not as an unhandled rejection', async () => {
    const lake = path.join(tmp.dir, 'lake');
    const w = await LakePartitionWriter.open(lake, 'cars', DS, { partRows: 2 });
    for (const lines of [['{"id":"1"}', '{"id":"2"}'], ['{"id":"3"}', '{"id":"4"}'], ['{"id":"5"}']]) await w.writeLines(lines);
    const m = await w.commit('u', new Date());
    expect(m.parts.map((p) => p.rows)).to.deep.equal([2, 2, 1]);
    writeFileSync(path.join(lake, 'cars', `ds=${DS}`, '_SUCCESS'), JSON.stringify({ ...m, parts: [m.parts[0], { ...m.parts[1], sha256: '0'.repeat(64) }, m.parts[2]] }));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const blocks = readLakeBlocks(lake, 'cars', DS, { linesPerBlock: 1, readAhead: 5 });
      expect((await blocks.next()).value?.bytes.toString()).to.equal('{"id":"1"}\n');
      // While the caller holds its first block, the reader runs ahead into the broken part.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).to.deep.equal([]);
      const read: string[] = [];
      const err = await (async () => {
        for await (const b of blocks) read.push(b.bytes.toString());
      })().then(() => undefined, (e: unknown) => e);
      expect(read).to.deep.equal(['{"id":"2"}\n', '{"id":"3"}\n', '{"id":"4"}\n']);
      expect(err).to.be.instanceOf(LakePartitionError);
      expect((err as Error).message).to.match(/part-00001\.ndjson\.gz has \d+ bytes, sha256/);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('decodes a block in pieces without splitting a long line or a multi-byte character', () => {
    const long = `{"id":"x","note":"${'ä'.repeat(70_000)}"}`;
    const lines = ['{"id":"a"}', long, '', 'ß'.repeat(40_000), '{"id":"b"}'];
    expect(decodeLines(Buffer.from(lines.map((l) => `${l}\n`).join('')))).to.deep.equal(lines);
    expect(decodeLines(Buffer.alloc(0))).to.deep.equal([]);
    expect(() => decodeLines(Buffer.from('{"id":"a"}\n{"id"'))).to.throw(RangeError, 'a block of lake lines must end with a newline; its last byte is 34');
  });

  it('names the lines of a block whose bytes are not UTF-8, also in a line longer than a piece, and no valid one', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"id":"a","t":"\uFFFD ok"}\n'), // a U+FFFD the source sent, validly encoded
      Buffer.from('{"id":"b","t":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}\n'), // a sequence cut short
      Buffer.from(`{"id":"c","t":"${'é'.repeat(40_000)}`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n'), // a surrogate, 80 KB in
      Buffer.from('{"id":"d"}\n'),
    ]);
    const lines = decodeLines(bytes);
    expect(lines).to.have.length(4);
    expect([...(lines.undecodable ?? [])]).to.deep.equal([
      [1, 'row: not valid UTF-8 (byte 0xe2 at byte 15 of the row)'],
      [2, 'row: not valid UTF-8 (byte 0xed at byte 80015 of the row)'],
    ]);
    expect(decodeLines(Buffer.from('{"id":"\uFFFD"}\n{"id":"ä"}\n')).undecodable).to.equal(undefined);
  });

  it('finds the first byte that is not UTF-8 exactly where a fatal TextDecoder refuses', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array): boolean => {
      try {
        fatal.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    // Every lead byte with second bytes at each range's edges, then short and long random sequences.
    const cases: number[][] = [];
    for (let lead = 0; lead < 256; lead++) for (const second of [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0]) cases.push([lead, second, 0x80, 0x80, 0x41]);
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (let k = 0; k < 20_000; k++) cases.push(Array.from({ length: 1 + (k % 6) }, () => (k % 3 === 0 ? 0x80 | (next() & 0x7f) : next())));
    for (const c of cases) {
      const b = Uint8Array.from(c);
      const at = firstInvalidUtf8(b, 0, b.length);
      expect(at < 0, c.join(',')).to.equal(valid(b));
      if (at >= 0) expect(valid(b.subarray(0, at)), `${c.join(',')}: prefix`).to.equal(true);
    }
  });

  it('refuses a partition without _SUCCESS and one whose part does not match the manifest', async () => {
    const lake = path.join(tmp.dir, 'lake');
    let err: unknown = await collect(lake, 'cars').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LakePartitionError);
    expect((err as Error).message).to.match(/missing or incomplete/);

    const w = await LakePartitionWriter.open(lake, 'cars', DS);
    await w.writeLines(['{"id":"1"}']);
    const m = await w.commit('u', new Date());
    const manifestFile = path.join(lake, 'cars', `ds=${DS}`, '_SUCCESS');
    writeFileSync(manifestFile, JSON.stringify({ ...m, parts: [{ ...m.parts[0], sha256: '0'.repeat(64) }] }));
    err = await collect(lake, 'cars').catch((e: unknown) => e);
    expect((err as Error).message).to.match(/sha256/);
    writeFileSync(manifestFile, JSON.stringify({ ...m, rows: 2, parts: [{ ...m.parts[0], rows: 2 }] }));
    err = await collect(lake, 'cars').catch((e: unknown) => e);
    expect((err as Error).message).to.match(/has 1 rows; the manifest says 2/);
  });

  it('rewrites chosen lines in place: other lines keep their bytes, only changed parts are replaced, under a new manifest the reader accepts', async () => {
    const lake = path.join(tmp.dir, 'lake');
    const w = await LakePartitionWriter.open(lake, 'customers', DS, { partRows: 2 });
    const lines = ['{"id":"1",  "n":"a"}', '{"id":"2","n":"b"}', '{"id":"3","n":"Secret"}', '{"id":"4","n":"d"}', '{ "id" : "5" }'];
    // A part closes once a write reaches partRows: two lines per write, three parts.
    for (let i = 0; i < lines.length; i += 2) await w.writeLines(lines.slice(i, i + 2));
    const before = await w.commit('http://user:***@src/customers/', new Date('2024-01-16T01:02:03Z'));
    const dir = path.join(lake, 'customers', `ds=${DS}`);

    const result = await rewritePartition(lake, 'customers', DS, (line) => (line.toString().includes('Secret') ? Buffer.from('{"id":"3","n":null}') : undefined));
    expect(result).to.deep.equal({ lines: 1, parts: 1 });
    const after = await readManifest(lake, 'customers', DS);
    expect({ ...after, parts: [] }).to.deep.equal({ ...before, parts: [] });
    expect(after.parts[0]).to.deep.equal(before.parts[0]);
    expect(after.parts[2]).to.deep.equal(before.parts[2]);
    expect(after.parts[1].file).to.match(/^part-00001\.[0-9a-f]{8}\.ndjson\.gz$/);
    expect(after.parts[1].rows).to.equal(2);
    expect(readdirSync(dir).sort()).to.deep.equal(['_SUCCESS', 'part-00000.ndjson.gz', after.parts[1].file, 'part-00002.ndjson.gz'].sort());
    const read: string[] = [];
    for await (const block of readLakeBlocks(lake, 'customers', DS, { linesPerBlock: 10 })) read.push(...decodeLines(block.bytes));
    expect(read).to.deep.equal([lines[0], lines[1], '{"id":"3","n":null}', lines[3], lines[4]]);
  });

  it('writes nothing when a rewrite changes no line', async () => {
    const lake = path.join(tmp.dir, 'lake');
    const w = await LakePartitionWriter.open(lake, 'customers', DS, { partRows: 2 });
    await w.writeLines(['{"id":"1"}', '{"id":"2"}']);
    await w.writeLines(['{"id":"3"}']);
    await w.commit('http://src/customers/', new Date('2024-01-16T01:02:03Z'));
    const dir = path.join(lake, 'customers', `ds=${DS}`);
    const manifest = readFileSync(path.join(dir, '_SUCCESS'));
    expect(await rewritePartition(lake, 'customers', DS, () => undefined)).to.deep.equal({ lines: 0, parts: 0 });
    expect(readFileSync(path.join(dir, '_SUCCESS')).equals(manifest)).to.equal(true);
    expect(readdirSync(dir).sort()).to.deep.equal(['_SUCCESS', 'part-00000.ndjson.gz', 'part-00001.ndjson.gz']);
  });

  it('replaces a partition on a rerun and keeps the old one when a write is aborted', async () => {
    const lake = path.join(tmp.dir, 'lake');
    const first = await LakePartitionWriter.open(lake, 'cars', DS);
    await first.writeLines(['{"id":"old"}']);
    await first.commit('u', new Date());
    const aborted = await LakePartitionWriter.open(lake, 'cars', DS);
    await aborted.writeLines(['{"id":"never"}']);
    await aborted.abort();
    expect((await collect(lake, 'cars')).map((r) => r.id)).to.deep.equal(['old']);
    const second = await LakePartitionWriter.open(lake, 'cars', DS);
    await second.writeLines(['{"id":"new1"}', '{"id":"new2"}']);
    await second.commit('u', new Date());
    expect((await collect(lake, 'cars')).map((r) => r.id)).to.deep.equal(['new1', 'new2']);
    expect(readdirSync(path.join(lake, 'cars'))).to.deep.equal([`ds=${DS}`]);
  });

  it('leaves no complete-looking partition when the extracting process is killed mid-write', async function () {
    this.timeout(30_000);
    const server = await startSourceServer({ source: new GeneratedRowSource({ cars: 200, customers: 1, subscriptions: 0 }, 3), faults: { latencyMs: 60 } });
    const env = testEnv(tmp.dir, { DRIVETRAIN_SOURCE_URL: server.url, DRIVETRAIN_SOURCE_PAGE_SIZE: '10' });
    const settings = testSettings(tmp.dir, { DRIVETRAIN_SOURCE_URL: server.url, DRIVETRAIN_SOURCE_PAGE_SIZE: '10' });
    const entityDir = path.join(settings.lakeDir, 'cars');
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'extractChild.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(child, 'exit');
      // Kill it once it has fetched several pages and written at least one part file.
      const deadline = Date.now() + 20_000;
      const tmpParts = (): string[] =>
        existsSync(entityDir) ? readdirSync(entityDir).filter((d) => d.startsWith(`.ds=${DS}.tmp-`)).flatMap((d) => readdirSync(path.join(entityDir, d))) : [];
      while (!(server.dataRequests() >= 6 && tmpParts().length > 0)) {
        if (Date.now() > deadline) throw new Error('the child never got going');
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGKILL');
      const [, signal] = await exited;
      expect(signal).to.equal('SIGKILL');
      expect(server.dataRequests()).to.be.lessThan(20);

      // The half-written data is only in a hidden temporary directory; readers refuse the partition.
      expect(readdirSync(entityDir).some((d) => d.startsWith(`.ds=${DS}.tmp-${child.pid}-`))).to.equal(true);
      expect(existsSync(path.join(entityDir, `ds=${DS}`))).to.equal(false);
      const err = await readManifest(settings.lakeDir, 'cars', DS).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(LakePartitionError);

      // A rerun completes the partition and clears the dead writer's leftovers.
      server.faults.latencyMs = 0;
      await extractTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }));
      expect(readdirSync(entityDir)).to.deep.equal([`ds=${DS}`]);
      expect((await collect(settings.lakeDir, 'cars')).length).to.equal(200);
      const manifest = JSON.parse(readFileSync(path.join(entityDir, `ds=${DS}`, '_SUCCESS'), 'utf8')) as { rows: number };
      expect(manifest.rows).to.equal(200);
    } finally {
      await server.close();
      resetBreakers();
    }
  });
});
