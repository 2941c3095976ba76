import { expect } from 'chai';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgram, parseCommandLine } from '../../scheduler/cli/program.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { addSourceCommand } from '../../source/cli.js';
import { spawnSourceProcess } from '../../source/spawnSource.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('drivetrain source command', () => {
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

});
