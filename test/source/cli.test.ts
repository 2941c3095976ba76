import { expect } from 'chai';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../source/cli.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { spawnSourceProcess } from '../../source/spawnSource.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('drivetrain source command', () => {
  it('refuses to start without a data source or with a bad flag value, quoting it', async () => {
    const fail = (argv: string[]) => main(argv).then(() => undefined, (e: unknown) => e);
    expect(await fail(['source'])).to.be.instanceOf(UsageError);
    const bad = (await fail(['source', '--generate', '--fail-rate', '2'])) as Error;
    expect(bad).to.be.instanceOf(UsageError);
    expect(bad.message).to.equal("--fail-rate '2' is not a share in 0..1");
    expect(((await fail(['source', '--db', path.join(here, 'missing.db')])) as Error).message).to.match(/missing\.db/);
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
