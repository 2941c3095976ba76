/** Pieces of an attempt log by byte offset: never a split character, a tail from a line start, and pieces that join back into the file. */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { readLogChunk } from '../../scheduler/web/logChunk.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('reading a log piece by byte offset', () => {
  const tmp = useTmpDir('drivetrain-logchunk-');
  const text = Array.from({ length: 40 }, (_, i) => `line ${i} grüße ✓ 日本\n`).join('');

  it('reads the file in small pieces that decode alone and join back into it', async () => {
    const file = tmp.path('attempt=1.log');
    writeFileSync(file, text);
    let offset = 0;
    let joined = '';
    for (let i = 0; i < 1000 && offset < Buffer.byteLength(text); i++) {
      const c = (await readLogChunk(file, { offset, limit: 7 }))!;
      expect(c.bytes.toString('utf8'), `piece at ${offset}`).not.to.contain('\uFFFD');
      joined += c.bytes.toString('utf8');
      expect(c.next).to.be.greaterThan(offset);
      offset = c.next;
    }
    expect(joined).to.equal(text);
  });

  it('starts a tail at a line start, and the part before it ends exactly there', async () => {
    const file = tmp.path('attempt=1.log');
    writeFileSync(file, text);
    const tail = (await readLogChunk(file, { tail: 100, limit: 1 << 20 }))!;
    expect(tail.bytes.toString('utf8')).to.match(/^line \d+ /);
    expect(tail.next).to.equal(Buffer.byteLength(text));
    const before = (await readLogChunk(file, { offset: 0, limit: tail.start }))!;
    expect(before.bytes.toString('utf8') + tail.bytes.toString('utf8')).to.equal(text);
  });

  it('answers undefined for a file that does not exist yet', async () => {
    expect(await readLogChunk(tmp.path('attempt=2.log'), { offset: 0, limit: 10 })).to.equal(undefined);
  });
});
