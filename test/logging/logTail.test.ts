import { expect } from 'chai';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { attemptLogPath, type AttemptRef } from '../../scheduler/logging.js';
import { LogTail, MAX_LINE_BYTES, offsetOfLastLines, splitLines } from '../../scheduler/logTail.js';
import { useTmpDir } from '../helpers/tmp.js';

/** What offsetOfLastLines says the last `n` lines of `file` are. */
function lastLinesOf(file: string, n: number): string {
  const fd = openSync(file, 'r');
  try {
    return readFileSync(file).subarray(offsetOfLastLines(fd, statSync(file).size, n)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

describe('log tail', () => {
  const tmp = useTmpDir('drivetrain-tail-');

  describe('finding the last lines of a file', () => {
    it('counts a final line without a newline and stops at the start of the file', () => {
      const f = path.join(tmp.dir, 'a.log');
      writeFileSync(f, 'one\ntwo\nthree\n');
      expect(lastLinesOf(f, 2)).to.equal('two\nthree\n');
      expect(lastLinesOf(f, 5)).to.equal('one\ntwo\nthree\n');
      expect(lastLinesOf(f, 0)).to.equal('');
      writeFileSync(f, 'one\ntwo\npartial');
      expect(lastLinesOf(f, 1)).to.equal('partial');
      expect(lastLinesOf(f, 2)).to.equal('two\npartial');
      writeFileSync(f, '');
      expect(lastLinesOf(f, 3)).to.equal('');
    });

    it('reads backwards across chunk boundaries in a large file', () => {
      const f = path.join(tmp.dir, 'big.log');
      const lines = Array.from({ length: 20_000 }, (_v, i) => `line ${i} ${'x'.repeat(i % 50)}`);
      writeFileSync(f, `${lines.join('\n')}\n`);
      expect(lastLinesOf(f, 3000)).to.equal(`${lines.slice(-3000).join('\n')}\n`);
    });
  });

  describe('splitting chunks into lines', () => {
    it('holds back an unterminated rest, also one cut inside a multi-byte character, and drops a CR before LF', () => {
      const bytes = Buffer.from('größe\r\nnächste Zeile\n€ rest', 'utf8');
      // Cut in the middle of the 3-byte euro sign.
      const cut = bytes.indexOf(Buffer.from('€', 'utf8')) + 1;
      const first = splitLines(Buffer.alloc(0), bytes.subarray(0, cut));
      expect(first.lines).to.deep.equal(['größe', 'nächste Zeile']);
      const second = splitLines(first.rest, Buffer.concat([bytes.subarray(cut), Buffer.from('\n')]));
      expect(second.lines).to.deep.equal(['€ rest']);
      expect(second.rest.length).to.equal(0);
    });
  });

  it('gives up holding a line without a newline once it passes the line limit', () => {
    const big = Buffer.alloc(MAX_LINE_BYTES + 10, 0x61);
    const { lines, rest } = splitLines(Buffer.from('x\n'), big);
    expect(lines.map((l) => l.length)).to.deep.equal([1, MAX_LINE_BYTES + 10]);
    expect(rest.length).to.equal(0);
  });

  describe('following', () => {
    const ref: AttemptRef = { dagId: 'd', runId: 'r1', taskId: 't', attempt: 1 };
    let out: string;
    let tail: LogTail | undefined;
    const waitFor = async (text: string): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`'${text}' not printed; got: ${out}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const follow = async (o: { hotMs?: number; fullScanEvery?: number } = {}): Promise<void> => {
      tail = new LogTail({
        logDir: tmp.dir,
        filter: {},
        attempts: true,
        scheduler: false,
        initialLines: Infinity,
        intervalMs: 20,
        ...o,
        write: (t) => void (out += t),
      });
      await tail.start();
    };
    beforeEach(() => {
      out = '';
    });
    afterEach(async () => {
      await tail?.stop();
    });

    it('still sees quiet files and directories change, on a full scan', async () => {
      const file = attemptLogPath(tmp.dir, ref);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'first\n');
      await follow({ hotMs: 30, fullScanEvery: 5 });
      await waitFor('first');
      // Let every file and directory go cold, then change both kinds.
      await new Promise((r) => setTimeout(r, 150));
      appendFileSync(file, 'appended while cold\n');
      const retry = attemptLogPath(tmp.dir, { ...ref, attempt: 2 });
      writeFileSync(retry, 'retry in a cold directory\n');
      await waitFor('[d/t/r1#1] appended while cold\n');
      await waitFor('[d/t/r1#2] retry in a cold directory\n');
    });

    it('prints a file that grew by more than one poll reads, every line in order', async () => {
      const file = attemptLogPath(tmp.dir, ref);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, '');
      await follow();
      // ~10 MB in one go: more than MAX_READ_PER_POLL, so it arrives over several polls.
      const lines = Array.from({ length: 100_000 }, (_v, i) => `line ${i} ${'y'.repeat(90)}`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      await waitFor('line 99999 ');
      const got = out.trimEnd().split('\n');
      expect(got).to.have.length(100_000);
      expect(got[0]).to.equal(`[d/t/r1#1] ${lines[0]}`);
      expect(got.every((l, i) => l === `[d/t/r1#1] ${lines[i]}`)).to.equal(true);
    });

    it('carries on when retention removes a followed run, and sees a run created afterwards', async () => {
      const file = attemptLogPath(tmp.dir, ref);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'old run\n');
      await follow();
      await waitFor('old run');
      rmSync(path.join(tmp.dir, 'dag_id=d'), { recursive: true });
      await new Promise((r) => setTimeout(r, 100));
      const next = attemptLogPath(tmp.dir, { ...ref, runId: 'r2' });
      mkdirSync(path.dirname(next), { recursive: true });
      writeFileSync(next, 'new run\n');
      await waitFor('[d/t/r2#1] new run\n');
      expect(out).to.equal('[d/t/r1#1] old run\n[d/t/r2#1] new run\n');
    });

    it("follows a mapped instance's attempts in its map_index directory, created after the task's own log", async () => {
      const file = attemptLogPath(tmp.dir, ref);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'expanded into 2 mapped instance(s)\n');
      await follow();
      await waitFor('expanded');
      const mapped = attemptLogPath(tmp.dir, { ...ref, mapIndex: 1 });
      mkdirSync(path.dirname(mapped), { recursive: true });
      writeFileSync(mapped, 'loading us\n');
      await waitFor('[d/t[1]/r1#1] loading us\n');
      appendFileSync(mapped, 'loaded us\n');
      await waitFor('[d/t[1]/r1#1] loaded us\n');
    });

    it('starts a truncated file again from its beginning', async () => {
      const file = attemptLogPath(tmp.dir, ref);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'a long first version of the file\n');
      await follow();
      await waitFor('first version');
      truncateSync(file, 0);
      appendFileSync(file, 'short\n');
      await waitFor('[d/t/r1#1] short\n');
    });

    it('prints a pending partial line when stopped', async () => {
      const file = attemptLogPath(tmp.dir, ref);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'whole\nhalf a li');
      await follow();
      await waitFor('whole');
      expect(out).to.not.include('half');
      await tail!.stop();
      expect(out).to.equal('[d/t/r1#1] whole\n[d/t/r1#1] half a li\n');
    });
  });
});
