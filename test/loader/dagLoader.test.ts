import { expect } from 'chai';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadDagBag, watchDagBag, isDagFileName, type DagBag } from '../../scheduler/dagLoader.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { useTmpDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, '..', 'fixtures', 'dags');
/** DAG files written into temp dirs import the real defineDag by absolute URL. */
const dagModule = pathToFileURL(path.resolve(here, '..', '..', 'scheduler', 'dag.ts')).href;

/** A DAG file's source with the given id and task ids (a chain). */
function dagSource(id: string, tasks: string[]): string {
  const body = tasks.map((t, i) => `    ${t}: { run: () => '${t}'${i > 0 ? `, upstream: ['${tasks[i - 1]}']` : ''} },`).join('\n');
  return `import { defineDag } from '${dagModule}';\nexport default defineDag({\n  id: '${id}',\n  schedule: '@daily',\n  startDate: '2024-01-01',\n  tasks: {\n${body}\n  },\n});\n`;
}

/** Writes a file and moves its mtime forward, so a rewrite within the same clock tick still counts as a change. */
let tick = Date.now() / 1000;
function writeFile(file: string, text: string): void {
  writeFileSync(file, text);
  tick += 2;
  utimesSync(file, tick, tick);
}

function reasonOf(bag: DagBag, name: string): string | undefined {
  return bag.errors.find((e) => path.basename(e.file) === name)?.reason;
}

describe('DAG loader', () => {
  const tmp = useTmpDir('drivetrain-loader-');

  it('loads the valid DAG of a folder and reports each broken file with its file and reason', async () => {
    const log = new RecordingLogger();
    const dir = path.join(fixtures, 'mixed');
    const bag = await loadDagBag(dir, log);

    expect([...bag.dags.keys()]).to.deep.equal(['fixture_good']);
    const good = bag.dags.get('fixture_good')!;
    expect(good.tasks.map((t) => t.id)).to.deep.equal(['extract', 'load']);
    expect(good.fileloc).to.equal(path.join(dir, 'good.ts'));

    expect(bag.errors.map((e) => path.basename(e.file))).to.deep.equal(['cycle.ts', 'no_default.ts', 'not_a_dag.ts', 'unknown_upstream.ts']);
    expect(reasonOf(bag, 'cycle.ts')).to.equal("DagDefinitionError: DAG 'fixture_cycle' has a cycle among tasks: a, b");
    expect(reasonOf(bag, 'unknown_upstream.ts')).to.equal("DagDefinitionError: DAG 'fixture_unknown_upstream': task 'load' has unknown upstream 'extrct'");
    expect(reasonOf(bag, 'no_default.ts')).to.match(/^no default export; expected `export default defineDag/);
    expect(reasonOf(bag, 'not_a_dag.ts')).to.match(/^default export is an object \(Object\); expected/);
    for (const e of bag.errors) expect(e.file).to.equal(path.join(dir, path.basename(e.file)));

    expect(log.at('error').map((l) => l.meta)).to.deep.equal(bag.errors.map((e) => ({ file: e.file, reason: e.reason })));
  });

  it('reports a syntax error and a cycle in one folder while the good DAG next to them loads', async () => {
    writeFile(path.join(tmp.dir, 'good.ts'), dagSource('good', ['a', 'b']));
    writeFile(path.join(tmp.dir, 'broken.ts'), `import { defineDag } from '${dagModule}';\nconst x = 1\nexport default defineDag({ id: 'broken' ;\n`);
    writeFile(
      path.join(tmp.dir, 'cyclic.ts'),
      `import { defineDag } from '${dagModule}';\nexport default defineDag({ id: 'cyclic', schedule: null, startDate: '2024-01-01', tasks: { x: { run: () => 1, upstream: ['y'] }, y: { run: () => 1, upstream: ['x'] } } });\n`,
    );
    const bag = await loadDagBag(tmp.dir);
    expect([...bag.dags.keys()]).to.deep.equal(['good']);
    expect(bag.errors.map((e) => path.basename(e.file))).to.deep.equal(['broken.ts', 'cyclic.ts']);
    expect(reasonOf(bag, 'broken.ts')).to.equal('SyntaxError: Expected "}" but found ";" (line 3, column 40)');
    expect(reasonOf(bag, 'cyclic.ts')).to.equal("DagDefinitionError: DAG 'cyclic' has a cycle among tasks: x, y");
  });

  it('reports a throw at module level with the line it came from', async () => {
    writeFile(path.join(tmp.dir, 'throws.ts'), `const n: number = 1;\nif (n === 1) throw new TypeError('settings missing');\nexport default n;\n`);
    const bag = await loadDagBag(tmp.dir);
    expect(bag.errors).to.have.length(1);
    expect(bag.errors[0].reason).to.equal('TypeError: settings missing (line 2)');
  });

  it('names the helper module when the syntax error or the throw is in a file the DAG imports', async () => {
    writeFile(path.join(tmp.dir, '_broken.ts'), `export const x = ;\n`);
    writeFile(path.join(tmp.dir, 'uses_broken.ts'), `import { x } from './_broken.js';\nexport default x;\n`);
    writeFile(path.join(tmp.dir, '_throws.ts'), `export function setup(): never {\n  throw new RangeError('no credentials');\n}\n`);
    writeFile(path.join(tmp.dir, 'uses_throws.ts'), `import { setup } from './_throws.js';\nexport default setup();\n`);
    const bag = await loadDagBag(tmp.dir);
    expect(reasonOf(bag, 'uses_broken.ts')).to.equal('SyntaxError in _broken.ts: Unexpected ";" (line 1, column 17)');
    expect(reasonOf(bag, 'uses_throws.ts')).to.equal('RangeError: no credentials (_throws.ts line 2)');
  });

  it('reports a missing import in one line without the folder path', async () => {
    writeFile(path.join(tmp.dir, 'imports.ts'), `import { x } from './_missing.js';\nexport default x;\n`);
    const bag = await loadDagBag(tmp.dir);
    expect(bag.errors).to.have.length(1);
    const { reason } = bag.errors[0];
    expect(reason).to.include('_missing');
    expect(reason).to.not.include('\n');
    expect(reason.length).to.be.at.most(300);
  });

  it('keeps the first file of a duplicate DAG id and names both files in the error', async () => {
    const dir = path.join(fixtures, 'duplicate');
    const bag = await loadDagBag(dir);
    expect([...bag.dags.keys()].sort()).to.deep.equal(['fixture_dup', 'fixture_other']);
    expect(bag.dags.get('fixture_dup')!.tasks[0].id).to.equal('first');
    expect(bag.errors).to.deep.equal([
      { file: path.join(dir, 'b_second.ts'), reason: `duplicate DAG id 'fixture_dup': already defined in ${path.join(dir, 'a_first.ts')}` },
    ]);
  });

  it('ignores declaration files, helper files and hidden files', () => {
    expect(isDagFileName('daily.ts')).to.equal(true);
    expect(isDagFileName('types.d.ts')).to.equal(false);
    expect(isDagFileName('_common.ts')).to.equal(false);
    expect(isDagFileName('.daily.ts')).to.equal(false);
    expect(isDagFileName('daily.js')).to.equal(false);
    expect(isDagFileName('daily.ts.swp')).to.equal(false);
  });

  it('returns an empty bag for an empty folder and rejects for a missing one', async () => {
    const bag = await loadDagBag(tmp.dir);
    expect(bag.dags.size).to.equal(0);
    expect(bag.errors).to.deep.equal([]);
    let caught: unknown;
    await loadDagBag(path.join(tmp.dir, 'nope')).catch((e: unknown) => (caught = e));
    expect((caught as NodeJS.ErrnoException).code).to.equal('ENOENT');
  });

  it('does not re-evaluate an unchanged file when the folder is loaded again', async () => {
    const file = path.join(tmp.dir, 'counted.ts');
    const key = `__drivetrain_loader_count_${path.basename(tmp.dir)}`;
    writeFile(file, `const g = globalThis as Record<string, number>;\ng['${key}'] = (g['${key}'] ?? 0) + 1;\n${dagSource('counted', ['a'])}`);
    const first = await loadDagBag(tmp.dir);
    const second = await loadDagBag(tmp.dir);
    expect((globalThis as Record<string, unknown>)[key]).to.equal(1);
    expect(second.dags.get('counted')).to.equal(first.dags.get('counted'));
    writeFile(file, `const g = globalThis as Record<string, number>;\ng['${key}'] = (g['${key}'] ?? 0) + 1;\n${dagSource('counted', ['a', 'b'])}`);
    const third = await loadDagBag(tmp.dir);
    expect((globalThis as Record<string, unknown>)[key]).to.equal(2);
    expect(third.dags.get('counted')!.tasks.map((t) => t.id)).to.deep.equal(['a', 'b']);
  });

  it('reports a file whose top-level await waits on nothing as never settling', async () => {
    // Top-level await needs an ES module scope.
    writeFileSync(path.join(tmp.dir, 'package.json'), '{"type":"module"}\n');
    writeFile(path.join(tmp.dir, 'hangs.ts'), `await new Promise(() => {});\nexport default 1;\n`);
    writeFile(path.join(tmp.dir, 'fine.ts'), dagSource('fine', ['a']));
    const bag = await loadDagBag(tmp.dir);
    expect([...bag.dags.keys()]).to.deep.equal(['fine']);
    expect(bag.errors.map((e) => e.reason)).to.deep.equal(['Error: import never settled (a top-level await on nothing) in hangs.ts']);
  });

  it('reports a file whose top-level await outlasts the import timeout', async () => {
    writeFileSync(path.join(tmp.dir, 'package.json'), '{"type":"module"}\n');
    // A timer keeps the probe's thread alive, so it is the time limit that stops this import.
    writeFile(path.join(tmp.dir, 'slow.ts'), `await new Promise((resolve) => setTimeout(resolve, 600_000));\nexport default 1;\n`);
    writeFile(path.join(tmp.dir, 'fine.ts'), dagSource('fine', ['a']));
    const bag = await loadDagBag(tmp.dir, undefined, { importTimeoutMs: 1500 });
    expect([...bag.dags.keys()]).to.deep.equal(['fine']);
    expect(bag.errors.map((e) => e.reason)).to.deep.equal(['Error: import did not finish within 1500 ms (an endless loop or a top-level await?) in slow.ts']);
  });

  it('reports a file whose top level spins as itself, loads the file next to it, and never runs the loop in this thread', async () => {
    const key = `__drivetrain_loader_spin_${path.basename(tmp.dir)}`;
    // The loop ends, long after the time limit, so that a loader without the probe finishes this test
    // (and fails it) instead of freezing the test run.
    writeFile(
      path.join(tmp.dir, 'spins.ts'),
      `(globalThis as Record<string, unknown>)['${key}'] = true;\nconst end = Date.now() + 6000;\nwhile (Date.now() < end) {}\nexport default 1;\n`,
    );
    writeFile(path.join(tmp.dir, 'innocent.ts'), dagSource('innocent', ['a']));
    const bag = await loadDagBag(tmp.dir, undefined, { importTimeoutMs: 2000 });
    expect([...bag.dags.keys()]).to.deep.equal(['innocent']);
    expect(bag.errors).to.deep.equal([
      { file: path.join(tmp.dir, 'spins.ts'), reason: 'Error: import did not finish within 2000 ms (an endless loop or a top-level await?) in spins.ts' },
    ]);
    expect((globalThis as Record<string, unknown>)[key], 'the spinning top level ran in the loading thread').to.equal(undefined);
  });

  it('reports a file that ends its thread at top level instead of importing it here', async () => {
    writeFile(path.join(tmp.dir, 'exits.ts'), `process.exit(3);\nexport default 1;\n`);
    writeFile(path.join(tmp.dir, 'innocent.ts'), dagSource('innocent', ['a']));
    const bag = await loadDagBag(tmp.dir);
    expect([...bag.dags.keys()]).to.deep.equal(['innocent']);
    expect(bag.errors.map((e) => e.reason)).to.deep.equal(['Error: import ended the thread with exit code 3 (process.exit?)']);
  });

  for (const scope of ['CommonJS', 'ES module'] as const) {
    describe(`helper modules in the DAG folder (${scope} scope)`, () => {
      let dags: string;
      let counterKey: string;
      beforeEach(() => {
        if (scope === 'ES module') writeFileSync(path.join(tmp.dir, 'package.json'), '{"type":"module"}\n');
        dags = path.join(tmp.dir, 'dags');
        mkdirSync(dags);
        // A module outside the DAG folder that counts its evaluations.
        counterKey = `__drivetrain_shared_${path.basename(tmp.dir)}`;
        writeFile(path.join(tmp.dir, 'shared.ts'), `const g = globalThis as Record<string, number>;\ng['${counterKey}'] = (g['${counterKey}'] ?? 0) + 1;\nexport const prefix = 'step_';\n`);
        writeFile(
          path.join(dags, 'uses_helper.ts'),
          `import { defineDag } from '${dagModule}';\nimport { prefix } from '../shared.js';\nimport { steps } from './_steps.js';\n` +
            `export default defineDag({ id: 'uses_helper', schedule: null, startDate: '2024-01-01', tasks: Object.fromEntries(steps.map((s) => [prefix + s, { run: () => s }])) });\n`,
        );
      });

      it('re-evaluates a DAG file when only its helper changed, but not modules outside the folder', async () => {
        writeFile(path.join(dags, '_steps.ts'), `export const steps: string[] = ['a'];\n`);
        const first = await loadDagBag(dags);
        expect(first.dags.get('uses_helper')!.tasks.map((t) => t.id)).to.deep.equal(['step_a']);
        writeFile(path.join(dags, '_steps.ts'), `export const steps: string[] = ['a', 'b'];\n`);
        const second = await loadDagBag(dags);
        expect(second.errors).to.deep.equal([]);
        expect(second.dags.get('uses_helper')!.tasks.map((t) => t.id)).to.deep.equal(['step_a', 'step_b']);
        expect((globalThis as Record<string, unknown>)[counterKey]).to.equal(1);
      });

      it('loads the DAG again once a broken helper is fixed', async () => {
        writeFile(path.join(dags, '_steps.ts'), `export const steps: string[] = [;\n`);
        const broken = await loadDagBag(dags);
        expect(broken.errors.map((e) => e.reason)).to.deep.equal(['SyntaxError in _steps.ts: Unexpected ";" (line 1, column 32)']);
        writeFile(path.join(dags, '_steps.ts'), `export const steps: string[] = ['fixed'];\n`);
        const fixed = await loadDagBag(dags);
        expect(fixed.errors).to.deep.equal([]);
        expect(fixed.dags.get('uses_helper')!.tasks.map((t) => t.id)).to.deep.equal(['step_fixed']);
      });
    });
  }

  // tsx loads a .ts file as CommonJS outside a "type": "module" package (e.g. a temp dir) and as an ES
  // module inside one; the cache-busting query works differently in each, so both are exercised.
  for (const scope of ['CommonJS', 'ES module'] as const) {
    describe(`watching a folder (${scope} scope)`, () => {
      let watcher: { close(): void } | undefined;
      let bags: DagBag[];
      let waiters: ((bag: DagBag) => void)[];
      // No deadline of its own: a reload imports the file in a worker, which on a loaded machine can
      // take longer than any guess; mocha's test timeout ends a reload that never comes.
      const nextBag = (): Promise<DagBag> => new Promise((resolve) => waiters.push(resolve));

      beforeEach(async () => {
        if (scope === 'ES module') writeFileSync(path.join(tmp.dir, 'package.json'), '{"type":"module"}\n');
        writeFile(path.join(tmp.dir, 'daily.ts'), dagSource('daily', ['extract']));
        await loadDagBag(tmp.dir);
        bags = [];
        waiters = [];
        watcher = watchDagBag(
          tmp.dir,
          (bag) => {
            bags.push(bag);
            waiters.shift()?.(bag);
          },
          undefined,
          { debounceMs: 50, pollMs: 0 },
        );
      });
      afterEach(() => watcher?.close());

      it('reloads a DAG file after it changes', async () => {
        const next = nextBag();
        writeFile(path.join(tmp.dir, 'daily.ts'), dagSource('daily', ['extract', 'load']));
        const bag = await next;
        expect(bag.dags.get('daily')!.tasks.map((t) => t.id)).to.deep.equal(['extract', 'load']);
      });

      it('loads a file again once its syntax error is fixed', async () => {
        let next = nextBag();
        writeFile(path.join(tmp.dir, 'daily.ts'), `${dagSource('daily', ['extract'])}\nconst oops = ;\n`);
        let bag = await next;
        expect(bag.dags.size).to.equal(0);
        expect(bag.errors[0].reason).to.match(/^SyntaxError: Unexpected ";" \(line \d+, column \d+\)$/);

        next = nextBag();
        writeFile(path.join(tmp.dir, 'daily.ts'), dagSource('daily', ['extract', 'transform']));
        bag = await next;
        expect(bag.errors).to.deep.equal([]);
        expect(bag.dags.get('daily')!.tasks.map((t) => t.id)).to.deep.equal(['extract', 'transform']);
      });

      it('picks up a new file and drops a removed one', async () => {
        let next = nextBag();
        writeFile(path.join(tmp.dir, 'monthly.ts'), dagSource('monthly', ['report']));
        let bag = await next;
        expect([...bag.dags.keys()].sort()).to.deep.equal(['daily', 'monthly']);

        next = nextBag();
        rmSync(path.join(tmp.dir, 'daily.ts'));
        bag = await next;
        expect([...bag.dags.keys()]).to.deep.equal(['monthly']);
      });

      it('calls back once for a burst of writes and not after close', async () => {
        const next = nextBag();
        for (let i = 0; i < 5; i++) writeFile(path.join(tmp.dir, 'daily.ts'), dagSource('daily', ['extract', `step${i}`]));
        const bag = await next;
        expect(bag.dags.get('daily')!.tasks.map((t) => t.id)).to.deep.equal(['extract', 'step4']);
        // A later change is the checkpoint: file events arrive in order, so a second call for the
        // burst would come before the call for this change.
        const marker = nextBag();
        writeFile(path.join(tmp.dir, 'marker.ts'), dagSource('marker', ['a']));
        expect([...(await marker).dags.keys()].sort()).to.deep.equal(['daily', 'marker']);
        expect(bags).to.have.length(2);

        watcher!.close();
        // A second watcher on the folder witnesses the write: once it has called back, the closed one would have too.
        const witnessed = new Promise<DagBag>((resolve) => {
          const witness = watchDagBag(tmp.dir, (b) => (witness.close(), resolve(b)), undefined, { debounceMs: 50, pollMs: 0 });
        });
        writeFile(path.join(tmp.dir, 'daily.ts'), dagSource('daily', ['after_close']));
        expect((await witnessed).dags.get('daily')!.tasks.map((t) => t.id)).to.deep.equal(['after_close']);
        expect(bags).to.have.length(2);
      });
    });
  }

  it('starts watching a folder that does not exist yet and loads it once it appears', async () => {
    const later = path.join(tmp.dir, 'later');
    const log = new RecordingLogger();
    let arrived!: (bag: DagBag) => void;
    const loaded = new Promise<DagBag>((resolve) => (arrived = resolve));
    const w = watchDagBag(later, (b) => b.dags.has('arrived') && arrived(b), log, { debounceMs: 20, pollMs: 50 });
    try {
      expect(log.lines.map((l) => l.level)).to.include('warn');
      mkdirSync(later);
      writeFile(path.join(later, 'arrived.ts'), dagSource('arrived', ['a']));
      expect((await loaded).dags.has('arrived')).to.equal(true);
    } finally {
      w.close();
    }
  });

  it('notices a change by polling alone when file events are off', async () => {
    writeFile(path.join(tmp.dir, 'polled.ts'), dagSource('polled', ['a']));
    await loadDagBag(tmp.dir);
    let polled!: (bag: DagBag) => void;
    const seen = new Promise<DagBag>((resolve) => (polled = resolve));
    const w = watchDagBag(tmp.dir, (b) => polled(b), undefined, { debounceMs: 50, pollMs: 100, fsEvents: false });
    try {
      writeFile(path.join(tmp.dir, 'polled.ts'), dagSource('polled', ['a', 'b']));
      expect((await seen).dags.get('polled')!.tasks).to.have.length(2);
    } finally {
      w.close();
    }
  });
});
