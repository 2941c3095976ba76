import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgram, parseCommandLine } from '../../scheduler/cli/program.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { addSourceCommand } from '../../source/cli.js';
import { spawnSourceProcess } from '../../source/spawnSource.js';
import { SCHEDULER_DEFINITION_MODULES, recordedImports, repoModulesLoaded } from '../helpers/importedModules.js';
import { useTmpDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

describe('drivetrain source command', () => {
  const tmp = useTmpDir('drivetrain-source-');

  it('refuses to start without a data source or with a bad flag value, quoting it', async () => {
    // The bin's own definition and parser, in-process; a fresh program per call, as commander parses once.
    const fail = (argv: string[]): Promise<unknown> => {
      const program = createProgram('drivetrain', 'the source command alone');
      addSourceCommand(program);
      return parseCommandLine(program, argv).then(() => undefined, (e: unknown) => e);
    };
    expect(await fail(['source'])).to.be.instanceOf(UsageError);
    const bad = (await fail(['source', '--generate', '--fail-rate', '2'])) as Error;
    expect(bad).to.be.instanceOf(UsageError);
    expect(bad.message).to.equal("--fail-rate '2' is not a share in 0..1");
    expect(((await fail(['source', '--db', path.join(here, 'missing.db')])) as Error).message).to.match(/missing\.db/);
    const both = (await fail(['source', '--db', 'x.db', '--generate'])) as Error;
    expect(both).to.be.instanceOf(UsageError);
    expect(both.message).to.equal("source: option '--db <file>' cannot be used with option '--generate'");
  });

  it('serves a generated dataset on the port it prints and stops on SIGTERM', async function () {
    this.timeout(20_000);
    const { child, url } = await spawnSourceProcess(['--generate', '--cars', '5', '--customers', '2', '--subscriptions', '3', '--port', '0']);
    const subs = (await (await fetch(`${url}/subscriptions/`)).json()) as unknown[];
    expect(subs).to.have.length(3);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).to.equal(0);
  });

  it('loads the sample source and none of the scheduler but the command definitions', async function () {
    this.timeout(20_000);
    const file = path.join(tmp.dir, 'imports.txt');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', './test/helpers/recordImports.mjs', 'bin/drivetrain.ts', 'source', '--generate', '--port', '0'],
      { cwd: repo, env: { ...process.env, DT_IMPORTS_FILE: file }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    while (!out.includes('"url"')) {
      if (child.exitCode !== null) throw new Error(`source exited with ${child.exitCode}: ${out}`);
      await once(child.stdout, 'data');
    }
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).to.equal(0);
    const ours = repoModulesLoaded(file, repo);
    expect(ours).to.include(path.join('source', 'server.ts'));
    expect(ours.filter((f) => f.startsWith(`scheduler${path.sep}`))).to.deep.equal(SCHEDULER_DEFINITION_MODULES);
    expect(recordedImports(file).filter((u) => /node_modules\/(sequelize|winston|zod)\//.test(u))).to.deep.equal([]);
  });
});
